package apptest

import (
	"github.com/gitrelay/gitrelay/internal/app"
	"net/http"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// GitLabSelfManaged is the fixture of kind gitlab-self-managed: a GitLab
// server installed under the relative root /gitlab. (The gitlab kind,
// GitLab.com, takes no base URL; the contract suite covers it.)
func GitLabSelfManaged() Fixture {
	return Fixture{
		Kind:  "gitlab-self-managed",
		Serve: func(sim *hostsim.Sim) http.Handler { return sim.GitLabUnder("/gitlab") },
		Integration: func(hostURL string) map[string]any {
			return map[string]any{"kind": "gitlab-self-managed", "base_url": hostURL + "/gitlab"}
		},
		Credential: func(token string) map[string]string { return map[string]string{"token": token} },
		FullScopes: []string{"api"},
		// GitLab reports a token's scopes, so a read-only token is refused
		// when saved.
		WeakToken: func(sim *hostsim.Sim, value, login string) string {
			sim.AddToken(hostsim.Token{Value: value, Login: login, Scopes: []string{"read_api", "read_user"}})
			return relay.ETokenInsufficientScope
		},
		BranchURLContains: func(branch string) string { return "/gitlab/acme/widgets/-/tree/" + branch },
	}
}

// GitLabCom is the fixture of kind gitlab (GitLab.com), which takes no base
// URL: the harness points it at the simulator through app.Config.GitLabURL,
// as an operator would at an egress proxy.
func GitLabCom() Fixture {
	f := GitLabSelfManaged()
	f.Kind = "gitlab"
	f.Serve = func(sim *hostsim.Sim) http.Handler { return sim.GitLab() }
	f.Integration = func(string) map[string]any { return map[string]any{"kind": "gitlab"} }
	f.Endpoints = func(hostURL string) app.Endpoints { return app.Endpoints{GitLabURL: hostURL} }
	f.BranchURLContains = func(branch string) string { return "/acme/widgets/-/tree/" + branch }
	return f
}
