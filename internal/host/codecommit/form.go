package codecommit

import "github.com/gitrelay/gitrelay/internal/relay"

// Form describes the integration form of AWS CodeCommit: a region and an
// IAM access key pair (for the integration account and for each user).
// The endpoint overrides are for the API and tests, not the form.
func (adapter) Form() relay.KindForm {
	return relay.KindForm{Label: "AWS CodeCommit",
		Options: []relay.FormOption{{Key: OptRegion, Label: "Region", Hint: "e.g. eu-west-1"}},
		Credential: []relay.CredentialField{
			{Name: "access_key_id", Label: "Access key ID"},
			{Name: "secret_access_key", Label: "Secret access key", Secret: true},
		}}
}
