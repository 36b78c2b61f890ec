package gitea_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host/gitea"
	"github.com/gitrelay/gitrelay/internal/relay"
)

func TestCheckConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     relay.HostConfig
		want    string // normalised base URL
		field   string // field refused, when it is
		problem string
	}{
		{"the server's address", relay.HostConfig{Kind: gitea.Kind, BaseURL: "https://Code.Example.org/"}, "https://code.example.org", "", ""},
		{"a sub-path", relay.HostConfig{BaseURL: "https://example.org/git"}, "https://example.org/git", "", ""},
		{"the API root pasted", relay.HostConfig{BaseURL: "https://code.example.org/api/v1/"}, "https://code.example.org", "", ""},
		{"the swagger page pasted", relay.HostConfig{BaseURL: "https://code.example.org/git/api/swagger"}, "https://code.example.org/git", "", ""},
		{"plain http for a test server", relay.HostConfig{BaseURL: "http://127.0.0.1:3000"}, "http://127.0.0.1:3000", "", ""},
		{"no address", relay.HostConfig{Kind: gitea.Kind}, "", "base_url", "Enter the address"},
		{"options", relay.HostConfig{BaseURL: "https://code.example.org", Options: map[string]string{"region": "x"}}, "", "options", "no options"},
		{"another kind", relay.HostConfig{Kind: "gitlab", BaseURL: "https://code.example.org"}, "", "kind", "gitlab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := gitea.New().CheckConfig(tc.cfg)
			if tc.field == "" {
				if err != nil || got.BaseURL != tc.want || got.Kind != gitea.Kind {
					t.Errorf("CheckConfig = %+v, %v; want base URL %q", got, err, tc.want)
				}
				return
			}
			e, ok := relay.AsError(err)
			if !ok || e.Code != relay.EInvalid || !strings.Contains(e.Fields[tc.field], tc.problem) {
				t.Errorf("CheckConfig = %+v, %v; want invalid_request on %s mentioning %q", got, err, tc.field, tc.problem)
			}
		})
	}
}

func TestCapabilitiesAndTokenPage(t *testing.T) {
	a := gitea.New()
	caps := a.Capabilities(relay.HostConfig{Kind: gitea.Kind, BaseURL: "https://code.example.org"})
	if !caps.PAT || !caps.Drafts || !reflect.DeepEqual(caps.RequiredScopes, [][]string{{"write:repository"}}) || !strings.Contains(caps.TokenHelp, "write:repository") {
		t.Errorf("Capabilities = %+v; want PATs, drafts (WIP titles), write:repository required and named in the help", caps)
	}
	// Validate reports no scopes for a token whose scopes it cannot tell,
	// which must pass; a token proved to lack the repository scope must not.
	if relay.MissingScope(caps.RequiredScopes, nil) != "" || relay.MissingScope(caps.RequiredScopes, []string{"read:user"}) != "write:repository" {
		t.Error("RequiredScopes does not pass unknown scopes and refuse a token without the repository scope")
	}
	if got, want := a.NewTokenURL(relay.HostConfig{BaseURL: "https://code.example.org/git/"}, "gitrelay ABC-1"), "https://code.example.org/git/user/settings/applications"; got != want {
		t.Errorf("NewTokenURL = %q, want %q", got, want)
	}
	if got := a.NewTokenURL(relay.HostConfig{}, "x"); got != "" {
		t.Errorf("NewTokenURL without a base URL = %q, want none", got)
	}
}

func TestNewClientRefusesUnusableTokens(t *testing.T) {
	cfg := relay.HostConfig{Kind: gitea.Kind, BaseURL: "https://code.example.org"}
	for name, token := range map[string]string{"empty": "  ", "with a space": "abc def", "with a newline": "abc\ndef"} {
		_, err := gitea.New().NewClient(cfg, relay.TokenCredential(token), nil)
		if e, ok := relay.AsError(err); !ok || e.Code != relay.ECredentialRejected || strings.Contains(e.Message, token) {
			t.Errorf("%s token: err = %v, want credential_rejected that does not repeat it", name, err)
		}
	}
	if _, err := gitea.New().NewClient(relay.HostConfig{Kind: gitea.Kind}, relay.TokenCredential("t"), nil); relay.ErrorCode(err) != relay.EInvalid {
		t.Errorf("NewClient without a base URL: err = %v, want invalid_request", err)
	}
}
