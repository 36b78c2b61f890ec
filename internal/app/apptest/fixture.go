package apptest

import (
	"github.com/gitrelay/gitrelay/internal/app"
	"net/http"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// Fixture describes one host kind to the end-to-end harness, so that the
// same behaviour tests run against every kind through its simulator
// front-end.
type Fixture struct {
	Kind relay.Kind
	// Name tells fixtures of one kind apart in test names (default Kind).
	Name string
	// Serve is the simulator front-end for this kind.
	Serve func(sim *hostsim.Sim) http.Handler
	// Integration is the create-integration body for a host at hostURL,
	// without "name", "credential", "require_user_pat" and "projects".
	Integration func(hostURL string) map[string]any
	// Credential is the JSON credential (integration or user PAT) for a
	// simulator token value.
	Credential func(token string) map[string]string
	// FullScopes are the scopes a token able to do everything has on this
	// host (nil when the host does not report scopes).
	FullScopes []string
	// WeakToken adds to sim a token that the host accepts but that cannot
	// create branches, and names the code saving it must answer
	// (token_insufficient_scope where the host reports scopes). Empty
	// code: the host cannot tell at save time; skip that scenario.
	WeakToken func(sim *hostsim.Sim, value, login string) (code string)
	// BranchURLContains is a fragment of a created branch's web URL.
	BranchURLContains func(branch string) string
	// Endpoints, for hosted kinds that take no base URL (github, gitlab),
	// points gitrelay at the simulator at hostURL.
	Endpoints func(hostURL string) app.Endpoints
	// GitLayout is how the host names its repositories' git URLs, for the
	// simulator's git server (Options.Index).
	GitLayout hostsim.Layout
}

// GitHubEnterprise is the fixture of kind github-enterprise.
func GitHubEnterprise() Fixture {
	return Fixture{
		Kind:  "github-enterprise",
		Serve: func(sim *hostsim.Sim) http.Handler { return sim.Handler() },
		Integration: func(hostURL string) map[string]any {
			return map[string]any{"kind": "github-enterprise", "base_url": hostURL}
		},
		Credential: func(token string) map[string]string { return map[string]string{"token": token} },
		FullScopes: []string{"repo"},
		WeakToken: func(sim *hostsim.Sim, value, login string) string {
			sim.AddToken(hostsim.Token{Value: value, Login: login, Scopes: []string{"gist"}})
			return relay.ETokenInsufficientScope
		},
		BranchURLContains: func(branch string) string { return "/acme/widgets/tree/" + branch },
	}
}

// GitHubCom is the fixture of kind github (GitHub.com), which takes no base
// URL: the harness points it at the simulator through
// app.Config.GitHubAPIURL.
func GitHubCom() Fixture {
	f := GitHubEnterprise()
	f.Kind = "github"
	f.Serve = func(sim *hostsim.Sim) http.Handler { return sim.GitHub() }
	f.Integration = func(string) map[string]any { return map[string]any{"kind": "github"} }
	f.Endpoints = func(hostURL string) app.Endpoints { return app.Endpoints{GitHubAPIURL: hostURL} }
	return f
}

// Fixtures lists every host kind the harness knows.
func Fixtures() []Fixture {
	return []Fixture{
		GitHubEnterprise(), GitHubCom(),
		AzureDevOps(), VSTS(), TFS("2017"), TFS("2022"),
		Gitea(),
		GitLabSelfManaged(), GitLabCom(),
		CodeCommit(),
	}
}

// Label is the fixture's name in test output.
func (f Fixture) Label() string {
	if f.Name != "" {
		return f.Name
	}
	return string(f.Kind)
}

// Token is a simulator token for bob with the kind's full scopes.
func (f Fixture) Token(value string) hostsim.Token {
	return hostsim.Token{Value: value, Login: BobLogin, Name: "Bob Builder", Scopes: f.FullScopes}
}
