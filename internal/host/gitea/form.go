package gitea

import "github.com/gitrelay/gitrelay/internal/relay"

// Form describes the integration form of Gitea and Forgejo.
func (a *adapter) Form() relay.KindForm {
	return relay.KindForm{Label: "Gitea / Forgejo", BaseURL: true, BaseURLHint: "https://gitea.example.com"}
}
