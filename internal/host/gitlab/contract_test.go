package gitlab_test

import (
	"net/http"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/gitlab"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var (
	apiToken = hostsim.Token{Scopes: []string{"api"}}

	// A project's webhooks need the Maintainer role and the api scope.
	contractHooks = &hosttest.Hooks{Token: apiToken, Events: []string{"push_events", "merge_requests_events"},
		Lacking: &hostsim.Token{Scopes: []string{"read_api"}}}

	limited = []hosttest.Limited{
		{Name: "a read_api token", Code: relay.EScopeMissing,
			Token: hostsim.Token{Scopes: []string{"read_api"}}},
		{Name: "a token for git over HTTP only", Code: relay.EScopeMissing,
			Token: hostsim.Token{Scopes: []string{"read_user", "read_repository", "write_repository"}}},
	}
)

func TestContractGitLabCom(t *testing.T) {
	hosttest.Run(t, hosttest.Env{
		AcceptsEmptyPullRequests: true,
		DraftsNeverRefused:       true,
		ExpiryIsDate:             true,
		Serve:                    (*hostsim.Sim).GitLab,
		Adapter: func(u string) (host.Adapter, relay.HostConfig) {
			return gitlab.Cloud(gitlab.WithURL(u)), relay.HostConfig{Kind: gitlab.KindCloud}
		},
		Full:          apiToken,
		Limited:       limited,
		ReportsScopes: true,
		ReportsExpiry: true,
		Hooks:         contractHooks,
	})
}

// A server under a relative root, with the API root pasted as the base URL.
func TestContractSelfManagedUnderRelativeRoot(t *testing.T) {
	hosttest.Run(t, hosttest.Env{
		AcceptsEmptyPullRequests: true,
		DraftsNeverRefused:       true,
		ExpiryIsDate:             true,
		Serve:                    func(s *hostsim.Sim) http.Handler { return s.GitLabUnder("/gitlab") },
		Adapter: func(u string) (host.Adapter, relay.HostConfig) {
			return gitlab.SelfManaged(), relay.HostConfig{Kind: gitlab.KindSelfManaged, BaseURL: u + "/gitlab/api/v4/"}
		},
		Full:          apiToken,
		Limited:       limited,
		ReportsScopes: true,
		ReportsExpiry: true,
		Hooks:         contractHooks,
	})
}
