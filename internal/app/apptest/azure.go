package apptest

import (
	"net/http"
	"net/url"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// azureFixture is what the Azure DevOps kinds share: the simulator's Azure
// front-end, PAT credentials, scopes the host does not report, and branch
// pages at {repository}?version=GB{branch}. The test repository acme/widgets
// is the repository widgets of the project acme.
func azureFixture(kind relay.Kind, integration func(hostURL string) map[string]any) Fixture {
	return Fixture{
		Kind:        kind,
		Serve:       func(sim *hostsim.Sim) http.Handler { return sim.Azure() },
		Integration: integration,
		Credential:  func(token string) map[string]string { return map[string]string{"token": token} },
		// Azure DevOps does not tell a PAT's scopes; simulator tokens
		// without scopes may do everything.
		FullScopes: nil,
		// A token without Code (Read & write) validates like any other:
		// the host reveals the missing scope only when a write is refused.
		WeakToken: func(sim *hostsim.Sim, value, login string) string {
			sim.AddToken(hostsim.Token{Value: value, Login: login, Scopes: []string{"vso.code"}})
			return ""
		},
		BranchURLContains: func(branch string) string { return "/acme/_git/widgets?version=GB" + url.QueryEscape(branch) },
		GitLayout:         hostsim.LayoutAzure,
	}
}

// AzureDevOps is the fixture of kind azure-devops: an organization URL
// (here a path on the simulator, as a proxy would serve it).
func AzureDevOps() Fixture {
	return azureFixture("azure-devops", func(hostURL string) map[string]any {
		return map[string]any{"kind": "azure-devops", "base_url": hostURL + "/fabrikam"}
	})
}

// VSTS is the fixture of kind vsts: an account URL at the host's root.
func VSTS() Fixture {
	return azureFixture("vsts", func(hostURL string) map[string]any {
		return map[string]any{"kind": "vsts", "base_url": hostURL}
	})
}

// TFS is the fixture of kind tfs for a server version with personal access
// tokens (2017 or later), at the default /tfs suffix and DefaultCollection.
func TFS(version string) Fixture {
	f := azureFixture("tfs", func(hostURL string) map[string]any {
		return map[string]any{"kind": "tfs", "base_url": hostURL, "options": map[string]any{
			"suffix": "/tfs", "collection": "DefaultCollection", "server_version": version,
		}}
	})
	f.Name = "tfs-" + version
	return f
}

// TFSWithPassword is the fixture of kind tfs for TFS 2013 or 2015, which
// have no personal access tokens: every credential is a user name and
// password (the simulator checks the password as it would a token).
func TFSWithPassword(version string) Fixture {
	f := TFS(version)
	f.Credential = func(password string) map[string]string {
		return map[string]string{"username": `FABRIKAM\` + BotLogin, "password": password}
	}
	return f
}
