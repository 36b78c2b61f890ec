package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
	"github.com/gitrelay/gitrelay/internal/vault"
)

// replicaKey is the secret key every replica of the tests shares.
const replicaKey = "GITRELAY_SECRET_KEY=bXlzZWNyZXRrZXlteXNlY3JldGtleW15c2VjcmV0a2U="

// Replicas started at the same moment on an empty PostgreSQL database all
// come up: exactly one creates the first administrator and shows its
// password, the others wait for it.
func TestReplicasStartingTogetherBootstrapOnce(t *testing.T) {
	env := baseEnv("GITRELAY_DATA="+t.TempDir(), "GITRELAY_DATABASE_URL="+storetest.EmptyPostgresURL(t), replicaKey)
	const n = 4
	starting := make([]*startingProc, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			starting[i] = startServe(t, env)
		}()
	}
	wg.Wait()
	passwords := 0
	for _, s := range starting {
		p := s.wait()
		if strings.Contains(p.stdout.String(), "Password (shown once)") {
			passwords++
		}
	}
	if passwords != 1 {
		t.Fatalf("%d replicas showed an administrator password, want exactly 1", passwords)
	}
}

// adminPassword reads the password the bootstrapping replica showed.
var adminPasswordLine = regexp.MustCompile(`Password \(shown once\): (\S+)`)

// browser is a client without cookie jar magic: it keeps the session
// cookie itself, so the test sees which replica gets it.
type browser struct {
	t       *testing.T
	session string
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (b *browser) do(p *proc, method, path string, form url.Values) (int, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, p.url+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.session != "" {
		req.AddCookie(&http.Cookie{Name: "gitrelay_session", Value: b.session})
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.Name == "gitrelay_session" {
			b.session = c.Value
		}
	}
	return resp.StatusCode, string(raw)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// Two replicas on one PostgreSQL database and one key file are
// interchangeable: a session started on one works on the other, with its
// CSRF token; a revoked API token is refused by the other at once (also
// on the issue routes, where the token is checked with the first read,
// and so is a revoked grant); a branch created or deleted through one
// shows on the other's panel at its next read, though each keeps issues'
// records in memory; wrong passwords counted by one block on the other;
// and `gitrelay keys rotate` while both serve loses no request, each
// opening what the other sealed under the new key.
func TestReplicasAreInterchangeable(t *testing.T) {
	data := t.TempDir()
	keyFile := filepath.Join(data, "secret.key")
	if _, err := vault.NewFileKeys(keyFile, vault.FileOptions{Create: true}); err != nil {
		t.Fatal(err)
	}
	env := baseEnv("GITRELAY_DATA="+data, "GITRELAY_DATABASE_URL="+storetest.EmptyPostgresURL(t),
		"GITRELAY_SECRET_KEY_FILE="+keyFile, "GITRELAY_EGRESS_ALLOW=127.0.0.0/8")
	sim := hostsim.New()
	t.Cleanup(sim.Close)
	hs := httptest.NewServer(sim.Handler())
	t.Cleanup(hs.Close)
	sim.AddToken(hostsim.Token{Value: botPAT, Login: "bot", Scopes: []string{"repo"}})
	sim.AddToken(hostsim.Token{Value: bobPAT, Login: "bob-gh", Scopes: []string{"repo"}})
	repo := sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "api", Private: true, Writers: []string{"bot", "bob-gh"}})
	repoID := fmt.Sprint(repo.ID)

	a := serve(t, env)
	b := serve(t, env)
	m := adminPasswordLine.FindStringSubmatch(a.stdout.String())
	if m == nil {
		t.Fatalf("the first replica showed no administrator password: %s", a.stdout)
	}
	password := m[1]
	mustGitrelay(t, env, "projects", "add", "ABC", "--name", "Alpha")
	mustGitrelay(t, env, "users", "add", "bob", "--name", "Bob")
	mustGitrelay(t, env, "projects", "grant", "ABC", "bob")
	admin := strings.TrimSpace(mustGitrelay(t, env, "users", "api-token", "admin"))

	t.Run("a session started on one replica works on the other, CSRF included", func(t *testing.T) {
		br := &browser{t: t}
		if status, body := br.do(a, "POST", "/login", url.Values{"username": {"admin"}, "password": {password}}); status != http.StatusSeeOther {
			t.Fatalf("sign in on A: %d %s", status, body)
		}
		status, page := br.do(b, "GET", "/admin/directory", nil)
		if status != http.StatusOK {
			t.Fatalf("the directory page on B with A's session: %d", status)
		}
		csrf := csrfField.FindStringSubmatch(page)
		if csrf == nil {
			t.Fatal("no CSRF token on B's page")
		}
		if status, body := br.do(b, "POST", "/admin/projects", url.Values{"csrf": {csrf[1]}, "key": {"XYZ"}, "name": {"Xyz"}}); status != http.StatusSeeOther {
			t.Fatalf("a form posted to B with the token B's page showed: %d %s", status, body)
		}
		// The token the page on B showed is the one A's pages show.
		if status, _ := br.do(a, "POST", "/admin/projects", url.Values{"csrf": {csrf[1]}, "key": {"XYA"}, "name": {"Xya"}}); status != http.StatusSeeOther {
			t.Fatalf("a form posted to A with the token of B's page: %d", status)
		}
		if status, body := br.do(a, "POST", "/admin/projects", url.Values{"csrf": {"forged"}, "key": {"XYB"}, "name": {"Xyb"}}); status != http.StatusForbidden {
			t.Fatalf("a form with a forged CSRF token: %d %s", status, body)
		}
		if status, _ := br.do(b, "POST", "/logout", url.Values{"csrf": {csrf[1]}}); status != http.StatusSeeOther {
			t.Fatalf("sign out on B: %d", status)
		}
		if status, _ := br.do(a, "GET", "/admin/directory", nil); status != http.StatusSeeOther {
			t.Fatalf("A still accepts a session signed out on B: %d", status)
		}
	})

	t.Run("an API token revoked on one replica is refused by the other at once", func(t *testing.T) {
		status, body, _ := a.do("POST", "/api/v1/users/bob/api-tokens", admin, map[string]any{"name": "script"})
		if status != http.StatusCreated {
			t.Fatalf("create token on A: %d %v", status, body)
		}
		tok, id := body["token"].(string), body["id"].(string)
		if status, body, _ := b.do("GET", "/api/v1/me", tok, nil); status != http.StatusOK {
			t.Fatalf("the new token on B: %d %v", status, body)
		}
		if status, body, _ := a.do("DELETE", "/api/v1/users/bob/api-tokens/"+id, admin, nil); status != http.StatusNoContent {
			t.Fatalf("revoke on A: %d %v", status, body)
		}
		if status, _, _ := b.do("GET", "/api/v1/me", tok, nil); status != http.StatusUnauthorized {
			t.Fatalf("the revoked token on B: %d, want 401", status)
		}
	})

	// A replica takes the user of an API token it authenticated moments
	// ago from memory on the issue routes, and checks the token and the
	// grant with the request's first database read: a change made on the
	// other replica applies to its next request.
	t.Run("a grant or an API token removed on one replica is refused on the other's next issue request", func(t *testing.T) {
		mustGitrelay(t, env, "projects", "add", "DEF", "--name", "Delta")
		mustGitrelay(t, env, "projects", "grant", "DEF", "bob")
		status, body, _ := a.do("POST", "/api/v1/users/bob/api-tokens", admin, map[string]any{"name": "panel"})
		if status != http.StatusCreated {
			t.Fatalf("create token on A: %d %v", status, body)
		}
		tok, id := body["token"].(string), body["id"].(string)
		for i := range 3 {
			if status, body, _ := b.do("GET", "/api/v1/issues/DEF-1/development", tok, nil); status != http.StatusOK {
				t.Fatalf("panel read %d on B: %d %v", i+1, status, body)
			}
		}
		if status, body, _ := a.do("DELETE", "/api/v1/projects/DEF/grants?username=bob", admin, nil); status != http.StatusNoContent {
			t.Fatalf("revoke the grant on A: %d %v", status, body)
		}
		if status, _, _ := b.do("GET", "/api/v1/issues/DEF-1/development", tok, nil); status != http.StatusForbidden {
			t.Fatalf("panel read on B after the grant was revoked on A: %d, want 403", status)
		}
		mustGitrelay(t, env, "projects", "grant", "DEF", "bob")
		if status, body, _ := b.do("GET", "/api/v1/issues/DEF-1/development", tok, nil); status != http.StatusOK {
			t.Fatalf("panel read on B after the grant was given again: %d %v", status, body)
		}
		if status, body, _ := a.do("DELETE", "/api/v1/users/bob/api-tokens/"+id, admin, nil); status != http.StatusNoContent {
			t.Fatalf("revoke the token on A: %d %v", status, body)
		}
		if status, _, _ := b.do("GET", "/api/v1/issues/DEF-1/development", tok, nil); status != http.StatusUnauthorized {
			t.Fatalf("panel read on B with the token revoked on A: %d, want 401", status)
		}
		status, _, hdr := b.do("POST", "/api/v1/issues/DEF-1/branches", tok, map[string]any{
			"integration_id": "none", "repository_id": repoID})
		if status != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") == "" {
			t.Fatalf("create branch on B with the token revoked on A: %d (WWW-Authenticate %q), want 401 with the header",
				status, hdr.Get("WWW-Authenticate"))
		}
	})

	// Each replica keeps the issues' records for the panel, checked against
	// their version with every read: a branch created or deleted through
	// one replica shows on the other's panel at its next read.
	t.Run("a branch created or deleted on one replica shows on the other's panel at once", func(t *testing.T) {
		bob := strings.TrimSpace(mustGitrelay(t, env, "users", "api-token", "bob"))
		status, body, _ := a.do("POST", "/api/v1/integrations", admin, map[string]any{
			"kind": "github-enterprise", "name": "GHE panel", "base_url": hs.URL,
			"credential": map[string]string{"token": botPAT}, "projects": nil})
		if status != http.StatusCreated {
			t.Fatalf("create integration: %d %v", status, body)
		}
		id := body["id"].(string)
		branches := func() []string {
			t.Helper()
			status, body, _ := b.do("GET", "/api/v1/issues/ABC-900/development", bob, nil)
			if status != http.StatusOK {
				t.Fatalf("panel read on B: %d %v", status, body)
			}
			names := []string{}
			for _, br := range body["branches"].([]any) {
				names = append(names, br.(map[string]any)["name"].(string))
			}
			return names
		}
		for range 2 {
			if got := branches(); len(got) != 0 {
				t.Fatalf("branches before: %v, want none", got)
			}
		}
		status, body, _ = a.do("POST", "/api/v1/issues/ABC-900/branches", bob, map[string]any{
			"integration_id": id, "repository_id": repoID, "name": "ABC-900-panel"})
		if status != http.StatusCreated {
			t.Fatalf("create branch on A: %d %v", status, body)
		}
		if got := branches(); len(got) != 1 || got[0] != "ABC-900-panel" {
			t.Fatalf("branches on B after A created one: %v, want [ABC-900-panel]", got)
		}
		status, body, _ = a.do("DELETE", "/api/v1/issues/ABC-900/branches?integration_id="+id+"&repository_id="+repoID+"&name=ABC-900-panel", bob, nil)
		if status != http.StatusNoContent && status != http.StatusOK {
			t.Fatalf("delete branch on A: %d %v", status, body)
		}
		if got := branches(); len(got) != 0 {
			t.Fatalf("branches on B after A deleted it: %v, want none", got)
		}
	})

	t.Run("wrong passwords counted on one replica block on the other", func(t *testing.T) {
		br := &browser{t: t}
		for i := range 10 {
			p := a
			if i%2 == 1 {
				p = b
			}
			if status, _ := br.do(p, "POST", "/login", url.Values{"username": {"bob"}, "password": {"wrong password"}}); status != http.StatusUnauthorized {
				t.Fatalf("wrong password %d: %d, want 401", i+1, status)
			}
		}
		for name, p := range map[string]*proc{"A": a, "B": b} {
			if status, _ := br.do(p, "POST", "/login", url.Values{"username": {"bob"}, "password": {"wrong password"}}); status != http.StatusTooManyRequests {
				t.Errorf("replica %s after 10 wrong passwords over both: %d, want 429", name, status)
			}
		}
	})

	t.Run("keys rotate while both serve loses no request", func(t *testing.T) {
		bob := strings.TrimSpace(mustGitrelay(t, env, "users", "api-token", "bob"))
		status, body, _ := a.do("POST", "/api/v1/integrations", admin, map[string]any{
			"kind": "github-enterprise", "name": "GHE", "base_url": hs.URL,
			"credential": map[string]string{"token": botPAT}, "require_user_pat": true, "projects": nil})
		if status != http.StatusCreated {
			t.Fatalf("create integration: %d %v", status, body)
		}
		id := body["id"].(string)
		if status, body, _ := a.do("PUT", "/api/v1/me/tokens/"+id, bob, map[string]string{"token": bobPAT}); status != http.StatusOK {
			t.Fatalf("save PAT on A: %d %v", status, body)
		}
		branch := func(p *proc, n int) {
			t.Helper()
			status, body, _ := p.do("POST", "/api/v1/issues/ABC-"+fmt.Sprint(n)+"/branches", bob, map[string]any{
				"integration_id": id, "repository_id": repoID, "summary": "work"})
			if status != http.StatusCreated || body["acted_as"].(map[string]any)["via"] != "user_token" {
				t.Fatalf("create branch %d through %s: %d %v", n, p.url, status, body)
			}
		}

		// Requests go on, alternately to each replica, for as long as the
		// rotation runs.
		rotated := make(chan string, 1)
		go func() {
			out, err := gitrelay(t, env, "keys", "rotate")
			if err != nil {
				out = "FAILED: " + out
			}
			rotated <- out
		}()
		n := 1
		var out string
	load:
		for ; ; n++ {
			select {
			case out = <-rotated:
				break load
			default:
			}
			branch([]*proc{a, b}[n%2], n)
		}
		if !strings.Contains(out, "Generated a new primary key") {
			t.Fatalf("keys rotate: %s", out)
		}
		// A seals bob's PAT anew under the new key; B opens it.
		status, body, _ = a.do("PUT", "/api/v1/me/tokens/"+id, bob, map[string]string{"token": bobPAT})
		if status != http.StatusOK {
			t.Fatalf("save PAT on A after rotation: %d %v", status, body)
		}
		branch(b, n+1)
		branch(a, n+2)
		t.Logf("%d requests during the rotation", n)
	})
}
