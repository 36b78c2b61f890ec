package app_test

import (
	"slices"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// Every adapter describes its own integration form, so the pages and the
// API know no host kind themselves.
func TestEveryAdapterDescribesItsForm(t *testing.T) {
	reg := host.NewRegistry(nil, app.Adapters(app.Endpoints{})...)
	for _, a := range app.Adapters(app.Endpoints{}) {
		if _, ok := a.(host.Describer); !ok {
			t.Errorf("%s: the adapter does not describe its form", a.Kind())
			continue
		}
		f := reg.KindForm(a.Kind())
		if f.Label == "" || f.Label == string(a.Kind()) {
			t.Errorf("%s: label %q, want the kind's human name", a.Kind(), f.Label)
		}
		if f.BaseURL != (f.BaseURLHint != "") {
			t.Errorf("%s: base URL %v with hint %q", a.Kind(), f.BaseURL, f.BaseURLHint)
		}
		if !f.BaseURL && a.Kind() != "codecommit" && f.NewTokenURL == "" {
			t.Errorf("%s: a kind at a fixed address gives no New token page", a.Kind())
		}
		for _, o := range f.Options {
			if len(o.Choices) > 0 && !slices.Contains(o.Choices, o.Default) {
				t.Errorf("%s: option %s defaults to %q, not one of its choices", a.Kind(), o.Key, o.Default)
			}
		}
	}
}

// The versions the form says have no PATs are exactly those the policy
// treats as such (Capabilities), and they sign in with a password.
func TestTFSFormAgreesWithCapabilities(t *testing.T) {
	reg := host.NewRegistry(nil, app.Adapters(app.Endpoints{})...)
	f := reg.KindForm("tfs")
	var versions []string
	for _, o := range f.Options {
		if o.Key == f.NoPAT.Option {
			versions = o.Choices
		}
	}
	if len(versions) == 0 {
		t.Fatalf("no choices for the option %q that decides PATs", f.NoPAT.Option)
	}
	for _, v := range versions {
		opts := map[string]string{f.NoPAT.Option: v}
		caps := reg.Capabilities(relay.HostConfig{Kind: "tfs", BaseURL: "https://tfs.example.com", Options: opts})
		if got := f.NoPAT.Applies(opts); got == caps.PAT {
			t.Errorf("TFS %s: form says no PATs = %v, capabilities say PAT = %v", v, got, caps.PAT)
		}
	}
	for _, want := range []string{"2013", "2015"} {
		if !f.NoPAT.Applies(map[string]string{f.NoPAT.Option: want}) {
			t.Errorf("TFS %s is not marked as having no PATs", want)
		}
	}
	if f.NoPAT.Warning == "" {
		t.Error("no warning for Require User PAT on a server without PATs")
	}
	names := []string{}
	for _, c := range f.NoPAT.Credential {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"username", "password"}) {
		t.Errorf("servers without PATs sign in with %v, want username and password", names)
	}
}

// GET /api/v1/kinds serves the same description (checked against the API
// document by apptest).
func TestKindsServeTheFormDescription(t *testing.T) {
	e := apptest.New(t, storetest.SQLite(t))
	reg := host.NewRegistry(nil, app.Adapters(app.Endpoints{})...)
	for _, k := range e.Do("GET", "/api/v1/kinds", e.Bob, nil).List() {
		want := reg.KindForm(relay.Kind(k["kind"].(string)))
		if k["label"] != want.Label {
			t.Errorf("%s: label %v, want %q", k["kind"], k["label"], want.Label)
		}
		if len(k["credential"].([]any)) != len(want.Credential) {
			t.Errorf("%s: credential %v, want %v", k["kind"], k["credential"], want.Credential)
		}
	}
}
