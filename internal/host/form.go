package host

import (
	"github.com/gitrelay/gitrelay/internal/relay"
)

// Describer is implemented by adapters that describe their kind's
// integration form (label, base URL, options, credential fields, servers
// without PATs). An adapter without it gets relay.DefaultKindForm.
type Describer interface {
	Form() relay.KindForm
}

var _ relay.KindForms = (*Registry)(nil)

// KindForm implements relay.KindForms. Lists are never nil (the API
// document says arrays), and a fixed New token page is filled in from the
// adapter.
func (r *Registry) KindForm(kind relay.Kind) relay.KindForm {
	a, ok := r.adapters[kind]
	if !ok {
		return relay.DefaultKindForm(kind)
	}
	d, ok := a.(Describer)
	if !ok {
		return relay.DefaultKindForm(kind)
	}
	f := d.Form()
	f.Kind = kind
	if f.Label == "" {
		f.Label = string(kind)
	}
	if f.Options == nil {
		f.Options = []relay.FormOption{}
	}
	for i := range f.Options {
		if f.Options[i].Choices == nil {
			f.Options[i].Choices = []string{}
		}
	}
	if len(f.Credential) == 0 {
		f.Credential = []relay.CredentialField{relay.TokenField}
	}
	if f.NoPAT.Values == nil {
		f.NoPAT.Values = []string{}
	}
	if f.NoPAT.Credential == nil {
		f.NoPAT.Credential = []relay.CredentialField{}
	}
	if f.NewTokenURL == "" && !f.BaseURL {
		f.NewTokenURL = a.NewTokenURL(relay.HostConfig{Kind: kind}, "gitrelay")
	}
	return f
}
