package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/clientip"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
	"github.com/gitrelay/gitrelay/internal/vault"
)

// bareApp is gitrelay without a listener: requests go to its handler with
// the peer address the test chooses.
func bareApp(t *testing.T, cfg app.Config) (*app.App, string) {
	t.Helper()
	db := storetest.SQLite(t)
	keys, err := vault.NewStaticKeys(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	cfg.DB, cfg.Sealer = db, keys
	a := app.New(cfg)
	password, err := app.Bootstrap(context.Background(), db, a.Directory, "")
	if err != nil {
		t.Fatal(err)
	}
	return a, password
}

func serve(a *app.App, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	a.Server.Handler().ServeHTTP(rec, req)
	return rec
}

func login(peer, forwardedFor, username, password string) *http.Request {
	req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"username": {username}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = peer
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	return req
}

func TestHSTSOnlyWithAnHTTPSPublicURL(t *testing.T) {
	for _, tc := range []struct {
		publicURL string
		want      string
	}{
		{"https://gitrelay.example.com", "max-age=31536000"},
		{"http://gitrelay.example.com", ""},
		{"", ""},
	} {
		t.Run(tc.publicURL, func(t *testing.T) {
			a, _ := bareApp(t, app.Config{PublicURL: tc.publicURL})
			for _, path := range []string{"/login", "/healthz", "/api/v1/me"} {
				rec := serve(a, httptest.NewRequest("GET", path, nil))
				if got := rec.Header().Get("Strict-Transport-Security"); got != tc.want {
					t.Errorf("%s: Strict-Transport-Security %q, want %q", path, got, tc.want)
				}
			}
		})
	}
}

func TestStaticFilesHaveNoDirectoryListing(t *testing.T) {
	a, _ := bareApp(t, app.Config{})
	for path, want := range map[string]int{"/static/": 404, "/static/app.css": 200, "/static/nope.css": 404} {
		rec := serve(a, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
		if want == 404 && strings.Contains(rec.Body.String(), `href="app.css"`) {
			t.Errorf("GET %s lists the files", path)
		}
	}
}

func TestForwardedForIsBelievedOnlyFromTrustedProxies(t *testing.T) {
	proxies, err := clientip.Parse("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	a, password := bareApp(t, app.Config{ClientAddr: proxies})
	const proxy = "10.0.0.1:40000"
	for range 10 {
		if rec := serve(a, login(proxy, "198.51.100.1", "admin", "wrong password")); rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", rec.Code)
		}
	}
	t.Run("from a trusted proxy, the forwarded client is the one throttled", func(t *testing.T) {
		if rec := serve(a, login(proxy, "198.51.100.1", "admin", password)); rec.Code != http.StatusTooManyRequests {
			t.Errorf("the guessing client: %d, want 429", rec.Code)
		}
		if rec := serve(a, login(proxy, "198.51.100.2", "admin", password)); rec.Code != http.StatusSeeOther {
			t.Errorf("another client behind the same proxy: %d, want 303 (signed in)", rec.Code)
		}
	})
	t.Run("from an untrusted peer, the header is ignored", func(t *testing.T) {
		for i := range 10 {
			forged := "192.0.2." + string(rune('1'+i))
			if rec := serve(a, login("203.0.113.5:1234", forged, "admin", "wrong password")); rec.Code != http.StatusUnauthorized {
				t.Fatalf("wrong password: %d", rec.Code)
			}
		}
		if rec := serve(a, login("203.0.113.5:1234", "192.0.2.99", "admin", password)); rec.Code != http.StatusTooManyRequests {
			t.Errorf("a forged X-Forwarded-For escaped the throttle: %d, want 429", rec.Code)
		}
	})
}

func TestSignInAndPasswordChangeAreBusyWhenHashingIsFull(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	csrf := v.csrf()

	entered, release := make(chan struct{}), make(chan struct{})
	env.App.Directory.SetHashing(1, func() {
		entered <- struct{}{}
		<-release
	})
	held := make(chan int)
	go func() {
		held <- serveStatus(env.URL, "carol", carolPassword)
	}()
	<-entered

	p := newVisitor(t, env).post("/login", url.Values{"username": {"admin"}, "password": {adminPassword}})
	if p.Status != http.StatusServiceUnavailable || p.Header.Get("Retry-After") == "" {
		t.Errorf("sign-in with every hashing slot taken: %d (Retry-After %q), want 503 with Retry-After", p.Status, p.Header.Get("Retry-After"))
	}
	p = v.post("/settings/password", url.Values{"csrf": {csrf}, "current": {bobPassword}, "new": {"a brand new password"}, "confirm": {"a brand new password"}})
	if p.Status != http.StatusServiceUnavailable || p.Header.Get("Retry-After") == "" {
		t.Errorf("password change with every hashing slot taken: %d (Retry-After %q), want 503 with Retry-After", p.Status, p.Header.Get("Retry-After"))
	}
	close(release)
	if got := <-held; got != http.StatusSeeOther {
		t.Errorf("the sign-in holding the slot: %d, want 303", got)
	}
}

func serveStatus(base, username, password string) int {
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"username": {username}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAPITokensPageListsAndRevokes(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	p := v.get("/settings/api-tokens")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "<td>test</td>") || strings.Contains(p.Body, env.Bob) {
		t.Fatalf("the page: %d, want bob's token listed by name and never its secret\n%s", p.Status, p.Body)
	}
	tokens, err := env.App.Directory.APITokens(context.Background(), relay.LocalTenant, "bob")
	if err != nil || len(tokens) != 1 {
		t.Fatalf("bob's tokens: %+v %v", tokens, err)
	}
	if p := v.post("/settings/api-tokens/"+tokens[0].ID+"/revoke", url.Values{"csrf": {"forged"}}); p.Status != http.StatusForbidden {
		t.Fatalf("revoking without the CSRF token: %d, want 403", p.Status)
	}
	if r := env.Do("GET", "/api/v1/me", env.Bob, nil); r.Status != http.StatusOK {
		t.Fatalf("the token before revocation: %d", r.Status)
	}
	if p := v.post("/settings/api-tokens/"+tokens[0].ID+"/revoke", url.Values{"csrf": {v.csrf()}}); p.Status != http.StatusSeeOther {
		t.Fatalf("revoking: %d\n%s", p.Status, p.Body)
	}
	if r := env.Do("GET", "/api/v1/me", env.Bob, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("the revoked token: %d, want 401", r.Status)
	}
	if p := v.get("/settings/api-tokens"); !strings.Contains(p.Body, "You have no API token") {
		t.Fatalf("the page after revocation:\n%s", p.Body)
	}
}
