package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/jira/jiratest"
	"github.com/gitrelay/gitrelay/internal/logbuf"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
	"github.com/gitrelay/gitrelay/internal/vault"
	"github.com/gitrelay/gitrelay/internal/web"
)

// Two Jira sites with gitrelay installed, each its own tenant.
const (
	sessCloudA   = "11111111-aaaa-4aaa-8aaa-00000000000a"
	sessCloudB   = "22222222-bbbb-4bbb-8bbb-00000000000b"
	sessInstallA = "ari:cloud:ecosystem::installation/aaaaaaaa-0000-4000-8000-00000000000a"
	sessInstallB = "ari:cloud:ecosystem::installation/bbbbbbbb-0000-4000-8000-00000000000b"
	sessSiteA    = "https://alpha-session.atlassian.net"
	sessSiteB    = "https://beta-session.atlassian.net"

	// Canaries: they must never reach a page, an API answer or the log.
	sessBotToken     = "ghp_CANARYsessionBOT00000000000000000001"
	sessClientSecret = "client-secret-CANARY-session"
)

// jiraSessions is the real server wired with Jira against the fake
// Atlassian and a simulated GitHub Enterprise.
type jiraSessions struct {
	t       *testing.T
	db      *store.DB
	fake    *jiratest.Fake
	sim     *hostsim.Sim
	hostURL string
	url     string
	logs    *logbuf.Buffer
	bodies  logbuf.Buffer
}

func newJiraSessions(t *testing.T, db *store.DB) *jiraSessions {
	t.Helper()
	e := &jiraSessions{t: t, db: db, fake: jiratest.New(t), sim: hostsim.New(), logs: &logbuf.Buffer{}}
	t.Cleanup(e.sim.Close)
	hs := httptest.NewServer(e.sim.Handler())
	t.Cleanup(hs.Close)
	e.hostURL = hs.URL
	e.sim.AddToken(hostsim.Token{Value: sessBotToken, Login: "relay-bot", Name: "Relay Bot", Scopes: []string{"repo"}})
	e.sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Writers: []string{"relay-bot"}})

	e.fake.AddSite(sessCloudA, sessSiteA)
	e.fake.AddSite(sessCloudB, sessSiteB)
	// Site A: alice administers Jira, bob has View Development Tools on
	// ABC, carol has nothing. Site B: dave administers it. erin is a user
	// of both sites, an administrator of B only.
	e.fake.AddUser(sessCloudA, jiratest.User{AccountID: "acc-alice", DisplayName: "Alice Admin", Admin: true, DevTools: []string{"ABC"}})
	e.fake.AddUser(sessCloudA, jiratest.User{AccountID: "acc-bob", DisplayName: "Bob Builder", DevTools: []string{"ABC"}})
	e.fake.AddUser(sessCloudA, jiratest.User{AccountID: "acc-carol", DisplayName: "Carol"})
	e.fake.AddUser(sessCloudB, jiratest.User{AccountID: "acc-dave", DisplayName: "Dave", Admin: true, DevTools: []string{"ABC"}})
	e.fake.AddUser(sessCloudA, jiratest.User{AccountID: "acc-erin", DisplayName: "Erin Both", DevTools: []string{"ABC"}})
	e.fake.AddUser(sessCloudB, jiratest.User{AccountID: "acc-erin", DisplayName: "Erin Both", Admin: true, DevTools: []string{"ABC"}})
	e.fake.AddIssue(sessCloudA, "ABC-1", jiratest.Issue{Summary: "Fix login on Safari", Type: "Bug"})
	e.fake.AddIssue(sessCloudB, "ABC-1", jiratest.Issue{Summary: "Another site's issue", Type: "Story"})

	// The callback URL is the server's own, only known once it runs: a
	// handler indirection lets the server start first.
	var root http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { root.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	keys, err := vault.NewStaticKeys(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := app.New(app.Config{DB: db, Sealer: keys, Logger: logger, PublicURL: e.url,
		EgressAllow: host.MustAllowlist(hosttest.LoopbackAllowed), HostTimeout: 5 * time.Second,
		Jira: app.JiraConfig{AppID: jiratest.AppID, JWKSURL: e.fake.JWKSURL(), AuthURL: e.fake.URL, APIURL: e.fake.URL,
			ClientID: "client-id", ClientSecret: sessClientSecret}})
	root = a.Server.Handler()

	for _, s := range []struct{ install, cloud string }{{sessInstallA, sessCloudA}, {sessInstallB, sessCloudB}} {
		body := `{"eventType":"` + jira.EventInstalled + `","id":"` + s.install + `"}`
		req, _ := http.NewRequest("POST", e.url+"/forge/lifecycle", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.fake.FIT(jiratest.Claims{InstallationID: s.install, CloudID: s.cloud, NoContext: true}))
		req.Header.Set("x-forge-oauth-system", e.fake.SystemToken(s.cloud))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("installing %s: got %d, want 204", s.install, resp.StatusCode)
		}
	}
	return e
}

// browser is one user's browser: a cookie jar following redirects the way
// browsers do.
type browser struct {
	e      *jiraSessions
	client *http.Client
}

func (e *jiraSessions) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &browser{e: e, client: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// visit is what the browser ended on after following redirects.
type visit struct {
	Status int
	Path   string
	Body   string
}

func (b *browser) do(req *http.Request) visit {
	b.e.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	_, _ = b.e.bodies.Write(body)
	return visit{Status: resp.StatusCode, Path: resp.Request.URL.Path, Body: string(body)}
}

func (b *browser) get(path string) visit {
	b.e.t.Helper()
	req, err := http.NewRequest("GET", b.e.url+path, nil)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) postForm(path string, form url.Values) visit {
	b.e.t.Helper()
	req, err := http.NewRequest("POST", b.e.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// api calls the JSON API as the pages' script does: with the session
// cookie and, when csrf is set, the CSRF header.
func (b *browser) api(method, path, csrf string, body any) visit {
	b.e.t.Helper()
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			b.e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, b.e.url+path, rd)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if csrf != "" {
		req.Header.Set(web.CSRFHeader, csrf)
	}
	return b.do(req)
}

var (
	externalSignIn = regexp.MustCompile(`id="external-sign-in" href="([^"]+)"`)
	csrfInput      = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// signIn opens page without a session, as Jira's Create branch button
// does, takes the login page's Sign in with Atlassian link as account and
// returns where the browser ended.
func (b *browser) signIn(account, page string) visit {
	b.e.t.Helper()
	login := b.get(page)
	if login.Path != "/login" {
		b.e.t.Fatalf("%s without a session ended on %s, want the login page", page, login.Path)
	}
	m := externalSignIn.FindStringSubmatch(login.Body)
	if m == nil || !strings.Contains(login.Body, "Sign in with Atlassian") || !strings.Contains(login.Body, `name="password"`) {
		b.e.t.Fatalf("the login page does not offer Sign in with Atlassian next to the password form:\n%s", login.Body)
	}
	start := html.UnescapeString(m[1])
	u, err := url.Parse(start)
	if err != nil || u.Path != "/auth/atlassian/start" || u.Query().Get("return_to") != page {
		b.e.t.Fatalf("the Atlassian link is %q, want /auth/atlassian/start returning to %s", start, page)
	}
	b.e.fake.SignInAs(account)
	return b.get(start)
}

func (b *browser) csrf(v visit) string {
	b.e.t.Helper()
	m := csrfInput.FindStringSubmatch(v.Body)
	if m == nil {
		b.e.t.Fatalf("no CSRF token on %s", v.Path)
	}
	return m[1]
}

func decode[T any](t *testing.T, v visit) T {
	t.Helper()
	var out T
	if err := json.Unmarshal([]byte(v.Body), &out); err != nil {
		t.Fatalf("decoding %q: %v", v.Body, err)
	}
	return out
}

// noSecrets fails when a canary, a client secret or an Atlassian token
// reached a response or the log.
func (e *jiraSessions) noSecrets() {
	e.t.Helper()
	canaries := append([]string{sessBotToken, sessClientSecret, "atlassian-access-", "atlassian-refresh-"}, e.fake.RefreshTokens()...)
	logs, bodies := e.logs.String(), e.bodies.String()
	for _, c := range canaries {
		if strings.Contains(logs, c) {
			e.t.Errorf("a secret (%.18s…) appears in the log", c)
		}
		if strings.Contains(bodies, c) {
			e.t.Errorf("a secret (%.18s…) appears in a response", c)
		}
	}
}

// Jira's Create branch button opens /issues/KEY?summary=... without a
// token: the page signs the user in with Atlassian, and the web session it
// gets acts with the user's Jira permissions on the site they came from.
func TestJiraUsersGetAWebSessionFromSignInWithAtlassian(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newJiraSessions(t, db)
		page := "/issues/ABC-1?summary=" + url.QueryEscape("Fix login on Safari")

		tests := []struct {
			name      string
			account   string
			wantPanel bool
		}{
			{"a user with View Development Tools sees the development panel", "acc-bob", true},
			{"a user without View Development Tools is refused the panel", "acc-carol", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b := e.browser()
				got := b.signIn(tt.account, page)
				if got.Status != http.StatusOK || got.Path != "/issues/ABC-1" {
					t.Fatalf("sign-in ended at %d %s, want 200 on /issues/ABC-1", got.Status, got.Path)
				}
				if panel := strings.Contains(got.Body, `id="development"`); panel != tt.wantPanel {
					t.Errorf("development panel shown: got %v, want %v", panel, tt.wantPanel)
				}
				if refused := strings.Contains(got.Body, `id="no-panel"`); refused == tt.wantPanel {
					t.Errorf("View Development Tools refusal shown: got %v, want %v", refused, !tt.wantPanel)
				}
				if !strings.Contains(got.Body, "Fix login on Safari") {
					t.Error("the issue page lost the summary Jira sent")
				}
			})
		}

		e.noSecrets()
	})
}

// The pages' script calls the JSON API with the session cookie and the
// CSRF header; Jira administrators administer gitrelay for their own site
// only, and a user of two sites acts in the one they signed in for.
func TestJiraSessionsUseTheAPIWithinTheirSite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newJiraSessions(t, db)
		ctx := context.Background()

		// Dave administers site B and adds an integration there.
		dave := e.browser()
		davePage := dave.signIn("acc-dave", "/issues/ABC-1")
		created := dave.api("POST", "/api/v1/integrations", dave.csrf(davePage), map[string]any{
			"kind": "github-enterprise", "name": "Site B GHE", "base_url": e.hostURL,
			"credential": map[string]string{"token": sessBotToken}})
		if created.Status != http.StatusCreated {
			t.Fatalf("site B's administrator adding an integration: got %d %s, want 201", created.Status, created.Body)
		}
		siteBIntegration := decode[map[string]any](t, created)["id"].(string)

		alice := e.browser()
		alicePage := alice.signIn("acc-alice", "/issues/ABC-1")
		aliceCSRF := alice.csrf(alicePage)

		t.Run("the session is the Jira user, with Jira's administrator flag", func(t *testing.T) {
			me := decode[map[string]any](t, alice.api("GET", "/api/v1/me", "", nil))
			if me["id"] != "acc-alice" || me["display_name"] != "Alice Admin" || me["admin"] != true {
				t.Errorf("/api/v1/me: got %v, want acc-alice, Alice Admin, admin", me)
			}
		})
		t.Run("a write without the CSRF header is refused", func(t *testing.T) {
			got := alice.api("POST", "/api/v1/integrations", "", map[string]any{
				"kind": "github-enterprise", "name": "No CSRF", "base_url": e.hostURL,
				"credential": map[string]string{"token": sessBotToken}})
			if got.Status != http.StatusForbidden {
				t.Errorf("got %d %s, want 403", got.Status, got.Body)
			}
		})

		created = alice.api("POST", "/api/v1/integrations", aliceCSRF, map[string]any{
			"kind": "github-enterprise", "name": "Site A GHE", "base_url": e.hostURL,
			"credential": map[string]string{"token": sessBotToken}})
		if created.Status != http.StatusCreated {
			t.Fatalf("site A's administrator adding an integration: got %d %s, want 201", created.Status, created.Body)
		}
		siteAIntegration := decode[map[string]any](t, created)["id"].(string)

		t.Run("another site's integrations are invisible", func(t *testing.T) {
			list := decode[[]map[string]any](t, alice.api("GET", "/api/v1/integrations", "", nil))
			var ids []string
			for _, in := range list {
				ids = append(ids, in["id"].(string))
			}
			if len(ids) != 1 || ids[0] != siteAIntegration {
				t.Errorf("site A's integrations: got %v, want only %s", ids, siteAIntegration)
			}
			if got := alice.api("GET", "/api/v1/integrations/"+siteBIntegration, "", nil); got.Status != http.StatusNotFound {
				t.Errorf("site B's integration through site A's session: got %d, want 404", got.Status)
			}
			if got := alice.api("DELETE", "/api/v1/integrations/"+siteBIntegration, aliceCSRF, nil); got.Status != http.StatusNotFound {
				t.Errorf("deleting site B's integration through site A's session: got %d, want 404", got.Status)
			}
		})

		t.Run("a user of two sites acts in the site they signed in for", func(t *testing.T) {
			tests := []struct {
				name          string
				site          string
				wantAdmin     bool
				wantAdminPage int
				want, notWant string
			}{
				{"site A, where erin is not an administrator", sessSiteA, false, http.StatusForbidden, siteAIntegration, siteBIntegration},
				{"site B, where erin administers Jira", sessSiteB, true, http.StatusOK, siteBIntegration, siteAIntegration},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					erin := e.browser()
					e.fake.SignInAs("acc-erin")
					// The site parameter is how a sign-in names the site
					// the user came from.
					got := erin.get("/auth/atlassian/start?" + url.Values{"return_to": {"/issues/ABC-1"}, "site": {tt.site}}.Encode())
					if got.Path != "/issues/ABC-1" || !strings.Contains(got.Body, `id="development"`) {
						t.Fatalf("signing in: got %d on %s, want the issue's panel", got.Status, got.Path)
					}
					me := decode[map[string]any](t, erin.api("GET", "/api/v1/me", "", nil))
					if me["admin"] != tt.wantAdmin {
						t.Errorf("admin: got %v, want %v", me["admin"], tt.wantAdmin)
					}
					if got := erin.get("/admin/integrations"); got.Status != tt.wantAdminPage {
						t.Errorf("the administration page: got %d, want %d", got.Status, tt.wantAdminPage)
					}
					// Listing integrations needs no administrator: every
					// user sees their own site's, and only those.
					var ids []string
					for _, in := range decode[[]map[string]any](t, erin.api("GET", "/api/v1/integrations", "", nil)) {
						ids = append(ids, in["id"].(string))
					}
					if len(ids) != 1 || ids[0] != tt.want {
						t.Errorf("integrations: got %v, want only %s (never %s)", ids, tt.want, tt.notWant)
					}
				})
			}
		})

		t.Run("a user creates a branch through the API with the page's CSRF token", func(t *testing.T) {
			bob := e.browser()
			bobPage := bob.signIn("acc-bob", "/issues/ABC-1?summary="+url.QueryEscape("Fix login on Safari"))
			repos := decode[[]map[string]any](t, bob.api("GET", "/api/v1/integrations/"+siteAIntegration+"/repositories?q=widgets", "", nil))
			if len(repos) != 1 {
				t.Fatalf("repositories: got %v, want widgets", repos)
			}
			got := bob.api("POST", "/api/v1/issues/ABC-1/branches", bob.csrf(bobPage), map[string]any{
				"integration_id": siteAIntegration, "repository_id": repos[0]["id"], "name": "feature/ABC-1-safari"})
			if got.Status != http.StatusCreated {
				t.Fatalf("creating a branch: got %d %s, want 201", got.Status, got.Body)
			}
			if _, ok := e.sim.Branches("acme/widgets")["feature/ABC-1-safari"]; !ok {
				t.Error("the branch is not on the host")
			}
			dev := decode[map[string]any](t, bob.api("GET", "/api/v1/issues/ABC-1/development", "", nil))
			if branches, _ := dev["branches"].([]any); len(branches) != 1 {
				t.Errorf("the issue's branches: got %v, want the new one", dev["branches"])
			}
		})

		t.Run("signing out ends the session and the Atlassian grant", func(t *testing.T) {
			got := alice.postForm("/logout", url.Values{"csrf": {aliceCSRF}})
			if got.Path != "/login" {
				t.Fatalf("sign-out ended on %s, want the login page", got.Path)
			}
			if _, err := db.JiraGrant(ctx, sessInstallA, "acc-alice"); relay.ErrorCode(err) != relay.ENotFound {
				t.Errorf("alice's grant after sign-out: got %v, want %s", err, relay.ENotFound)
			}
			if got := alice.get("/issues/ABC-1"); got.Path != "/login" {
				t.Errorf("the issue page after sign-out ended on %s, want the login page", got.Path)
			}
			if got := alice.api("GET", "/api/v1/me", "", nil); got.Status != http.StatusUnauthorized {
				t.Errorf("the API after sign-out: got %d, want 401", got.Status)
			}
		})
		e.noSecrets()
	})
}
