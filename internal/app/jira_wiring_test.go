package app_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/jira/jiratest"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
	"github.com/gitrelay/gitrelay/internal/vault"
)

// With a Forge app id, the real server mounts the Forge remote endpoints
// (verifying invocation tokens) and Sign in with Atlassian; without one,
// neither exists.
func TestJiraIsWiredIntoTheServer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fake := jiratest.New(t)
		site := "cloud-wired"
		fake.AddSite(site, "https://wired.atlassian.net")
		keys, _ := vault.NewStaticKeys(vault.NewKey())
		a := app.New(app.Config{DB: db, Sealer: keys, PublicURL: "https://gitrelay.example.com", EgressAllow: host.MustAllowlist(hosttest.LoopbackAllowed),
			Jira: app.JiraConfig{AppID: jiratest.AppID, JWKSURL: fake.JWKSURL(), AuthURL: fake.URL, APIURL: fake.URL,
				ClientID: "client", ClientSecret: "secret-CANARY"}})
		if a.Devinfo == nil {
			t.Fatal("no devinfo pusher with Jira configured")
		}
		srv := httptest.NewServer(a.Server.Handler())
		defer srv.Close()

		post := func(token string) int {
			req, _ := http.NewRequest("POST", srv.URL+"/forge/lifecycle", bytes.NewReader([]byte(`{"eventType":"`+jira.EventInstalled+`"}`)))
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			req.Header.Set("x-forge-oauth-system", fake.SystemToken(site))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if got := post(""); got != http.StatusUnauthorized {
			t.Fatalf("lifecycle without an invocation token: %d, want 401", got)
		}
		fit := fake.FIT(jiratest.Claims{InstallationID: "ari:cloud:ecosystem::installation/wired", CloudID: site, NoContext: true})
		if got := post(fit); got != http.StatusNoContent {
			t.Fatalf("lifecycle with a valid invocation token: %d, want 204", got)
		}
		if _, err := db.JiraInstallation(context.Background(), "ari:cloud:ecosystem::installation/wired"); err != nil {
			t.Fatalf("the installation is not a tenant: %v", err)
		}

		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Get(srv.URL + "/auth/atlassian/start?return_to=/issues/ABC-1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || !strings.HasPrefix(loc, fake.URL) || !strings.Contains(loc, "code_challenge=") {
			t.Fatalf("sign-in start: %d to %q", resp.StatusCode, loc)
		}

		plain := httptest.NewServer(app.New(app.Config{DB: db, Sealer: keys}).Server.Handler())
		defer plain.Close()
		resp, err = plain.Client().Post(plain.URL+"/forge/lifecycle", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("without Jira, /forge/lifecycle answered %d", resp.StatusCode)
		}
	})
}
