package codecommit_test

import (
	"net/http"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/codecommit"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// credential turns a simulator token into the access key pair it stands
// for.
func credential(token string) relay.Credential {
	id, secret := hostsim.AccessKeyPair(token)
	return relay.AccessKeyCredential(id, secret)
}

// simulated points the adapter's CodeCommit and STS endpoints at the
// simulator.
func simulated(u string) (host.Adapter, relay.HostConfig) {
	return codecommit.New(), relay.HostConfig{Kind: codecommit.Kind, Options: map[string]string{
		"region": "eu-west-1", "endpoint": u, "sts_endpoint": u,
	}}
}

func without(actions []string, drop string) []string {
	var out []string
	for _, a := range actions {
		if a != drop {
			out = append(out, a)
		}
	}
	return out
}

func TestContract(t *testing.T) {
	hosttest.Run(t, hosttest.Env{
		AcceptsEmptyPullRequests: true,
		NoDisplayName:            true,
		Serve:                    func(s *hostsim.Sim) http.Handler { return s.CodeCommit() },
		Adapter:                  simulated,
		Credential:               credential,
		Full:                     hostsim.Token{Scopes: codecommit.IAMActions()},
		Limited: []hosttest.Limited{
			{Name: "a key whose policies lack codecommit:CreateBranch", Code: relay.EScopeMissing,
				Token: hostsim.Token{Scopes: without(codecommit.IAMActions(), "codecommit:CreateBranch")}},
			{Name: "a key with read-only policies", Code: relay.EScopeMissing,
				Token: hostsim.Token{Scopes: []string{"codecommit:ListRepositories", "codecommit:BatchGetRepositories", "codecommit:GetRepository", "codecommit:GetBranch"}}},
		},
		ReportsScopes: false, // AWS does not let a key read its own permissions
		ReportsExpiry: false, // long-term access keys do not expire
	})
}
