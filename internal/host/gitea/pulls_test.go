package gitea_test

import (
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/gitea"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

func TestPullRequestsAreReadIncrementally(t *testing.T) {
	hosttest.RunPullRequests(t, hosttest.Env{
		DraftsNeverRefused: true,
		Serve:              serve,
		Adapter: func(u string) (host.Adapter, relay.HostConfig) {
			return gitea.New(), relay.HostConfig{Kind: gitea.Kind, BaseURL: u}
		},
		Full: hostsim.Token{Scopes: []string{"write:repository", "read:user"}},
	}, false)
}
