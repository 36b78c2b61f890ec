package relay

// KindForm describes what an administrator fills in to add an integration
// of one host kind, and what a user fills in to save a token for it. Each
// host adapter describes its own kind, so that the pages and the API render
// any kind without knowing it: adding a host kind is adding a package.
type KindForm struct {
	Kind  Kind   `json:"kind"`
	Label string `json:"label"`
	// BaseURL: the kind needs a base URL; BaseURLHint is an example of it.
	BaseURL     bool   `json:"base_url"`
	BaseURLHint string `json:"base_url_hint"`
	// Options are the kind's settings (HostConfig.Options), in the order
	// the form shows them.
	Options []FormOption `json:"options"`
	// Credential is what the integration account and a user's personal
	// access token are made of.
	Credential []CredentialField `json:"credential"`
	// NoPAT says which option values designate a server without personal
	// access tokens; its zero value means every server of the kind has
	// them.
	NoPAT NoPATRule `json:"no_pat"`
	// NewTokenURL is the host's page for a new token when it does not
	// depend on the integration's settings; "" otherwise (a user's token
	// page links to the integration's own).
	NewTokenURL string `json:"new_token_url"`
}

// FormOption is one setting of a kind. With Choices it is one of them
// (Default first when empty), otherwise free text.
type FormOption struct {
	Key     string   `json:"key"`
	Label   string   `json:"label"`
	Hint    string   `json:"hint"`
	Default string   `json:"default"`
	Choices []string `json:"choices"`
}

// CredentialField is one field of a credential, named as the forms and the
// API name it: token, username, password, access_key_id or
// secret_access_key. Secret fields are never shown again once sent.
type CredentialField struct {
	Name   string `json:"name"`
	Label  string `json:"label"`
	Secret bool   `json:"secret"`
}

// NoPATRule names the servers without personal access tokens: those whose
// option Option is one of Values. Their integration account signs in with
// Credential instead, and Warning says what Require User PAT means there.
type NoPATRule struct {
	Option     string            `json:"option"`
	Values     []string          `json:"values"`
	Credential []CredentialField `json:"credential"`
	Warning    string            `json:"warning"`
}

// Applies says whether options designate a server without PATs.
func (r NoPATRule) Applies(options map[string]string) bool {
	if r.Option == "" {
		return false
	}
	v := options[r.Option]
	for _, no := range r.Values {
		if v == no {
			return true
		}
	}
	return false
}

// CredentialFor is the credential the integration account of a server with
// these options signs in with.
func (f KindForm) CredentialFor(options map[string]string) []CredentialField {
	if f.NoPAT.Applies(options) {
		return f.NoPAT.Credential
	}
	return f.Credential
}

// TokenField is the one field of a personal access token.
var TokenField = CredentialField{Name: "token", Label: "Personal access token", Secret: true}

// DefaultKindForm describes a kind whose adapter does not describe itself:
// a base URL and a token.
func DefaultKindForm(kind Kind) KindForm {
	return KindForm{Kind: kind, Label: string(kind), BaseURL: true, BaseURLHint: "https://git.example.com",
		Options: []FormOption{}, Credential: []CredentialField{TokenField}, NoPAT: NoPATRule{Values: []string{}, Credential: []CredentialField{}}}
}

// KindForms gives the form of each host kind; host.Registry implements it.
type KindForms interface {
	KindForm(kind Kind) KindForm
}
