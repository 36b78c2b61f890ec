package app_test

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// FuzzCheckConfig feeds arbitrary host settings to every registered host
// kind: each is refused with a field error that says what to change, or
// normalised to settings that normalise to themselves, whose addresses are
// absolute http(s) URLs without credentials, query or fragment, and from
// which a client can be built without contacting the host.
func FuzzCheckConfig(f *testing.F) {
	reg := host.NewRegistry(nil, app.Adapters(app.Endpoints{})...)
	kinds := reg.Kinds()
	for i, c := range []struct{ base, opts string }{
		{"https://git.example.com", ""},
		{"https://GitHub.example.com/api/v3/", ""},
		{"https://gitlab.example.com/gitlab/api/v4", ""},
		{"https://dev.azure.com/fabrikam/project/_git/repo", ""},
		{"https://fabrikam.visualstudio.com/DefaultCollection", ""},
		{"https://tfs.example.com/tfs/DefaultCollection", "server_version=2018\nsuffix=/tfs\ncollection=DefaultCollection"},
		{"http://tfs.example.com:8080", "server_version=2013\nsuffix=\ncollection=Main"},
		{"", "region=eu-west-1\nendpoint=https://codecommit-fips.eu-west-1.amazonaws.com\nsts_endpoint=http://127.0.0.1:9000/"},
		{"https://user:pw@git.example.com/?q#f", "region=EU-WEST-1"},
		{"https://gitea.example.com/api/v1", "unknown=1"},
		{"https://git.example.com/api/v3/api/v3/api/v4/api/v4/api/v1/api/v1", ""},
		{"https://tfs.example.com/tfs/tfs/Main/Main", "server_version=2017\ncollection=Main"},
		{"https://dev.azure.com/_apis/x", ""},
	} {
		for j := range kinds {
			f.Add(uint8(i+j), c.base, c.opts)
		}
	}
	f.Fuzz(func(t *testing.T, k uint8, base, opts string) {
		kind := kinds[int(k)%len(kinds)]
		if k >= 200 { // also kinds nobody registered
			kind = relay.Kind(opts)
		}
		cfg := relay.HostConfig{Kind: kind, BaseURL: base, Options: parseOptions(opts)}
		out, err := reg.CheckConfig(cfg)
		if err != nil {
			e, ok := relay.AsError(err)
			if !ok || e.Code != relay.EInvalid || len(e.Fields) != 1 {
				t.Fatalf("CheckConfig(%+v) error %#v is not one field error", cfg, err)
			}
			for field, msg := range e.Fields {
				if field != "kind" && field != "base_url" && field != "options" || msg == "" {
					t.Fatalf("CheckConfig(%+v) error field %q: %q", cfg, field, msg)
				}
			}
			return
		}
		if out.Kind != kind {
			t.Fatalf("CheckConfig(%+v) changed the kind to %q", cfg, out.Kind)
		}
		again, err := reg.CheckConfig(out)
		if err != nil || !reflect.DeepEqual(again, out) {
			t.Fatalf("CheckConfig is not a fixed point: %+v → %+v → %+v, %v", cfg, out, again, err)
		}
		if out.BaseURL != "" {
			checkAddress(t, "base_url", out.BaseURL)
		}
		for name, v := range out.Options {
			if strings.Contains(name, "endpoint") {
				checkAddress(t, "options."+name, v)
			}
		}
		_ = reg.Capabilities(out)
		if u := reg.NewTokenURL(out, "gitrelay"); u != "" {
			checkAddress(t, "token page", u)
		}
		cred := relay.NewCredential("tok", "user", "pw", "AKIAIOSFODNN7EXAMPLE", "secret")
		if _, err := reg.Client(out, cred); err != nil {
			if _, ok := relay.AsError(err); !ok {
				t.Fatalf("Client(%+v) error %v is not a relay error", out, err)
			}
		}
	})
}

// parseOptions reads "name=value" lines; a line without "=" is a name with
// an empty value.
func parseOptions(s string) map[string]string {
	if s == "" {
		return nil
	}
	m := map[string]string{}
	for line := range strings.SplitSeq(s, "\n") {
		name, value, _ := strings.Cut(line, "=")
		m[name] = value
	}
	return m
}

func checkAddress(t *testing.T, what, s string) {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Opaque != "" {
		t.Fatalf("%s %q is not an absolute http(s) address without user info (%v)", what, s, err)
	}
	// Token pages are the host's own, pre-filled through query and fragment.
	if what != "token page" && (u.RawQuery != "" || u.ForceQuery || u.Fragment != "") {
		t.Fatalf("%s %q has a query or a fragment", what, s)
	}
}
