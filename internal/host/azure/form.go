package azure

import (
	"slices"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// noPATWarning says what Require User PAT means on a server without PATs.
const noPATWarning = "This server version has no personal access tokens: with Require User PAT ticked, users will not be able to create or delete branches or create pull requests through this integration."

// Form describes the integration forms of Azure DevOps Services, VSTS and
// TFS / Azure DevOps Server, whose versions before 2017 have no personal
// access tokens: their integration account signs in with a username and
// password.
func (a *adapter) Form() relay.KindForm {
	switch a.kind {
	case KindServices:
		return relay.KindForm{Label: "Azure DevOps Services", BaseURL: true, BaseURLHint: "https://dev.azure.com/your-org"}
	case KindVSTS:
		return relay.KindForm{Label: "Visual Studio Team Services", BaseURL: true, BaseURLHint: "https://account.visualstudio.com"}
	}
	versions := knownVersions()
	slices.Reverse(versions) // newest first: the usual choice
	var noPAT []string
	for _, v := range versions {
		// Asked of Capabilities, so that the form and the policy agree.
		cfg := relay.HostConfig{Kind: KindServer, BaseURL: "https://tfs.example.com", Options: map[string]string{OptServerVersion: v}}
		if !a.Capabilities(cfg).PAT {
			noPAT = append(noPAT, v)
		}
	}
	return relay.KindForm{Label: "Team Foundation Server / Azure DevOps Server", BaseURL: true, BaseURLHint: "https://tfs.example.com",
		Options: []relay.FormOption{
			{Key: OptSuffix, Label: "Path suffix", Hint: "Usually " + defaultSuffix, Default: defaultSuffix},
			{Key: OptCollection, Label: "Collection", Hint: "e.g. " + defaultCollection, Default: defaultCollection},
			{Key: OptServerVersion, Label: "Server version", Default: versions[0], Choices: versions},
		},
		NoPAT: relay.NoPATRule{Option: OptServerVersion, Values: noPAT, Warning: noPATWarning,
			Credential: []relay.CredentialField{
				{Name: "username", Label: "Username"},
				{Name: "password", Label: "Password", Secret: true},
			}},
	}
}
