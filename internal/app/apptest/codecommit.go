package apptest

import (
	"net/http"

	"github.com/gitrelay/gitrelay/internal/host/codecommit"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
)

// CodeCommit is the fixture of kind codecommit. The simulator serves the
// CodeCommit and STS endpoints at the same address; a token value stands
// for an IAM access key pair (hostsim.AccessKeyPair), and its Scopes are
// the IAM actions the user's policies allow. Its git server stands for
// the region eu-west-1's git endpoint.
func CodeCommit() Fixture {
	return Fixture{
		Kind:      codecommit.Kind,
		Serve:     func(sim *hostsim.Sim) http.Handler { return sim.CodeCommit() },
		GitLayout: hostsim.LayoutCodeCommit,
		Integration: func(hostURL string) map[string]any {
			return map[string]any{"kind": "codecommit", "options": map[string]string{
				"region": "eu-west-1", "endpoint": hostURL, "sts_endpoint": hostURL,
			}}
		},
		Credential: func(token string) map[string]string {
			id, secret := hostsim.AccessKeyPair(token)
			return map[string]string{"access_key_id": id, "secret_access_key": secret}
		},
		FullScopes: codecommit.IAMActions(),
		// AWS does not let a key read its own permissions: a key that may
		// not create branches is accepted when saved and refused at its
		// first write.
		WeakToken: func(sim *hostsim.Sim, value, login string) string {
			sim.AddToken(hostsim.Token{Value: value, Login: login, Scopes: []string{"codecommit:ListRepositories", "codecommit:GetRepository"}})
			return ""
		},
		BranchURLContains: func(branch string) string {
			return "/repositories/widgets/browse/refs/heads/" + branch + "?region=eu-west-1"
		},
	}
}
