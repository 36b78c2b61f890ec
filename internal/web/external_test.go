package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/server"
	"github.com/gitrelay/gitrelay/internal/web"
)

// extTenant is a tenant of the external directory (a Jira site).
const extTenant = "ari:cloud:ecosystem::installation/ext-test"

// fakeExternal is an external directory (as Sign in with Atlassian is)
// holding a few users.
type fakeExternal struct {
	mu        sync.Mutex
	users     map[[2]string]relay.Principal
	signedOut []relay.Principal
}

type extCtxKey struct{}

func (f *fakeExternal) Principal(_ context.Context, tenantID, userID string) (relay.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.users[[2]string{tenantID, userID}]
	if !ok {
		return relay.Principal{}, relay.Errorf(relay.ENotFound, "not signed in")
	}
	return p, nil
}

func (f *fakeExternal) UserContext(ctx context.Context, p relay.Principal) (context.Context, error) {
	return context.WithValue(ctx, extCtxKey{}, p.UserID), nil
}

func (f *fakeExternal) SignOut(_ context.Context, p relay.Principal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signedOut = append(f.signedOut, p)
	delete(f.users, [2]string{p.TenantID, p.UserID})
	return nil
}

func (f *fakeExternal) SignInLink(returnTo string) (string, string) {
	return "Sign in elsewhere", "/ext/start?" + url.Values{"return_to": {returnTo}}.Encode()
}

func (f *fakeExternal) add(p relay.Principal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[[2]string{p.TenantID, p.UserID}] = p
}

// extEnv serves the pages with an external directory. /ext/signed-in
// stands for the external sign-in's callback: it hands the principal named
// by the query to the pages, as Sign in with Atlassian's OnSignedIn does.
type extEnv struct {
	env *apptest.Env
	ext *fakeExternal
	url string
}

func newExtEnv(t *testing.T) *extEnv {
	t.Helper()
	env := newEnv(t)
	ext := &fakeExternal{users: map[[2]string]relay.Principal{}}
	pages, err := web.New(web.Config{Actions: env.App.Actions, Directory: env.App.Directory, DirStore: env.DB, Store: env.DB,
		Hosts: env.App.Hosts, Kinds: env.App.Hosts.Kinds(), External: ext})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Config{Actions: env.App.Actions, Directory: env.App.Directory,
		Hosts: env.App.Hosts, Kinds: env.App.Hosts.Kinds(), Web: pages})
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	mux.HandleFunc("GET /ext/signed-in", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		pages.SignedIn(w, r, []relay.Principal{{TenantID: q.Get("tenant"), UserID: q.Get("user")}}, q.Get("return_to"))
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return &extEnv{env: env, ext: ext, url: hs.URL}
}

type extBrowser struct {
	t      *testing.T
	e      *extEnv
	client *http.Client
}

func (e *extEnv) browser(t *testing.T) *extBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &extBrowser{t: t, e: e, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *extBrowser) do(method, path string, form url.Values, csrfHeader string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if csrfHeader != "" {
		req.Header.Set(web.CSRFHeader, csrfHeader)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{Status: resp.StatusCode, Header: resp.Header, Body: string(got), Location: resp.Header.Get("Location")}
}

func (b *extBrowser) get(path string) page { return b.do("GET", path, nil, "") }

func (b *extBrowser) signedIn(tenant, user, returnTo string) page {
	b.t.Helper()
	return b.get("/ext/signed-in?" + url.Values{"tenant": {tenant}, "user": {user}, "return_to": {returnTo}}.Encode())
}

func (b *extBrowser) cookie() string {
	u, _ := url.Parse(b.e.url)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == web.SessionCookie {
			return c.Value
		}
	}
	return ""
}

func (b *extBrowser) me() (map[string]any, int) {
	b.t.Helper()
	p := b.get("/api/v1/me")
	var out map[string]any
	_ = json.Unmarshal([]byte(p.Body), &out)
	return out, p.Status
}

func TestExternalSessions(t *testing.T) {
	e := newExtEnv(t)
	erin := relay.Principal{TenantID: extTenant, UserID: "acc-erin", Username: "acc-erin", DisplayName: "Erin External", Admin: true}
	e.ext.add(erin)

	t.Run("the login page offers the external sign-in next to the password form, returning to the page asked for", func(t *testing.T) {
		p := e.browser(t).get("/login?next=" + url.QueryEscape("/issues/ABC-1?summary=Fix"))
		want := `href="/ext/start?return_to=%2Fissues%2FABC-1%3Fsummary%3DFix"`
		if !strings.Contains(p.Body, want) || !strings.Contains(p.Body, "Sign in elsewhere") || !strings.Contains(p.Body, `name="password"`) {
			t.Errorf("login page lacks %s next to the password form:\n%s", want, p.Body)
		}
	})

	t.Run("without an external directory the login page has the password form only", func(t *testing.T) {
		v := newVisitor(t, e.env)
		if p := v.get("/login"); strings.Contains(p.Body, "external-sign-in") {
			t.Error("the login page offers an external sign-in that is not configured")
		}
	})

	t.Run("a signed-in external user has a session resolved by the external directory", func(t *testing.T) {
		b := e.browser(t)
		p := b.signedIn(extTenant, "acc-erin", "/settings/tokens")
		if p.Status != http.StatusSeeOther || p.Location != "/settings/tokens" {
			t.Fatalf("sign-in answered %d to %q, want 303 to /settings/tokens", p.Status, p.Location)
		}
		if !strings.Contains(p.Header.Get("Set-Cookie"), "HttpOnly") {
			t.Errorf("session cookie %q is not HttpOnly", p.Header.Get("Set-Cookie"))
		}
		me, status := b.me()
		if status != http.StatusOK || me["id"] != "acc-erin" || me["display_name"] != "Erin External" || me["admin"] != true {
			t.Errorf("/api/v1/me: got %d %v, want erin as the external directory describes her", status, me)
		}
	})

	tests := []struct {
		name     string
		tenant   string
		returnTo string
		wantLoc  string
	}{
		{"a return_to on another site sends home instead", extTenant, "//evil.example/steal", "/"},
		{"an absolute return_to sends home instead", extTenant, "https://evil.example/", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.browser(t).signedIn(tt.tenant, "acc-erin", tt.returnTo)
			if p.Status != http.StatusSeeOther || p.Location != tt.wantLoc {
				t.Errorf("got %d to %q, want 303 to %q", p.Status, p.Location, tt.wantLoc)
			}
		})
	}

	t.Run("an external sign-in never opens a session in the built-in tenant", func(t *testing.T) {
		b := e.browser(t)
		u, err := e.env.DB.UserByUsername(context.Background(), relay.LocalTenant, "admin")
		if err != nil {
			t.Fatal(err)
		}
		p := b.signedIn(relay.LocalTenant, u.ID, "/")
		if p.Status < 500 || b.cookie() != "" {
			t.Errorf("got %d with cookie %v, want a failure and no session", p.Status, b.cookie() != "")
		}
	})

	t.Run("signing in replaces the browser's previous session", func(t *testing.T) {
		v := newVisitor(t, e.env)
		v.signIn("bob", bobPassword)
		old := v.sessionCookie().Value
		b := e.browser(t)
		u, _ := url.Parse(e.url)
		b.client.Jar.SetCookies(u, []*http.Cookie{{Name: web.SessionCookie, Value: old}})
		b.signedIn(extTenant, "acc-erin", "/")
		if b.cookie() == old {
			t.Fatal("the previous session's token was kept")
		}
		if _, err := e.env.DB.Session(context.Background(), directory.HashToken(old)); relay.ErrorCode(err) != relay.ENotFound {
			t.Errorf("the previous session: got %v, want it deleted", err)
		}
	})

	t.Run("external users have no gitrelay password to change", func(t *testing.T) {
		b := e.browser(t)
		b.signedIn(extTenant, "acc-erin", "/")
		if p := b.get("/settings/password"); p.Status != http.StatusForbidden {
			t.Errorf("password page: got %d, want 403", p.Status)
		}
		if p := b.get("/settings/tokens"); strings.Contains(p.Body, `href="/settings/password"`) {
			t.Error("the page header links an external user to a password page")
		}
	})

	t.Run("a session the external directory no longer knows asks to sign in again", func(t *testing.T) {
		frank := relay.Principal{TenantID: extTenant, UserID: "acc-frank", Username: "acc-frank", DisplayName: "Frank"}
		e.ext.add(frank)
		b := e.browser(t)
		b.signedIn(extTenant, "acc-frank", "/")
		e.ext.mu.Lock()
		delete(e.ext.users, [2]string{extTenant, "acc-frank"})
		e.ext.mu.Unlock()
		if p := b.get("/settings/tokens"); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/login?") {
			t.Errorf("got %d to %q, want a redirect to the login page", p.Status, p.Location)
		}
		if _, status := b.me(); status != http.StatusUnauthorized {
			t.Errorf("API: got %d, want 401", status)
		}
	})

	t.Run("signing out ends the external sign-in and every session of the user", func(t *testing.T) {
		gina := relay.Principal{TenantID: extTenant, UserID: "acc-gina", Username: "acc-gina", DisplayName: "Gina"}
		e.ext.add(gina)
		first, second := e.browser(t), e.browser(t)
		first.signedIn(extTenant, "acc-gina", "/")
		second.signedIn(extTenant, "acc-gina", "/")
		csrf := csrfField.FindStringSubmatch(first.get("/settings/tokens").Body)
		if csrf == nil {
			t.Fatal("no CSRF token on the page")
		}
		p := first.do("POST", "/logout", url.Values{"csrf": {csrf[1]}}, "")
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/login") {
			t.Fatalf("sign-out: got %d to %q", p.Status, p.Location)
		}
		e.ext.mu.Lock()
		out := append([]relay.Principal(nil), e.ext.signedOut...)
		e.ext.mu.Unlock()
		if len(out) != 1 || out[0] != gina {
			t.Errorf("signed out of the external directory: got %+v, want gina", out)
		}
		// Bring gina back in the directory: the second browser's session
		// row itself must be gone.
		e.ext.add(gina)
		if _, status := second.me(); status != http.StatusUnauthorized {
			t.Errorf("gina's other browser after sign-out: got %d, want 401", status)
		}
	})
}
