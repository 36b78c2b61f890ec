package jira_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/gitrelay/gitrelay/internal/jira/jiratest"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// The web pages resolve a browser session of a Jira user through SignIn:
// the user as Jira knows them, in the session's site only.
func TestSignInResolvesWebSessions(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.install()
	ctx := context.Background()
	for _, account := range []string{"acc-alice", "acc-bob"} {
		e.fake.SignInAs(account)
		if _, ps := e.signIn(e.browser(), "return_to=/"); len(ps) != 1 {
			t.Fatalf("signing in %s: got %+v, want one principal", account, ps)
		}
	}

	tests := []struct {
		name    string
		tenant  string
		account string
		want    relay.Principal
		code    string
	}{
		{"a Jira administrator is an administrator", installA, "acc-alice",
			relay.Principal{TenantID: installA, UserID: "acc-alice", Username: "acc-alice", DisplayName: "Alice Admin", Admin: true}, ""},
		{"a Jira user is not", installA, "acc-bob",
			relay.Principal{TenantID: installA, UserID: "acc-bob", Username: "acc-bob", DisplayName: "Bob Builder"}, ""},
		{"an account that never signed in for the site has no session there", installB, "acc-bob", relay.Principal{}, relay.ENotFound},
		{"an unknown tenant has no sessions", "ari:cloud:ecosystem::installation/unknown", "acc-bob", relay.Principal{}, relay.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.signin.Principal(ctx, tt.tenant, tt.account)
			if relay.ErrorCode(err) != tt.code || got != tt.want {
				t.Errorf("got %+v, %v; want %+v, code %q", got, err, tt.want, tt.code)
			}
		})
	}

	t.Run("after sign-out the session no longer stands", func(t *testing.T) {
		p, err := e.signin.Principal(ctx, installA, "acc-bob")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.signin.SignOut(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := e.signin.Principal(ctx, installA, "acc-bob"); relay.ErrorCode(err) != relay.ENotFound {
			t.Errorf("got %v, want %s", err, relay.ENotFound)
		}
	})

	t.Run("the login link starts the sign-in and returns to a path on gitrelay only", func(t *testing.T) {
		for returnTo, want := range map[string]string{"/issues/ABC-1?summary=x": "/issues/ABC-1?summary=x", "//evil.example": "/"} {
			label, href := e.signin.SignInLink(returnTo)
			u, err := url.Parse(href)
			if err != nil || label == "" || u.Path != "/auth/atlassian/start" || u.Query().Get("return_to") != want {
				t.Errorf("SignInLink(%q) = %q, %q; want a labelled /auth/atlassian/start returning to %q", returnTo, label, href, want)
			}
		}
	})
}

// A sign-in started for a site by its URL picks that site even before any
// invocation from it told gitrelay the site's URL (installed events carry
// none): Atlassian's list of the account's sites names it.
func TestSignInForASiteNamedByURL(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.install()
	e.fake.AddUser(cloudB, jiratest.User{AccountID: "acc-bob", DisplayName: "Bob Builder"})
	for _, tt := range []struct{ site, want string }{{siteA, installA}, {siteB, installB}, {cloudB, installB}} {
		e.fake.SignInAs("acc-bob")
		_, ps := e.signIn(e.browser(), "return_to=/&site="+url.QueryEscape(tt.site))
		if len(ps) != 2 || ps[0].TenantID != tt.want {
			t.Errorf("signing in for %s: got %+v, want %s first of both sites", tt.site, ps, tt.want)
		}
	}
	e.noSecrets()
}
