package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// newEnv boots gitrelay on SQLite with the harness users (admin, bob with
// View Development Tools on ABC, carol without) and gives them passwords.
func newEnv(t *testing.T, fixture ...apptest.Fixture) *apptest.Env {
	t.Helper()
	opts := apptest.Options{HostTimeout: 5 * time.Second}
	if len(fixture) > 0 {
		opts.Fixture = &fixture[0]
	}
	return newEnvWith(t, opts)
}

// newIndexEnv is newEnv with the index on (read by the test's own calls).
func newIndexEnv(t *testing.T) *apptest.Env {
	t.Helper()
	return newEnvWith(t, apptest.Options{HostTimeout: 5 * time.Second, Index: true})
}

// newEnvWith is newEnv with opts.
func newEnvWith(t *testing.T, opts apptest.Options) *apptest.Env {
	t.Helper()
	db := storetest.SQLite(t)
	env := apptest.New(t, db, opts)
	ctx := context.Background()
	for user, pw := range map[string]string{"admin": adminPassword, "bob": bobPassword, "carol": carolPassword} {
		u, err := db.UserByUsername(ctx, relay.LocalTenant, user)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.App.Directory.SetPassword(ctx, relay.LocalTenant, u.ID, pw); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

// visitor is a browser without a browser: a cookie jar and the pages it
// has seen.
type visitor struct {
	t      *testing.T
	env    *apptest.Env
	client *http.Client
	seen   strings.Builder
}

func newVisitor(t *testing.T, env *apptest.Env) *visitor {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &visitor{t: t, env: env, client: c}
}

type page struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

func (v *visitor) do(req *http.Request) page {
	v.t.Helper()
	resp, err := v.client.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		v.t.Fatal(err)
	}
	v.seen.Write(b)
	return page{Status: resp.StatusCode, Header: resp.Header, Body: string(b), Location: resp.Header.Get("Location")}
}

func (v *visitor) get(path string) page {
	v.t.Helper()
	req, err := http.NewRequest("GET", v.env.URL+path, nil)
	if err != nil {
		v.t.Fatal(err)
	}
	return v.do(req)
}

// post sends a form as a same-origin browser would.
func (v *visitor) post(path string, form url.Values) page {
	v.t.Helper()
	req, err := http.NewRequest("POST", v.env.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		v.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return v.do(req)
}

func (v *visitor) signIn(user, password string) {
	v.t.Helper()
	p := v.post("/login", url.Values{"username": {user}, "password": {password}})
	if p.Status != http.StatusSeeOther {
		v.t.Fatalf("signing in as %s: %d\n%s", user, p.Status, p.Body)
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a page's forms.
func (v *visitor) csrf() string {
	v.t.Helper()
	m := csrfField.FindStringSubmatch(v.get("/settings/password").Body)
	if m == nil {
		v.t.Fatal("no CSRF token on the page")
	}
	return m[1]
}

func (v *visitor) sessionCookie() *http.Cookie {
	u, _ := url.Parse(v.env.URL)
	for _, c := range v.client.Jar.Cookies(u) {
		if c.Name == "gitrelay_session" {
			return c
		}
	}
	return nil
}

// submit posts a form as a browser does and follows the redirect every
// form answers with (POST/redirect/GET), returning the page it leads to.
// A form answering anything but a redirect fails the test.
func (v *visitor) submit(path string, form url.Values) page {
	v.t.Helper()
	p := v.post(path, form)
	if p.Status != http.StatusSeeOther {
		v.t.Fatalf("POST %s: got %d, want 303 to the page that shows the outcome\n%s", path, p.Status, p.Body)
	}
	return v.get(p.Location)
}
