package github_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/github"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

func TestCheckConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		adapter host.Adapter
		in      relay.HostConfig
		want    string // normalised base URL
		field   string // or the field an error names
	}{
		{"github needs no base URL", github.Cloud(), relay.HostConfig{Kind: "github"}, "", ""},
		{"github kind may be left out", github.Cloud(), relay.HostConfig{}, "", ""},
		{"github refuses a base URL", github.Cloud(), relay.HostConfig{Kind: "github", BaseURL: "https://api.github.com"}, "", "base_url"},
		{"github refuses options", github.Cloud(), relay.HostConfig{Kind: "github", Options: map[string]string{"x": "y"}}, "", "options"},
		{"the wrong kind", github.Cloud(), relay.HostConfig{Kind: "gitlab"}, "", "kind"},
		{"GHES address", github.Enterprise(), relay.HostConfig{Kind: "github-enterprise", BaseURL: "https://ghe.example.com"}, "https://ghe.example.com", ""},
		{"GHES trailing slash and case", github.Enterprise(), relay.HostConfig{Kind: "github-enterprise", BaseURL: " HTTPS://GHE.Example.com/ "}, "https://ghe.example.com", ""},
		{"GHES API root pasted", github.Enterprise(), relay.HostConfig{Kind: "github-enterprise", BaseURL: "https://ghe.example.com/api/v3"}, "https://ghe.example.com", ""},
		{"GHES API root with slash", github.Enterprise(), relay.HostConfig{Kind: "github-enterprise", BaseURL: "https://ghe.example.com/API/v3/"}, "https://ghe.example.com", ""},
		{"GHES behind a proxy path, over http", github.Enterprise(), relay.HostConfig{Kind: "github-enterprise", BaseURL: "http://proxy:8080/ghe"}, "http://proxy:8080/ghe", ""},
		{"GHES needs an address", github.Enterprise(), relay.HostConfig{Kind: "github-enterprise"}, "", "base_url"},
		{"GHES needs a scheme", github.Enterprise(), relay.HostConfig{Kind: "github-enterprise", BaseURL: "ghe.example.com"}, "", "base_url"},
		{"GHES refuses a query", github.Enterprise(), relay.HostConfig{Kind: "github-enterprise", BaseURL: "https://ghe.example.com/?x=1"}, "", "base_url"},
		{"GHES refuses a fragment", github.Enterprise(), relay.HostConfig{Kind: "github-enterprise", BaseURL: "https://ghe.example.com/#x"}, "", "base_url"},
		{"GHES refuses credentials in the URL", github.Enterprise(), relay.HostConfig{Kind: "github-enterprise", BaseURL: "https://u:p@ghe.example.com"}, "", "base_url"},
		{"GHES is not github.com", github.Enterprise(), relay.HostConfig{Kind: "github-enterprise", BaseURL: "https://github.com"}, "", "base_url"},
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
		{github.Cloud(), relay.HostConfig{Kind: "github"},
			"https://github.com/settings/tokens/new?scopes=repo&description=gitrelay+%28ABC%29+%26+co"},
		{github.Enterprise(), relay.HostConfig{Kind: "github-enterprise", BaseURL: "https://ghe.example.com/api/v3/"},
			"https://ghe.example.com/settings/tokens/new?scopes=repo&description=gitrelay+%28ABC%29+%26+co"},
		{github.Cloud(github.WithAPIURL("http://127.0.0.1:9999/")), relay.HostConfig{Kind: "github"},
			"http://127.0.0.1:9999/settings/tokens/new?scopes=repo&description=gitrelay+%28ABC%29+%26+co"},
		{github.Cloud(github.WithAPIURL("http://127.0.0.1:9999/"), github.WithWebURL("https://web.example/")), relay.HostConfig{Kind: "github"},
			"https://web.example/settings/tokens/new?scopes=repo&description=gitrelay+%28ABC%29+%26+co"},
		{github.Enterprise(), relay.HostConfig{Kind: "github-enterprise"}, ""},
	} {
		if got := tc.adapter.NewTokenURL(tc.cfg, name); got != tc.want {
			t.Errorf("NewTokenURL(%+v) = %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

func TestCapabilities(t *testing.T) {
	for _, a := range []host.Adapter{github.Cloud(), github.Enterprise()} {
		c := a.Capabilities(relay.HostConfig{Kind: a.Kind()})
		if !c.PAT || !c.Drafts || len(c.RequiredScopes) != 1 || c.RequiredScopes[0][0] != "repo" ||
			!strings.Contains(c.TokenHelp, "repo") || !strings.Contains(c.TokenHelp, "Contents") {
			t.Errorf("%s: Capabilities = %+v", a.Kind(), c)
		}
		if relay.MissingScope(c.RequiredScopes, []string{"repo", "workflow"}) != "" || relay.MissingScope(c.RequiredScopes, []string{"public_repo"}) != "repo" {
			t.Errorf("%s: RequiredScopes %v do not work with relay.MissingScope", a.Kind(), c.RequiredScopes)
		}
	}
}

func TestNewClientChecksTheToken(t *testing.T) {
	for _, token := range []string{"", "   ", "ghp_abc\ndef", "ghp abc", "ghp\x00abc"} {
		_, err := github.Cloud().NewClient(relay.HostConfig{Kind: "github"}, relay.TokenCredential(token), nil)
		if relay.ErrorCode(err) != relay.ECredentialRejected {
			t.Errorf("NewClient(token %q) = %v, want credential_rejected", token, err)
		} else if strings.Contains(err.Error(), "abc") {
			t.Errorf("the error shows the token: %v", err)
		}
	}
	_, err := github.Enterprise().NewClient(relay.HostConfig{Kind: "github-enterprise", BaseURL: "nope"}, relay.TokenCredential("t"), nil)
	if relay.ErrorCode(err) != relay.EInvalid {
		t.Errorf("NewClient with a bad base URL = %v, want invalid_request", err)
	}
	_, err = github.Cloud(github.WithAPIURL("::not a url")).NewClient(relay.HostConfig{Kind: "github"}, relay.TokenCredential("t"), nil)
	if err == nil {
		t.Error("NewClient with a bad WithAPIURL succeeded")
	}
}

// A token pasted with a trailing newline is sent without it.
func TestNewClientTrimsPastedToken(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		_, _ = w.Write([]byte(`{"login":"octocat"}`))
	}))
	defer srv.Close()
	c, err := github.Cloud(github.WithAPIURL(srv.URL)).NewClient(relay.HostConfig{Kind: "github"}, relay.TokenCredential(" ghp_abc\n"), hosttest.LocalClient(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Validate(t.Context()); err != nil || got != "Bearer ghp_abc" {
		t.Errorf("Authorization = %q (%v), want Bearer ghp_abc", got, err)
	}
}
