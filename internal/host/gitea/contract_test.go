package gitea_test

import (
	"net/http"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/gitea"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var limited = []hosttest.Limited{
	{Name: "a token with read-only repository access", Code: relay.EScopeMissing,
		Token: hostsim.Token{Scopes: []string{"read:repository", "read:user"}}},
	{Name: "a token limited to public repositories", Code: relay.EScopeMissing,
		Token: hostsim.Token{Scopes: []string{"write:repository", "read:user", "public-only"}}},
}

func serve(s *hostsim.Sim) http.Handler { return s.Gitea() }

func TestContractScopedToken(t *testing.T) {
	hosttest.Run(t, hosttest.Env{
		AcceptsEmptyPullRequests: true,
		DraftsNeverRefused:       true,
		Serve:                    serve,
		Adapter: func(u string) (host.Adapter, relay.HostConfig) {
			return gitea.New(), relay.HostConfig{Kind: gitea.Kind, BaseURL: u}
		},
		Full:    hostsim.Token{Scopes: []string{"write:repository", "read:user"}},
		Limited: limited,
		Hooks: &hosttest.Hooks{Token: hostsim.Token{Scopes: []string{"write:repository", "read:user"}}, Events: []string{"push", "pull_request"},
			Lacking: &hostsim.Token{Scopes: []string{"read:repository", "read:user"}}},
	})
}

// Tokens made before Gitea 1.19 have no scopes and may do all their
// account may; administrators also paste the API root as the base URL.
func TestContractUnscopedTokenAndAPIRootURL(t *testing.T) {
	hosttest.Run(t, hosttest.Env{
		AcceptsEmptyPullRequests: true,
		DraftsNeverRefused:       true,
		Serve:                    serve,
		Adapter: func(u string) (host.Adapter, relay.HostConfig) {
			return gitea.New(), relay.HostConfig{Kind: gitea.Kind, BaseURL: u + "/api/v1/"}
		},
		Full:    hostsim.Token{},
		Limited: limited,
		Hooks:   &hosttest.Hooks{Token: hostsim.Token{}, Events: []string{"push", "pull_request"}},
	})
}

// The in-process transport serves the same API as a socket, and links use
// the integration's address.
func TestInProcess(t *testing.T) {
	sim := hostsim.New()
	defer sim.Close()
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Writers: []string{"alice"}})
	sim.AddToken(hostsim.Token{Value: "canary-inprocess", Login: "alice", Scopes: []string{"write:repository", "read:user"}})
	c, err := gitea.New().NewClient(
		relay.HostConfig{Kind: gitea.Kind, BaseURL: "https://gitea.example.com"},
		relay.TokenCredential("canary-inprocess"),
		&http.Client{Transport: sim.GiteaTransport()},
	)
	if err != nil {
		t.Fatal(err)
	}
	repos, err := c.Repositories(t.Context(), "")
	if err != nil || len(repos) != 1 || repos[0].WebURL != "https://gitea.example.com/acme/widgets" {
		t.Fatalf("Repositories = %+v, %v; want acme/widgets on gitea.example.com", repos, err)
	}
	b, err := c.CreateBranch(t.Context(), repos[0], "ABC-1/fix", sim.Branches("acme/widgets")["main"])
	if err != nil || b.URL != "https://gitea.example.com/acme/widgets/src/branch/ABC-1/fix" {
		t.Fatalf("CreateBranch = %+v, %v", b, err)
	}
}
