package gitlab_test

import (
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/gitlab"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

func TestMergeRequestsAreReadIncrementallyWithETags(t *testing.T) {
	hosttest.RunPullRequests(t, hosttest.Env{
		DraftsNeverRefused: true,
		Serve:              (*hostsim.Sim).GitLab,
		Adapter: func(u string) (host.Adapter, relay.HostConfig) {
			return gitlab.Cloud(gitlab.WithURL(u)), relay.HostConfig{Kind: gitlab.KindCloud}
		},
		Full: apiToken,
	}, true)
}
