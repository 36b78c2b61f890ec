package github_test

import (
	"net/http"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
)

func TestPullRequestsAreReadIncrementallyWithETags(t *testing.T) {
	hosttest.RunPullRequests(t, hosttest.Env{
		Serve:   func(s *hostsim.Sim) http.Handler { return s.GitHub() },
		Adapter: cloud,
		Full:    classic,
	}, true)
}
