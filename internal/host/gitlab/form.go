package gitlab

import "github.com/gitrelay/gitrelay/internal/relay"

// Form describes the integration form of GitLab.com and GitLab
// self-managed.
func (a *adapter) Form() relay.KindForm {
	if a.kind == KindCloud {
		return relay.KindForm{Label: "GitLab.com"}
	}
	return relay.KindForm{Label: "GitLab self-managed", BaseURL: true, BaseURLHint: "https://gitlab.example.com"}
}
