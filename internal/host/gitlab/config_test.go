package gitlab_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/gitlab"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

func TestCheckConfig(t *testing.T) {
	const sm = gitlab.KindSelfManaged
	for _, tc := range []struct {
		name    string
		adapter host.Adapter
		in      relay.HostConfig
		want    string // normalised base URL
		field   string // or the field an error names
	}{
		{"gitlab needs no base URL", gitlab.Cloud(), relay.HostConfig{Kind: "gitlab"}, "", ""},
		{"gitlab kind may be left out", gitlab.Cloud(), relay.HostConfig{}, "", ""},
		{"gitlab refuses a base URL", gitlab.Cloud(), relay.HostConfig{Kind: "gitlab", BaseURL: "https://gitlab.com"}, "", "base_url"},
		{"gitlab refuses options", gitlab.Cloud(), relay.HostConfig{Kind: "gitlab", Options: map[string]string{"x": "y"}}, "", "options"},
		{"the wrong kind", gitlab.Cloud(), relay.HostConfig{Kind: "github"}, "", "kind"},
		{"server address", gitlab.SelfManaged(), relay.HostConfig{Kind: sm, BaseURL: "https://gitlab.example.com"}, "https://gitlab.example.com", ""},
		{"trailing slash and case", gitlab.SelfManaged(), relay.HostConfig{Kind: sm, BaseURL: " HTTPS://GitLab.Example.com/ "}, "https://gitlab.example.com", ""},
		{"relative root kept", gitlab.SelfManaged(), relay.HostConfig{Kind: sm, BaseURL: "https://example.com/gitlab/"}, "https://example.com/gitlab", ""},
		{"API root pasted", gitlab.SelfManaged(), relay.HostConfig{Kind: sm, BaseURL: "https://gitlab.example.com/api/v4"}, "https://gitlab.example.com", ""},
		{"API root under a relative root", gitlab.SelfManaged(), relay.HostConfig{Kind: sm, BaseURL: "https://example.com/gitlab/API/v4/"}, "https://example.com/gitlab", ""},
		{"behind a proxy over http", gitlab.SelfManaged(), relay.HostConfig{Kind: sm, BaseURL: "http://proxy:8080/gl"}, "http://proxy:8080/gl", ""},
		{"needs an address", gitlab.SelfManaged(), relay.HostConfig{Kind: sm}, "", "base_url"},
		{"needs a scheme", gitlab.SelfManaged(), relay.HostConfig{Kind: sm, BaseURL: "gitlab.example.com"}, "", "base_url"},
		{"refuses a query", gitlab.SelfManaged(), relay.HostConfig{Kind: sm, BaseURL: "https://gitlab.example.com/?x=1"}, "", "base_url"},
		{"refuses credentials in the URL", gitlab.SelfManaged(), relay.HostConfig{Kind: sm, BaseURL: "https://u:p@gitlab.example.com"}, "", "base_url"},
		{"is not gitlab.com", gitlab.SelfManaged(), relay.HostConfig{Kind: sm, BaseURL: "https://gitlab.com"}, "", "base_url"},
		{"refuses options", gitlab.SelfManaged(), relay.HostConfig{Kind: sm, BaseURL: "https://gitlab.example.com", Options: map[string]string{"suffix": "/tfs"}}, "", "options"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.adapter.CheckConfig(tc.in)
			if tc.field == "" {
				if err != nil || got.BaseURL != tc.want || got.Kind != tc.adapter.Kind() {
					t.Errorf("CheckConfig(%+v) = %+v, %v; want base URL %q", tc.in, got, err, tc.want)
				}
				return
			}
			e, ok := relay.AsError(err)
			if !ok || e.Code != relay.EInvalid || e.Fields[tc.field] == "" || e.Message == "" {
				t.Errorf("CheckConfig(%+v) = %v, want invalid_request on %s", tc.in, err, tc.field)
			}
		})
	}
}

func TestNewTokenURL(t *testing.T) {
	name := "gitrelay (ABC) & co"
	for _, tc := range []struct {
		adapter host.Adapter
		cfg     relay.HostConfig
		want    string
	}{
		{gitlab.Cloud(), relay.HostConfig{Kind: "gitlab"},
			"https://gitlab.com/-/user_settings/personal_access_tokens?name=gitrelay+%28ABC%29+%26+co&scopes=api"},
		{gitlab.SelfManaged(), relay.HostConfig{Kind: "gitlab-self-managed", BaseURL: "https://example.com/gitlab/api/v4"},
			"https://example.com/gitlab/-/user_settings/personal_access_tokens?name=gitrelay+%28ABC%29+%26+co&scopes=api"},
		{gitlab.Cloud(gitlab.WithURL("http://127.0.0.1:9999/api/v4/")), relay.HostConfig{Kind: "gitlab"},
			"http://127.0.0.1:9999/-/user_settings/personal_access_tokens?name=gitrelay+%28ABC%29+%26+co&scopes=api"},
		{gitlab.SelfManaged(), relay.HostConfig{Kind: "gitlab-self-managed"}, ""},
	} {
		if got := tc.adapter.NewTokenURL(tc.cfg, name); got != tc.want {
			t.Errorf("NewTokenURL(%+v) = %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

func TestCapabilities(t *testing.T) {
	for _, a := range []host.Adapter{gitlab.Cloud(), gitlab.SelfManaged()} {
		c := a.Capabilities(relay.HostConfig{Kind: a.Kind()})
		if !c.PAT || !c.Drafts || !strings.Contains(c.TokenHelp, "api") {
			t.Errorf("%s: Capabilities = %+v", a.Kind(), c)
		}
		for _, tc := range []struct {
			have []string
			want string
		}{
			{[]string{"api"}, ""},
			{[]string{"read_user", "api"}, ""},
			{[]string{"read_api"}, "api"},
			{[]string{"write_repository", "read_repository"}, "api"},
			{[]string{}, "api"},
		} {
			if got := relay.MissingScope(c.RequiredScopes, tc.have); got != tc.want {
				t.Errorf("%s: MissingScope(%q) = %q, want %q", a.Kind(), tc.have, got, tc.want)
			}
		}
	}
}

func TestNewClientChecksTheToken(t *testing.T) {
	for _, token := range []string{"", "   ", "glpat-abc\ndef", "glpat abc", "glpat\x00abc"} {
		_, err := gitlab.Cloud().NewClient(relay.HostConfig{Kind: "gitlab"}, relay.TokenCredential(token), nil)
		if relay.ErrorCode(err) != relay.ECredentialRejected {
			t.Errorf("NewClient(token %q) = %v, want credential_rejected", token, err)
		} else if strings.Contains(err.Error(), "abc") {
			t.Errorf("the error shows the token: %v", err)
		}
	}
	_, err := gitlab.SelfManaged().NewClient(relay.HostConfig{Kind: "gitlab-self-managed", BaseURL: "nope"}, relay.TokenCredential("t"), nil)
	if relay.ErrorCode(err) != relay.EInvalid {
		t.Errorf("NewClient with a bad base URL = %v, want invalid_request", err)
	}
	_, err = gitlab.Cloud(gitlab.WithURL("::not a url")).NewClient(relay.HostConfig{Kind: "gitlab"}, relay.TokenCredential("t"), nil)
	if err == nil {
		t.Error("NewClient with a bad WithURL succeeded")
	}
}

// A token pasted with a trailing newline is sent without it, in the
// PRIVATE-TOKEN header, and the shared HTTP client is left as it was.
func TestNewClientSendsTheTrimmedToken(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path+" "+r.Header.Get("PRIVATE-TOKEN"))
		if r.URL.Path == "/api/v4/personal_access_tokens/self" {
			_, _ = w.Write([]byte(`{"scopes":["api"],"active":true,"revoked":false,"expires_at":null}`))
			return
		}
		_, _ = w.Write([]byte(`{"username":"jsmith","name":"Jo"}`))
	}))
	defer srv.Close()
	shared := hosttest.LocalClient(0)
	before := *shared
	c, err := gitlab.Cloud(gitlab.WithURL(srv.URL)).NewClient(relay.HostConfig{Kind: "gitlab"}, relay.TokenCredential(" glpat-abc\n"), shared)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Validate(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []string{"/api/v4/personal_access_tokens/self glpat-abc", "/api/v4/user glpat-abc"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("requests = %q, want %q", got, want)
	}
	if shared.Transport != before.Transport || shared.Timeout != before.Timeout || shared.Jar != nil {
		t.Error("NewClient modified the shared HTTP client")
	}
}
