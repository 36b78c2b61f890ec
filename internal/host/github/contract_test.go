package github_test

import (
	"net/http"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/github"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var (
	classic     = hostsim.Token{Scopes: []string{"repo", "read:org"}}
	fineGrained = hostsim.Token{Permissions: map[string]string{"contents": "write", "pull_requests": "write"}}

	// The repo scope covers a repository's webhooks; a fine-grained token
	// needs the Webhooks permission besides.
	classicHooks = &hosttest.Hooks{Token: classic, Events: []string{"push", "pull_request"},
		Lacking: &hostsim.Token{Permissions: map[string]string{"contents": "write", "pull_requests": "write"}}}
	fineGrainedHooks = &hosttest.Hooks{Events: []string{"push", "pull_request"},
		Token:   hostsim.Token{Permissions: map[string]string{"contents": "write", "pull_requests": "write", "webhooks": "write"}},
		Lacking: &hostsim.Token{Permissions: map[string]string{"contents": "write", "pull_requests": "write", "webhooks": "read"}}}

	limited = []hosttest.Limited{
		{Name: "a fine-grained token with read-only contents", Code: relay.EScopeMissing,
			Token: hostsim.Token{Permissions: map[string]string{"contents": "read", "pull_requests": "write"}}},
		{Name: "a classic token with public_repo only", Code: relay.ENotFound, // GitHub hides private repositories
			Token: hostsim.Token{Scopes: []string{"public_repo"}}},
		{Name: "a classic token without scopes", Code: relay.ENotFound,
			Token: hostsim.Token{Scopes: []string{}}},
	}
)

func cloud(u string) (host.Adapter, relay.HostConfig) {
	return github.Cloud(github.WithAPIURL(u)), relay.HostConfig{Kind: github.KindCloud}
}

func TestContractCloudClassicToken(t *testing.T) {
	hosttest.Run(t, hosttest.Env{
		Serve:         func(s *hostsim.Sim) http.Handler { return s.GitHub() },
		Adapter:       cloud,
		Full:          classic,
		Limited:       limited,
		ReportsScopes: true,
		ReportsExpiry: true,
		Hooks:         classicHooks,
	})
}

func TestContractCloudFineGrainedToken(t *testing.T) {
	hosttest.Run(t, hosttest.Env{
		Serve:         func(s *hostsim.Sim) http.Handler { return s.GitHub() },
		Adapter:       cloud,
		Full:          fineGrained,
		Limited:       limited,
		ReportsScopes: true, // as nil: GitHub does not report a fine-grained token's permissions
		ReportsExpiry: true,
		Hooks:         fineGrainedHooks,
	})
}

func TestContractEnterprise(t *testing.T) {
	hosttest.Run(t, hosttest.Env{
		Serve: func(s *hostsim.Sim) http.Handler { return s.GitHubEnterprise() },
		Adapter: func(u string) (host.Adapter, relay.HostConfig) {
			// Admins paste the API root as often as the server's address.
			return github.Enterprise(), relay.HostConfig{Kind: github.KindEnterprise, BaseURL: u + "/api/v3/"}
		},
		Full:          classic,
		Limited:       limited,
		ReportsScopes: true,
		ReportsExpiry: true,
		Hooks:         classicHooks,
	})
}

// The in-process transport serves the same API as a socket.
func TestContractEnterpriseInProcess(t *testing.T) {
	sim := hostsim.New()
	defer sim.Close()
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Writers: []string{"alice"}})
	sim.AddToken(hostsim.Token{Value: "canary-inprocess", Login: "alice", Scopes: []string{"repo"}})
	c, err := github.Enterprise().NewClient(
		relay.HostConfig{Kind: github.KindEnterprise, BaseURL: "https://ghe.example.com"},
		relay.TokenCredential("canary-inprocess"),
		&http.Client{Transport: sim.Transport()},
	)
	if err != nil {
		t.Fatal(err)
	}
	repos, err := c.Repositories(t.Context(), "")
	if err != nil || len(repos) != 1 || repos[0].WebURL != "https://ghe.example.com/acme/widgets" {
		t.Fatalf("Repositories = %+v, %v; want acme/widgets on ghe.example.com", repos, err)
	}
	b, err := c.CreateBranch(t.Context(), repos[0], "ABC-1", sim.Branches("acme/widgets")["main"])
	if err != nil || b.URL != "https://ghe.example.com/acme/widgets/tree/ABC-1" {
		t.Fatalf("CreateBranch = %+v, %v", b, err)
	}
}
