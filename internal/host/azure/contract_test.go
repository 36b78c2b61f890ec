package azure_test

import (
	"net/http"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/azure"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var (
	codeWrite = hostsim.Token{Scopes: []string{"vso.code_write"}}

	// Azure DevOps answers 401 for a token whose scopes do not cover a
	// call; the adapter tells that from a dead token by asking who the
	// token is.
	// Service hooks need the Service Hooks (Read & write) scope and, in
	// the simulator, admin rights on the repository's project.
	contractHooks = &hosttest.Hooks{Token: hostsim.Token{Scopes: []string{"vso.code_write", "vso.hooks_write"}},
		Events:  []string{"git.push", "git.pullrequest.created", "git.pullrequest.updated", "git.pullrequest.merged"},
		Lacking: &codeWrite,
		Secret:  func(secret string) relay.Credential { return relay.PasswordCredential("gitrelay", secret) }}

	limited = []hosttest.Limited{
		{Name: "a token with Code (Read) only", Code: relay.EScopeMissing,
			Token: hostsim.Token{Scopes: []string{"vso.code"}}},
		{Name: "a token without any Code scope", Code: relay.EScopeMissing,
			Token: hostsim.Token{Scopes: []string{"vso.work_write"}}},
	}
)

func serve(s *hostsim.Sim) http.Handler { return s.Azure() }

func TestContract(t *testing.T) {
	for _, tc := range []struct {
		name    string
		adapter func(u string) (host.Adapter, relay.HostConfig)
	}{
		{"azure-devops organization behind a proxy path", func(u string) (host.Adapter, relay.HostConfig) {
			return azure.Services(), relay.HostConfig{Kind: azure.KindServices, BaseURL: u + "/fabrikam"}
		}},
		{"vsts account at the root", func(u string) (host.Adapter, relay.HostConfig) {
			return azure.VSTS(), relay.HostConfig{Kind: azure.KindVSTS, BaseURL: u}
		}},
		{"tfs 2017 with the default suffix and collection", func(u string) (host.Adapter, relay.HostConfig) {
			return azure.Server(), relay.HostConfig{Kind: azure.KindServer, BaseURL: u, Options: map[string]string{"server_version": "2017"}}
		}},
		{"tfs 2018 pasted as the collection's address", func(u string) (host.Adapter, relay.HostConfig) {
			return azure.Server(), relay.HostConfig{Kind: azure.KindServer, BaseURL: u + "/tfs/Fabrikam",
				Options: map[string]string{"server_version": "2018", "collection": "Fabrikam"}}
		}},
		{"azure devops server 2019 without a suffix", func(u string) (host.Adapter, relay.HostConfig) {
			return azure.Server(), relay.HostConfig{Kind: azure.KindServer, BaseURL: u,
				Options: map[string]string{"server_version": "2019", "suffix": ""}}
		}},
		{"azure devops server 2022", func(u string) (host.Adapter, relay.HostConfig) {
			return azure.Server(), relay.HostConfig{Kind: azure.KindServer, BaseURL: u,
				Options: map[string]string{"server_version": "2022", "suffix": "/tfs", "collection": "DefaultCollection"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hosttest.Run(t, hosttest.Env{
				AcceptsEmptyPullRequests: true,
				Serve:                    serve,
				Adapter:                  tc.adapter,
				Full:                     codeWrite,
				Limited:                  limited,
				Hooks:                    contractHooks,
			})
		})
	}
}

// passwordServerHooks: TFS 2015 has service hooks, TFS 2013 none.
var passwordServerHooks = map[string]*hosttest.Hooks{
	"2013": {Refused: relay.EInvalid},
	"2015": {Token: hostsim.Token{}, Events: contractHooks.Events, Secret: contractHooks.Secret},
}

// TFS 2013 and 2015 have no personal access tokens: the integration account
// signs in with its user name and password.
func TestContractPasswordServers(t *testing.T) {
	for _, version := range []string{"2013", "2015"} {
		t.Run(version, func(t *testing.T) {
			hosttest.Run(t, hosttest.Env{
				AcceptsEmptyPullRequests: true,
				Serve:                    serve,
				Adapter: func(u string) (host.Adapter, relay.HostConfig) {
					return azure.Server(), relay.HostConfig{Kind: azure.KindServer, BaseURL: u, Options: map[string]string{"server_version": version}}
				},
				Credential: func(password string) relay.Credential {
					return relay.PasswordCredential(`FABRIKAM\relay`, password)
				},
				Full:  hostsim.Token{},
				Hooks: passwordServerHooks[version],
			})
		})
	}
}
