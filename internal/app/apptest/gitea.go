package apptest

import (
	"net/http"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// Gitea is the fixture of kind gitea (Gitea and Forgejo).
func Gitea() Fixture {
	return Fixture{
		Kind:  "gitea",
		Serve: func(sim *hostsim.Sim) http.Handler { return sim.Gitea() },
		Integration: func(hostURL string) map[string]any {
			return map[string]any{"kind": "gitea", "base_url": hostURL}
		},
		Credential: func(token string) map[string]string { return map[string]string{"token": token} },
		// Gitea scopes, which the host does not report to the token
		// itself: Validate leaves Account.Scopes nil.
		FullScopes: []string{"write:repository", "read:user"},
		// Gitea cannot tell a token its scopes, but the adapter's probe
		// finds a token without any repository scope when it is saved (a
		// read-only one shows only at its first write).
		WeakToken: func(sim *hostsim.Sim, value, login string) string {
			sim.AddToken(hostsim.Token{Value: value, Login: login, Scopes: []string{"read:user", "write:issue"}})
			return relay.ETokenInsufficientScope
		},
		BranchURLContains: func(branch string) string { return "/acme/widgets/src/branch/" + branch },
	}
}
