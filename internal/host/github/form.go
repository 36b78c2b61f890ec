package github

import "github.com/gitrelay/gitrelay/internal/relay"

// Form describes the integration form of GitHub.com and GitHub Enterprise
// Server.
func (a *adapter) Form() relay.KindForm {
	if a.kind == KindCloud {
		return relay.KindForm{Label: "GitHub.com"}
	}
	return relay.KindForm{Label: "GitHub Enterprise Server", BaseURL: true, BaseURLHint: "https://github.example.com"}
}
