package jira_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/jira/jiratest"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// browser follows a sign-in from gitrelay to the fake Atlassian and back.
func (e *env) browser() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

func (e *env) signIn(c *http.Client, query string) (*http.Response, []relay.Principal) {
	e.t.Helper()
	e.signedInMu.Lock()
	e.signedIn = nil
	e.signedInMu.Unlock()
	resp, err := c.Get(e.url + "/auth/atlassian/start?" + query)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	e.signedInMu.Lock()
	defer e.signedInMu.Unlock()
	return resp, e.signedIn
}

func TestSignInWithAtlassianMapsTheAccountToItsSite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.install()
		e.fake.SignInAs("acc-bob")
		resp, ps := e.signIn(e.browser(), "return_to="+url.QueryEscape("/issues/ABC-1?summary=Fix"))
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/issues/ABC-1" {
			t.Fatalf("sign-in ended at %d %s, want the issue page", resp.StatusCode, resp.Request.URL)
		}
		want := []relay.Principal{{TenantID: installA, UserID: "acc-bob", Username: "acc-bob", DisplayName: "Bob Builder"}}
		if len(ps) != 1 || ps[0] != want[0] {
			t.Fatalf("principals: got %+v, want %+v", ps, want)
		}

		// The refresh token is kept sealed, bound to the tenant and account.
		g, err := db.JiraGrant(context.Background(), installA, "acc-bob")
		if err != nil {
			t.Fatal(err)
		}
		for _, rt := range e.fake.RefreshTokens() {
			if strings.Contains(string(g.Sealed), rt) {
				t.Fatal("the refresh token is stored in clear")
			}
		}
		if _, err := e.keys.Open(g.Sealed, store.JiraRefreshTokenOwner(installB, "acc-bob")); err == nil {
			t.Fatal("bob's site A refresh token opens for site B")
		}

		// The session's requests ask Jira as bob, with a refreshed token
		// once the cached one is gone.
		e.signin.Forget(installA, "acc-bob")
		ctx, err := e.signin.UserContext(context.Background(), ps[0])
		if err != nil {
			t.Fatal(err)
		}
		d, err := e.actions.Development(ctx, ps[0], "ABC-1")
		if err != nil || d.IssueKey != "ABC-1" {
			t.Fatalf("development through the session: got %+v, %v", d, err)
		}
		e.noSecrets()
	})
}

func TestSignedInUsersCannotActInAnotherSite(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.install()
	e.fake.SignInAs("acc-bob")
	_, ps := e.signIn(e.browser(), "return_to=/")
	if len(ps) != 1 || ps[0].TenantID != installA {
		t.Fatalf("principals: got %+v, want site A only", ps)
	}
	other := relay.Principal{TenantID: installB, UserID: "acc-bob", Username: "acc-bob"}
	if _, err := e.signin.UserContext(context.Background(), other); relay.ErrorCode(err) != relay.EUnauthenticated {
		t.Fatalf("a session for site B: got %v, want %s", err, relay.EUnauthenticated)
	}
	ctxA, err := e.signin.UserContext(context.Background(), ps[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.actions.Development(ctxA, other, "ABC-1"); relay.ErrorCode(err) != relay.EUnauthenticated {
		t.Fatalf("site B's panel with site A's session: got %v, want %s", err, relay.EUnauthenticated)
	}

	t.Run("a sign-in started for a site the account cannot reach is refused", func(t *testing.T) {
		resp, ps := e.signIn(e.browser(), "return_to=/&site="+url.QueryEscape(siteB))
		if resp.StatusCode != http.StatusForbidden || ps != nil {
			t.Fatalf("got %d with %+v, want 403 and no session", resp.StatusCode, ps)
		}
	})
	t.Run("an account on no site with gitrelay is refused", func(t *testing.T) {
		e.fake.AddSite("33333333-cccc-4ccc-8ccc-000000000003", "https://gamma.atlassian.net")
		e.fake.AddUser("33333333-cccc-4ccc-8ccc-000000000003", jiratest.User{AccountID: "acc-erin", DisplayName: "Erin"})
		e.fake.SignInAs("acc-erin")
		resp, ps := e.signIn(e.browser(), "return_to=/")
		if resp.StatusCode != http.StatusForbidden || ps != nil {
			t.Fatalf("got %d with %+v, want 403", resp.StatusCode, ps)
		}
	})
}

func TestSignInCallbackChecksStateAndPKCE(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.install()
	e.fake.SignInAs("acc-bob")
	noRedirect := e.browser()
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Get(e.url + "/auth/atlassian/start?return_to=https://evil.example/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	authz, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := authz.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" || !strings.Contains(q.Get("scope"), "offline_access") {
		t.Fatalf("authorize URL %s lacks PKCE, state or scopes", authz)
	}
	tests := []struct {
		name     string
		callback string
		client   *http.Client
	}{
		{"wrong state", "/auth/atlassian/callback?code=x&state=forged", noRedirect},
		{"no sign-in cookie", "/auth/atlassian/callback?code=x&state=" + q.Get("state"), &http.Client{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.client.Get(e.url + tt.callback)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("got %d, want 400", resp.StatusCode)
			}
		})
	}
	t.Run("a code exchanged without the verifier is refused", func(t *testing.T) {
		signin := jira.NewSignIn(jira.SignInConfig{ClientID: "client-id", ClientSecret: "s", PublicURL: e.url,
			AuthURL: e.fake.URL, APIURL: e.fake.URL, Store: e.db, Sealer: e.keys, Directory: e.jdir, HTTPClient: e.hc})
		resp, err := http.Get(e.fake.URL + "/authorize?response_type=code&code_challenge_method=S256&code_challenge=abc&state=s&redirect_uri=" +
			url.QueryEscape(e.url+"/auth/atlassian/callback"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		code := resp.Request.URL.Query().Get("code")
		if _, err := signin.Complete(context.Background(), code, "not-the-verifier", ""); relay.ErrorCode(err) != relay.EUnauthenticated {
			t.Fatalf("got %v, want %s", err, relay.EUnauthenticated)
		}
	})
	t.Run("return_to never leaves gitrelay", func(t *testing.T) {
		c := e.browser()
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != authz.Host && !strings.HasPrefix(req.URL.String(), e.url) {
				t.Fatalf("redirected off gitrelay to %s", req.URL)
			}
			return nil
		}
		resp, _ := e.signIn(c, "return_to="+url.QueryEscape("//evil.example/x"))
		if resp.Request.URL.Path != "/" && !strings.HasPrefix(resp.Request.URL.String(), e.url) {
			t.Fatalf("ended at %s", resp.Request.URL)
		}
	})
}

func FuzzVerifyRefusesArbitraryTokens(f *testing.F) {
	for _, s := range []string{"", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.e30.AAAA"} {
		f.Add(s)
	}
	keys := jira.NewJWKS("http://127.0.0.1:1/jwks.json", &http.Client{}, nil)
	v := jira.NewVerifier(jiratest.AppID, keys, nil)
	f.Fuzz(func(t *testing.T, tok string) {
		if _, err := v.Verify(context.Background(), tok); err == nil {
			t.Fatalf("Verify accepted %q", tok)
		}
	})
}
