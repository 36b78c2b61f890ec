package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
	"github.com/gitrelay/gitrelay/internal/vault"
)

func TestSignIn(t *testing.T) {
	env := newEnv(t)

	t.Run("a wrong password is refused with what to do", func(t *testing.T) {
		v := newVisitor(t, env)
		p := v.post("/login", url.Values{"username": {"bob"}, "password": {"not-bobs-password"}})
		if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "Wrong username or password") {
			t.Fatalf("got %d, want 401 saying wrong username or password", p.Status)
		}
		if v.sessionCookie() != nil {
			t.Fatal("a refused sign-in set a session cookie")
		}
	})

	t.Run("the session cookie is HttpOnly and SameSite, and only its hash is stored", func(t *testing.T) {
		v := newVisitor(t, env)
		p := v.post("/login", url.Values{"username": {"bob"}, "password": {bobPassword}})
		set := p.Header.Get("Set-Cookie")
		for _, want := range []string{"gitrelay_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
			if !strings.Contains(set, want) {
				t.Errorf("Set-Cookie %q lacks %s", set, want)
			}
		}
		if strings.Contains(set, "Secure") {
			t.Errorf("Set-Cookie %q is Secure on plain HTTP without an https public URL: the browser would drop it", set)
		}
		c := v.sessionCookie()
		s, err := env.DB.Session(context.Background(), directory.HashToken(c.Value))
		if err != nil {
			t.Fatalf("the session is not stored by the hash of its token: %v", err)
		}
		if string(s.TokenHash) == c.Value {
			t.Fatal("the stored session holds the token itself")
		}
	})

	t.Run("next sends back to a page on this site only", func(t *testing.T) {
		for next, want := range map[string]string{
			"/issues/ABC-1":          "/issues/ABC-1",
			"//evil.example/x":       "/",
			"https://evil.example/x": "/",
			`/\evil.example`:         "/",
		} {
			v := newVisitor(t, env)
			p := v.post("/login", url.Values{"username": {"bob"}, "password": {bobPassword}, "next": {next}})
			if p.Location != want {
				t.Errorf("next=%q redirected to %q, want %q", next, p.Location, want)
			}
		}
	})

	t.Run("signing out ends the session for good", func(t *testing.T) {
		v := newVisitor(t, env)
		v.signIn("bob", bobPassword)
		old := v.sessionCookie()
		v.post("/logout", url.Values{"csrf": {v.csrf()}})
		replay := newVisitor(t, env)
		u, _ := url.Parse(env.URL)
		replay.client.Jar.SetCookies(u, []*http.Cookie{old})
		if p := replay.get("/settings/tokens"); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/login") {
			t.Fatalf("the signed-out cookie still opens pages: %d %s", p.Status, p.Location)
		}
	})

	t.Run("pages need a session and send to sign-in with the way back", func(t *testing.T) {
		p := newVisitor(t, env).get("/issues/ABC-1?summary=x")
		if p.Status != http.StatusSeeOther || p.Location != "/login?next=%2Fissues%2FABC-1%3Fsummary%3Dx" {
			t.Fatalf("got %d to %q, want 303 to sign-in with next", p.Status, p.Location)
		}
	})
}

func TestSecureCookieBehindHTTPSPublicURL(t *testing.T) {
	db := storetest.SQLite(t)
	keys, err := vault.NewStaticKeys(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	a := app.New(app.Config{DB: db, Sealer: keys, PublicURL: "https://gitrelay.example.com"})
	password, err := app.Bootstrap(context.Background(), db, a.Directory, "")
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"username": {"admin"}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	a.Server.Handler().ServeHTTP(rec, req)
	if set := rec.Header().Get("Set-Cookie"); !strings.Contains(set, "Secure") {
		t.Fatalf("behind an https public URL the cookie is %q, want Secure", set)
	}
}

func TestCSRF(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)
	token := v.csrf()
	form := url.Values{"branches_enabled": {"on"}, "pull_requests_enabled": {"on"}, "branch_template": {"${issuekey}"},
		"separator": {"_"}, "max_branch_length": {"100"}}

	tests := []struct {
		name       string
		csrf       string
		site       string
		wantStatus int
	}{
		{"a form without the token is refused", "", "same-origin", http.StatusForbidden},
		{"a form with another token is refused", "forged", "same-origin", http.StatusForbidden},
		{"a form sent from another site is refused", token, "cross-site", http.StatusForbidden},
		{"a same-site form with the token is accepted", token, "same-origin", http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := url.Values{}
			for k, vs := range form {
				f[k] = vs
			}
			if tt.csrf != "" {
				f.Set("csrf", tt.csrf)
			}
			req, _ := http.NewRequest("POST", env.URL+"/admin/settings", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", tt.site)
			p := v.do(req)
			if p.Status != tt.wantStatus {
				t.Fatalf("got %d, want %d\n%s", p.Status, tt.wantStatus, p.Body)
			}
			st := env.Do("GET", "/api/v1/settings", env.Admin, nil).JSON()
			saved := st["separator"] == "_"
			if saved != (tt.wantStatus == http.StatusSeeOther) {
				t.Fatalf("settings saved = %v after answer %d", saved, p.Status)
			}
			if tt.wantStatus == http.StatusForbidden && !strings.Contains(p.Body, "again") {
				t.Errorf("the refusal does not say what to do next:\n%s", p.Body)
			}
		})
	}
}

func TestAPIAcceptsBrowserSession(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(false, nil)
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	env.SaveToken(env.Bob, id, apptest.BobToken)

	api := func(method, path, csrf string) page {
		req, _ := http.NewRequest(method, env.URL+path, nil)
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		return v.do(req)
	}
	t.Run("a read with the session cookie is the signed-in user", func(t *testing.T) {
		p := api("GET", "/api/v1/me", "")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `"bob"`) {
			t.Fatalf("got %d %s, want bob", p.Status, p.Body)
		}
	})
	t.Run("a write without the CSRF header is refused and changes nothing", func(t *testing.T) {
		p := api("DELETE", "/api/v1/me/tokens/"+id, "")
		if p.Status != http.StatusForbidden {
			t.Fatalf("got %d, want 403", p.Status)
		}
		if st := env.Do("GET", "/api/v1/me/tokens/"+id, env.Bob, nil).JSON()["status"]; st != "valid" {
			t.Fatalf("token status = %v after a refused delete, want valid", st)
		}
	})
	t.Run("a write with the page's CSRF token is accepted", func(t *testing.T) {
		p := api("DELETE", "/api/v1/me/tokens/"+id, v.csrf())
		if p.Status != http.StatusNoContent {
			t.Fatalf("got %d %s, want 204", p.Status, p.Body)
		}
	})
	t.Run("without cookie or token the API still asks for a token", func(t *testing.T) {
		if r := env.Do("GET", "/api/v1/me", "", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("got %d, want 401", r.Status)
		}
	})
}

var inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>`)

func TestPagesCarrySecurityHeadersAndNoInlineScript(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(true, nil)
	v := newVisitor(t, env)
	if p := v.get("/login"); p.Header.Get("Content-Security-Policy") == "" {
		t.Fatal("the sign-in page has no Content-Security-Policy")
	}
	v.signIn("admin", adminPassword)
	for _, path := range []string{"/", "/issues/ABC-1", "/settings/tokens", "/settings/password", "/admin/integrations",
		"/admin/integrations/new", "/admin/integrations/" + id, "/admin/integrations/" + id + "/delete", "/admin/settings",
		"/admin/audit", "/admin/directory"} {
		p := v.get(path)
		if p.Status != http.StatusOK {
			t.Errorf("%s: status %d", path, p.Status)
			continue
		}
		csp := p.Header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q allows inline code", path, csp)
		}
		for _, tag := range inlineScript.FindAllString(p.Body, -1) {
			if !strings.Contains(tag, "src=") {
				t.Errorf("%s: inline script %s", path, tag)
			}
		}
		if strings.Contains(p.Body, " style=") || strings.Contains(p.Body, " onclick=") {
			t.Errorf("%s: inline style or handler, which the CSP blocks", path)
		}
		if got := p.Header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", path, got)
		}
	}
}

func TestAdminPagesRefuseUsers(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	for _, path := range []string{"/admin/integrations", "/admin/settings", "/admin/audit", "/admin/audit.csv", "/admin/directory"} {
		p := v.get(path)
		if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Only administrators") {
			t.Errorf("%s: got %d, want 403 saying only administrators", path, p.Status)
		}
	}
	p := v.post("/admin/projects", url.Values{"csrf": {v.csrf()}, "key": {"HACK"}})
	if p.Status != http.StatusForbidden {
		t.Errorf("adding a project as bob: %d, want 403", p.Status)
	}
}

func TestTokensPage(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(true, nil)
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	csrf := v.csrf()

	t.Run("the way back accepts only issue pages of this site", func(t *testing.T) {
		for back, want := range map[string]bool{"/issues/ABC-1": true, "https://evil.example/issues/ABC-1": false,
			"//evil.example/issues/ABC-1": false, "/admin/integrations": false} {
			p := v.get("/settings/tokens?" + url.Values{"integration": {id}, "return_to": {back}}.Encode())
			got := strings.Contains(p.Body, `href="`+back+`"`)
			if got != want {
				t.Errorf("return_to=%q offered as a link: %v, want %v", back, got, want)
			}
		}
	})

	t.Run("saving a valid token offers the way back to the issue", func(t *testing.T) {
		p := v.post("/settings/tokens/"+id, url.Values{"csrf": {csrf}, "token": {apptest.BobToken}, "return_to": {"/issues/ABC-1"}})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("got %d, want 303\n%s", p.Status, p.Body)
		}
		page := v.get(p.Location)
		if !strings.Contains(page.Body, `id="return-link" href="/issues/ABC-1"`) || !strings.Contains(page.Body, "Valid as "+apptest.BobLogin) {
			t.Fatalf("after saving, the page lacks the way back or the valid status:\n%s", page.Body)
		}
	})

	t.Run("a token the host rejects is refused with the reason and not saved", func(t *testing.T) {
		p := v.submit("/settings/tokens/"+id, url.Values{"csrf": {csrf}, "token": {"ghp_CANARYunknown000000000000000000000009"}})
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "rejected this token") {
			t.Fatalf("got %d, want 422 saying the host rejected it", p.Status)
		}
		if st := env.Do("GET", "/api/v1/me/tokens/"+id, env.Bob, nil).JSON()["status"]; st != "valid" {
			t.Fatalf("the earlier valid token was replaced: status %v", st)
		}
	})

	t.Run("the filter keeps matching integrations", func(t *testing.T) {
		if p := v.get("/settings/tokens?q=nomatch"); strings.Contains(p.Body, `id="integration-`+id+`"`) {
			t.Error("the filter kept an integration whose name does not match")
		}
		if p := v.get("/settings/tokens?q=gh"); !strings.Contains(p.Body, `id="integration-`+id+`"`) {
			t.Error("the filter dropped a matching integration (case-insensitive)")
		}
	})

	t.Run("remove deletes the token", func(t *testing.T) {
		p := v.post("/settings/tokens/"+id+"/remove", url.Values{"csrf": {csrf}})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("got %d", p.Status)
		}
		if st := env.Do("GET", "/api/v1/me/tokens/"+id, env.Bob, nil).JSON()["status"]; st != "missing" {
			t.Fatalf("status after remove = %v, want missing", st)
		}
	})

	for _, secret := range []string{apptest.BobToken, apptest.BotToken, "ghp_CANARYunknown000000000000000000000009", bobPassword} {
		if strings.Contains(v.seen.String(), secret) {
			t.Errorf("a page showed the secret %.12s…", secret)
		}
	}
}

func TestIssuePageActions(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(false, nil)
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	csrf := v.csrf()

	t.Run("the branch name is pre-filled from the template with summary and type", func(t *testing.T) {
		p := v.get("/issues/abc-5?summary=Crash+on+start&type=Bug")
		if !strings.Contains(p.Body, `value="ABC-5-crash-on-start"`) {
			t.Fatalf("the dialog does not pre-fill ABC-5-crash-on-start")
		}
	})

	var branch string
	t.Run("create branch with make default stores the default and lists the branch", func(t *testing.T) {
		p := v.post("/issues/ABC-5/branches", url.Values{"csrf": {csrf}, "integration_id": {id}, "repository_id": {env.RepoID},
			"name": {"ABC-5-crash-on-start"}, "summary": {"Crash on start"}, "make_default": {"on"}})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("got %d\n%s", p.Status, p.Body)
		}
		page := v.get(p.Location)
		if !strings.Contains(page.Body, "Branch ABC-5-crash-on-start was created.") || !strings.Contains(page.Body, env.HostURL) {
			t.Fatalf("the panel does not announce and link the branch:\n%s", page.Body)
		}
		branch = "ABC-5-crash-on-start"
		d, err := env.DB.RepoDefault(context.Background(), relay.LocalTenant, userID(t, env.DB, "bob"), "ABC")
		if err != nil || d.RepositoryID != env.RepoID || d.IntegrationID != id {
			t.Fatalf("default = %+v, %v; want the chosen repository", d, err)
		}
		if other := v.get("/issues/ABC-9"); !strings.Contains(other.Body, `value="`+apptest.Repo+`"`) {
			t.Error("another ABC issue does not pre-select the default repository")
		}
	})

	t.Run("a failure says what happened on the issue page", func(t *testing.T) {
		p := v.submit("/issues/ABC-5/branches", url.Values{"csrf": {csrf}, "integration_id": {id}, "repository_id": {env.RepoID},
			"name": {"no key here"}})
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, `id="action-error"`) {
			t.Fatalf("got %d, want 422 with the error on the page", p.Status)
		}
	})

	t.Run("delete asks first, then deletes", func(t *testing.T) {
		q := url.Values{"integration_id": {id}, "repository_id": {env.RepoID}, "name": {branch}}
		confirm := v.get("/issues/ABC-5/branches/delete?" + q.Encode())
		if confirm.Status != http.StatusOK || !strings.Contains(confirm.Body, "Delete branch "+branch+"?") {
			t.Fatalf("no confirmation page: %d", confirm.Status)
		}
		q.Set("csrf", csrf)
		if p := v.post("/issues/ABC-5/branches/delete", q); p.Status != http.StatusSeeOther {
			t.Fatalf("delete: %d\n%s", p.Status, p.Body)
		}
		if _, ok := env.Sim.Branches(apptest.Repo)[branch]; ok {
			t.Fatal("the branch is still on the host")
		}
	})

	t.Run("create pull request from the dialog", func(t *testing.T) {
		env.Sim.AddBranch(apptest.Repo, "ABC-5-feature", "")
		p := v.post("/issues/ABC-5/pull-requests", url.Values{"csrf": {csrf}, "integration_id": {id}, "repository_id": {env.RepoID},
			"source": {"ABC-5-feature"}, "target": {"main"}, "title": {"ABC-5 Crash on start"}})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("got %d\n%s", p.Status, p.Body)
		}
		if page := v.get(p.Location); !strings.Contains(page.Body, "ABC-5 Crash on start") {
			t.Fatal("the pull request is not listed")
		}
	})

	t.Run("a draft created as a regular pull request says so, not that one already existed", func(t *testing.T) {
		env.Sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "nodrafts", DraftsUnsupported: true, Writers: []string{apptest.BotLogin}})
		// The host's repository list is read again only after the minimum
		// interval between reads.
		env.Advance(action.MinRepositoryReadInterval)
		repos := env.Do("GET", "/api/v1/integrations/"+id+"/repositories?q=nodrafts", env.Bob, nil).List()
		if len(repos) != 1 {
			t.Fatalf("repositories = %v", repos)
		}
		nodrafts := repos[0]["id"].(string)
		env.Sim.AddBranch("acme/nodrafts", "ABC-5-draft", "")
		p := v.post("/issues/ABC-5/pull-requests", url.Values{"csrf": {csrf}, "integration_id": {id}, "repository_id": {nodrafts},
			"source": {"ABC-5-draft"}, "target": {"main"}, "title": {"ABC-5 Draft wanted"}, "draft": {"on"}})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("got %d\n%s", p.Status, p.Body)
		}
		page := v.get(p.Location)
		if strings.Contains(page.Body, "already existed") {
			t.Error("the page says the pull request already existed; it was created as a regular pull request")
		}
		if !strings.Contains(page.Body, "created as a regular pull request") {
			t.Error("the page does not say the draft was created as a regular pull request")
		}
		if !strings.Contains(page.Body, "ABC-5 Draft wanted") {
			t.Error("the pull request is not listed")
		}
	})
}

func TestAuditPage(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(false, nil)
	env.CreateBranch(env.Bob, id, "ABC-1-audit")
	env.CreateBranch(env.Carol, id, "ABC-1-refused")
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)

	t.Run("filters narrow the table", func(t *testing.T) {
		p := v.get("/admin/audit?user=carol")
		if !strings.Contains(p.Body, "refused") || strings.Contains(p.Body, "ABC-1-audit") {
			t.Fatalf("filtering on carol shows other users' events or misses hers")
		}
	})
	t.Run("a bad date says how to write one", func(t *testing.T) {
		if p := v.get("/admin/audit?since=yesterday"); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "2026-01-31") {
			t.Fatalf("got %d, want 422 with an example date", p.Status)
		}
	})
	t.Run("CSV export has a header and the filtered rows", func(t *testing.T) {
		p := v.get("/admin/audit.csv?action=branch.create")
		if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Fatalf("content type %q", ct)
		}
		rows, err := csv.NewReader(strings.NewReader(p.Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 3 || rows[0][0] != "id" {
			t.Fatalf("got %d rows (%v), want a header and the two branch.create events", len(rows), rows)
		}
		for _, r := range rows[1:] {
			if r[3] != "branch.create" {
				t.Errorf("row of action %q in a branch.create export", r[2])
			}
		}
	})
	t.Run("a write whose outcome is not known yet is listed and filtered as pending", func(t *testing.T) {
		w := relay.HostWrite{Event: relay.AuditEvent{ID: relay.NewID(), TenantID: relay.LocalTenant, Username: "bob",
			Action: relay.ActionBranchCreate, IntegrationID: id, Repository: apptest.Repo, Ref: "ABC-1-in-flight",
			IssueKey: "ABC-1", Via: relay.ViaIntegration, Login: apptest.BotLogin}, RepositoryID: env.RepoID}
		if err := env.DB.BeginHostWrite(context.Background(), w); err != nil {
			t.Fatal(err)
		}
		p := v.get("/admin/audit?outcome=pending")
		if !strings.Contains(p.Body, "ABC-1-in-flight") || strings.Contains(p.Body, "ABC-1-audit") ||
			!strings.Contains(p.Body, `<option selected>pending</option>`) || !strings.Contains(p.Body, `<span class="status warn">pending</span>`) {
			t.Fatalf("the pending filter does not show the pending write alone:\n%s", p.Body)
		}
		if !strings.Contains(p.Body, "<option >unknown</option>") {
			t.Error("the outcome filter does not offer unknown")
		}
	})
}

// Refused requests are audited with the fields their sender chose: no
// cell of either export (the page's and the API's, one exporter) reaches
// a spreadsheet as a formula, and both exports are the same bytes.
func TestAuditExportsAreOneFormulaSafeCSV(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(false, nil)
	formulas := []string{`=HYPERLINK("http://x","y")`, "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"}
	for _, f := range formulas {
		// carol has no View Development Tools: refused, audited as sent.
		r := env.Do("POST", "/api/v1/issues/ABC-1/branches", env.Carol, map[string]any{
			"integration_id": f, "repository_id": f, "name": f, "base": f})
		if r.Status != http.StatusForbidden && r.Status != http.StatusNotFound {
			t.Fatalf("carol's request: got %d %s, want a refusal", r.Status, r.Body)
		}
	}
	// And one through a real integration with a formula as the ref.
	env.CreateBranch(env.Carol, id, formulas[0])
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)

	page := v.get("/admin/audit.csv?user=carol")
	api := env.Do("GET", "/api/v1/audit?user=carol&format=csv", env.Admin, nil)
	if page.Status != http.StatusOK || api.Status != http.StatusOK {
		t.Fatalf("exports: page %d, API %d", page.Status, api.Status)
	}
	if page.Body != string(api.Body) {
		t.Errorf("the page's and the API's exports differ:\npage:\n%s\nAPI:\n%s", page.Body, api.Body)
	}
	rows, err := csv.NewReader(strings.NewReader(page.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(formulas)+2 {
		t.Fatalf("got %d rows, want a header and %d events", len(rows), len(formulas)+1)
	}
	refs := 0
	for _, row := range rows[1:] {
		for i, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("column %s holds a formula: %q", rows[0][i], cell)
			}
			if rows[0][i] == "ref" && strings.HasPrefix(cell, "'") {
				refs++
			}
		}
	}
	if refs != len(formulas)+1 {
		t.Errorf("%d refs neutralised with a quote, want %d", refs, len(formulas)+1)
	}
}

func TestChangePasswordSignsOutOtherBrowsers(t *testing.T) {
	env := newEnv(t)
	here, there := newVisitor(t, env), newVisitor(t, env)
	here.signIn("bob", bobPassword)
	there.signIn("bob", bobPassword)
	csrf := here.csrf()

	if p := here.submit("/settings/password", url.Values{"csrf": {csrf}, "current": {"wrong"}, "new": {"new-password-0001"}, "confirm": {"new-password-0001"}}); p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a wrong current password: %d, want 422", p.Status)
	}
	if p := here.post("/settings/password", url.Values{"csrf": {csrf}, "current": {bobPassword}, "new": {"new-password-0001"}, "confirm": {"new-password-0001"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("changing the password: %d\n%s", p.Status, p.Body)
	}
	if p := here.get("/settings/tokens"); p.Status != http.StatusOK {
		t.Errorf("this browser was signed out: %d", p.Status)
	}
	if p := there.get("/settings/tokens"); p.Status != http.StatusSeeOther {
		t.Errorf("the other browser is still signed in: %d", p.Status)
	}
	again := newVisitor(t, env)
	again.signIn("bob", "new-password-0001")
}

func TestDirectoryPage(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)
	csrf := v.csrf()
	if p := v.submit("/admin/users", url.Values{"csrf": {csrf}, "username": {"dave"}}); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "initial password") {
		t.Fatalf("a user without a password: %d, want 422 asking for one", p.Status)
	}
	if p := v.post("/admin/users", url.Values{"csrf": {csrf}, "username": {"dave"}, "password": {"dave-password-01"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("adding dave: %d\n%s", p.Status, p.Body)
	}
	if p := v.post("/admin/projects", url.Values{"csrf": {csrf}, "key": {"NEW"}, "name": {"New"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("adding a project: %d", p.Status)
	}
	if p := v.post("/admin/grants", url.Values{"csrf": {csrf}, "project": {"NEW"}, "username": {"dave"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("granting: %d", p.Status)
	}
	dave := newVisitor(t, env)
	dave.signIn("dave", "dave-password-01")
	if p := dave.get("/issues/NEW-1"); !strings.Contains(p.Body, `id="development"`) {
		t.Fatal("dave, granted View Development Tools on NEW, sees no panel")
	}
}

func userID(t *testing.T, db *store.DB, username string) string {
	t.Helper()
	u, err := db.UserByUsername(context.Background(), relay.LocalTenant, username)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestAddIntegrationPage(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)
	csrf := v.csrf()

	t.Run("every registered kind is offered", func(t *testing.T) {
		p := v.get("/admin/integrations/new")
		for _, k := range env.App.Hosts.Kinds() {
			if !strings.Contains(p.Body, `<option value="`+string(k)+`"`) {
				t.Errorf("kind %s is not offered", k)
			}
		}
	})

	form := func(token string) url.Values {
		return url.Values{"csrf": {csrf}, "kind": {"github-enterprise"}, "name": {"Company GHE"}, "base_url": {env.HostURL},
			"token": {token}, "projects_mode": {"restrict"}, "projects": {"abc, XYZ"}, "require_user_pat": {"on"}}
	}
	t.Run("a credential the host rejects is refused with the reason", func(t *testing.T) {
		p := v.submit("/admin/integrations", form("ghp_CANARYwrong0000000000000000000000000008"))
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "rejected the integration credential") {
			t.Fatalf("got %d, want 422 saying the host rejected the credential\n%s", p.Status, p.Body)
		}
		if strings.Contains(p.Body, "ghp_CANARYwrong") {
			t.Fatal("the refused credential is echoed back in the page")
		}
	})
	t.Run("a valid integration is saved with its association and Require User PAT", func(t *testing.T) {
		p := v.post("/admin/integrations", form(apptest.BotToken))
		if p.Status != http.StatusSeeOther {
			t.Fatalf("got %d\n%s", p.Status, p.Body)
		}
		list := env.Do("GET", "/api/v1/integrations", env.Admin, nil).List()
		if len(list) != 1 {
			t.Fatalf("got %d integrations, want 1", len(list))
		}
		in := list[0]
		if in["require_user_pat"] != true || in["name"] != "Company GHE" {
			t.Errorf("saved %v", in)
		}
		if got := in["projects"]; len(got.([]any)) != 2 {
			t.Errorf("projects = %v, want ABC and XYZ", got)
		}
		if page := v.get(p.Location); !strings.Contains(page.Body, "created and its credential validated") {
			t.Error("the settings page does not confirm the creation")
		}
	})
}

func TestRequireUserPATOnTFSWithoutPATsWarns(t *testing.T) {
	env := newEnv(t, apptest.TFSWithPassword("2015"))
	id := env.Integration(false, nil)
	admin := newVisitor(t, env)
	admin.signIn("admin", adminPassword)
	p := admin.submit("/admin/integrations/"+id, url.Values{"csrf": {admin.csrf()}, "name": {"TFS"}, "enabled": {"on"},
		"projects_mode": {"all"}, "require_user_pat": {"on"}})
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "data-warning") || !strings.Contains(p.Body, "no personal access tokens") {
		t.Fatalf("ticking Require User PAT for TFS 2015: %d, want the page with the warning\n%s", p.Status, p.Body)
	}
	if in := env.Do("GET", "/api/v1/integrations/"+id, env.Admin, nil).JSON(); in["require_user_pat"] != true {
		t.Fatal("the setting was not saved")
	}
	bob := newVisitor(t, env)
	bob.signIn("bob", bobPassword)
	if page := bob.get("/settings/tokens"); !strings.Contains(page.Body, "Impossible on this server version") || strings.Contains(page.Body, `id="token-`+id+`"`) {
		t.Error("User settings offers a token field for a server without PATs, or does not say why not")
	}
	page := bob.submit("/issues/ABC-1/branches", url.Values{"csrf": {bob.csrf()}, "integration_id": {id}, "repository_id": {env.RepoID}, "name": {"ABC-1-x"}})
	if page.Status != http.StatusUnprocessableEntity || !strings.Contains(page.Body, `id="action-error"`) {
		t.Fatalf("creating a branch through it: %d, want 422 with the explanation", page.Status)
	}
}

func TestTokenStatusSaysWhenItExpires(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(true, nil)
	tests := []struct {
		name  string
		in    time.Duration
		wants []string
	}{
		{"a token expiring within a week is expiring soon", 3*24*time.Hour + time.Hour, []string{"Expiring soon", "expires in 4 days"}},
		{"a token expiring later is valid with its expiry", 40 * 24 * time.Hour, []string{"Valid as " + apptest.BobLogin, "expires in 40 days"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			value := fmt.Sprintf("ghp_CANARYexpiring%022d", i)
			exp := time.Now().Add(tt.in).UTC().Truncate(time.Second)
			tok := env.Fixture.Token(value)
			tok.ExpiresAt = &exp
			env.Sim.AddToken(tok)
			if r := env.SaveToken(env.Bob, id, value); r.Status != http.StatusOK {
				t.Fatalf("saving: %d %s", r.Status, r.Body)
			}
			v := newVisitor(t, env)
			v.signIn("bob", bobPassword)
			body := v.get("/settings/tokens").Body
			for _, want := range tt.wants {
				if !strings.Contains(body, want) {
					t.Errorf("the page does not say %q", want)
				}
			}
		})
	}
}

func TestUnknownPageSaysSo(t *testing.T) {
	env := newEnv(t)
	p := newVisitor(t, env).get("/no/such/page")
	if p.Status != http.StatusNotFound || !strings.Contains(p.Body, "There is no page at /no/such/page") {
		t.Fatalf("got %d, want 404 naming the path", p.Status)
	}
	if r := env.Do("GET", "/api/v1/no-such-route", env.Admin, nil); r.Status != http.StatusNotFound || r.Code() != relay.ENotFound {
		t.Fatalf("unknown API routes answer %d %s, want the JSON not_found", r.Status, r.Body)
	}
}

// Guessing passwords is throttled: after repeated failures even the right
// password is refused for a while, with what to do; other users are not
// affected.
func TestSignInIsThrottled(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	for i := 0; i < 10; i++ {
		if p := v.post("/login", url.Values{"username": {"carol"}, "password": {"guess"}}); p.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, p.Status)
		}
	}
	p := v.post("/login", url.Values{"username": {"carol"}, "password": {carolPassword}})
	if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, "Try again in") || p.Header.Get("Retry-After") == "" {
		t.Fatalf("after 10 failures: %d (Retry-After %q)", p.Status, p.Header.Get("Retry-After"))
	}
	if v.sessionCookie() != nil {
		t.Fatal("a throttled sign-in set a session cookie")
	}
	if p := newVisitor(t, env).post("/login", url.Values{"username": {"bob"}, "password": {bobPassword}}); p.Status != http.StatusSeeOther {
		t.Fatalf("another user's sign-in: %d", p.Status)
	}
}

// Health and Test connection ask the host now: a credential revoked at the
// host shows at once, whatever the repository cache holds.
func TestConnectionChecksAreLive(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(false, nil)
	// Warm the repository cache.
	if l := env.Do("GET", "/api/v1/integrations/"+id+"/repositories", env.Admin, nil).List(); len(l) == 0 {
		t.Fatal("no repositories listed")
	}
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)
	if p := v.get("/admin/integrations"); !strings.Contains(p.Body, "Connected") {
		t.Fatalf("a working integration is not shown as connected:\n%s", p.Body)
	}
	env.Sim.RevokeToken(apptest.BotToken)
	if p := v.get("/admin/integrations"); strings.Contains(p.Body, ">Connected<") || !strings.Contains(p.Body, "credential") {
		t.Fatalf("a revoked credential still shows as connected:\n%s", p.Body)
	}
	csrf := v.csrf()
	p := v.submit("/admin/integrations/"+id+"/test", url.Values{"csrf": {csrf}})
	if !strings.Contains(p.Body, "Connection failed") {
		t.Fatalf("Test connection with a revoked credential:\n%s", p.Body)
	}
}
