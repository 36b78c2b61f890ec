package hostsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
)

// gitLabWorld is a simulated GitLab under the relative root /gitlab with
// one private project alice develops in, one public project she may only
// read, and tokens of several scopes.
func gitLabWorld(t *testing.T) (*hostsim.Sim, *httptest.Server) {
	t.Helper()
	sim := hostsim.New()
	srv := httptest.NewServer(sim.GitLabUnder("/gitlab"))
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Writers: []string{"alice"}})
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "gadgets", Readers: []string{"alice"}})
	exp := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	sim.AddToken(hostsim.Token{Value: "glpat-api", Login: "alice", Name: "Alice Liddell", Scopes: []string{"api"}, ExpiresAt: &exp})
	sim.AddToken(hostsim.Token{Value: "glpat-read", Login: "alice", Scopes: []string{"read_api"}})
	sim.AddToken(hostsim.Token{Value: "glpat-git", Login: "alice", Scopes: []string{"write_repository"}})
	return sim, srv
}

// glDo sends a request to the simulated GitLab API with a PRIVATE-TOKEN.
func glDo(t *testing.T, srv *httptest.Server, method, path, token, body string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+"/gitlab/api/v4"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("PRIVATE-TOKEN", token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if strings.HasPrefix(strings.TrimSpace(a.raw), "[") {
		_ = json.Unmarshal(raw, &a.list)
	} else {
		_ = json.Unmarshal(raw, &a.body)
	}
	return a
}

func TestGitLabRefusesTokensAsGitLabDoes(t *testing.T) {
	sim, srv := gitLabWorld(t)
	sim.AddToken(hostsim.Token{Value: "glpat-revoked", Login: "alice", Scopes: []string{"api"}})
	sim.RevokeToken("glpat-revoked")
	sim.AddToken(hostsim.Token{Value: "glpat-expired", Login: "alice", Scopes: []string{"api"}})
	sim.ExpireToken("glpat-expired")
	for _, tc := range []struct {
		name, token, path string
		status            int
		field, want       string
	}{
		{"unknown token", "glpat-nope", "/user", 401, "message", "401 Unauthorized"},
		{"revoked token", "glpat-revoked", "/user", 401, "error_description", "Token was revoked. You have to re-authorize from the user."},
		{"expired token", "glpat-expired", "/user", 401, "error_description", "Token is expired. You can either do re-authorization or token refresh."},
		{"git-only token reads no API", "glpat-git", "/projects/1296269", 403, "error", "insufficient_scope"},
		{"read_api token writes nothing", "glpat-read", "/projects/1296269/repository/branches", 403, "scope", "api"},
		{"hidden project", "", "/projects/acme%2Fwidgets", 404, "message", "404 Project Not Found"},
		{"reporter cannot create branches", "glpat-api", "/projects/acme%2Fgadgets/repository/branches", 403, "message", "403 Forbidden"},
		{"unknown route", "glpat-api", "/nothing/here", 404, "error", "404 Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method, body := "GET", ""
			if strings.HasSuffix(tc.path, "/branches") {
				method, body = "POST", `{"branch":"x","ref":"main"}`
			}
			a := glDo(t, srv, method, tc.path, tc.token, body)
			if a.status != tc.status || a.body[tc.field] != tc.want {
				t.Errorf("%s %s = %d %s, want %d with %s %q", method, tc.path, a.status, a.raw, tc.status, tc.field, tc.want)
			}
		})
	}
}

func TestGitLabTokenSelfReportsScopesAndExpiry(t *testing.T) {
	sim, srv := gitLabWorld(t)
	a := glDo(t, srv, "GET", "/personal_access_tokens/self", "glpat-git", "")
	if a.status != 200 || a.body["expires_at"] != nil || a.body["active"] != true || a.body["revoked"] != false {
		t.Errorf("self = %d %s, want an active token that never expires", a.status, a.raw)
	}
	if scopes, _ := a.body["scopes"].([]any); len(scopes) != 1 || scopes[0] != "write_repository" {
		t.Errorf("scopes = %v, want [write_repository]", a.body["scopes"])
	}
	// GitLab keeps expiry dates: a token expiring at any second of a day
	// shows that day.
	if a := glDo(t, srv, "GET", "/personal_access_tokens/self", "glpat-api", ""); a.body["expires_at"] != "2027-01-31" {
		t.Errorf("expires_at = %v, want 2027-01-31", a.body["expires_at"])
	}
	exact := time.Date(2027, 2, 1, 13, 14, 15, 0, time.UTC)
	sim.AddToken(hostsim.Token{Value: "glpat-exact", Login: "alice", Scopes: []string{"api"}, ExpiresAt: &exact})
	if a := glDo(t, srv, "GET", "/personal_access_tokens/self", "glpat-exact", ""); a.body["expires_at"] != "2027-02-01" {
		t.Errorf("expires_at = %v, want 2027-02-01", a.body["expires_at"])
	}
	if u := glDo(t, srv, "GET", "/user", "glpat-api", ""); u.body["username"] != "alice" || u.body["name"] != "Alice Liddell" {
		t.Errorf("user = %s", u.raw)
	}
}

func TestGitLabListsProjectsByMembershipWithKeysetPages(t *testing.T) {
	sim, srv := gitLabWorld(t)
	for _, name := range []string{"p1", "p2", "p3"} {
		sim.AddRepo(hostsim.Repo{Owner: "alice", Name: name})
	}
	q := "/projects?membership=true&min_access_level=30&simple=true&pagination=keyset&order_by=id&sort=asc&per_page=2"
	a := glDo(t, srv, "GET", q, "glpat-read", "")
	if a.status != 200 || len(a.list) != 2 || a.list[0]["path_with_namespace"] != "acme/widgets" || a.list[1]["path_with_namespace"] != "alice/p1" {
		t.Fatalf("page 1 = %d %s, want acme/widgets and alice/p1 (gadgets: reporter only)", a.status, a.raw)
	}
	link := a.header.Get("Link")
	next, ok := strings.CutPrefix(strings.TrimSuffix(link, `>; rel="next"`), "<"+srv.URL+"/gitlab/api/v4")
	if !ok || !strings.Contains(next, "id_after=") {
		t.Fatalf("Link = %q, want a keyset next link", link)
	}
	b := glDo(t, srv, "GET", next, "glpat-read", "")
	if len(b.list) != 2 || b.list[0]["path_with_namespace"] != "alice/p2" || b.header.Get("Link") != "" {
		t.Errorf("page 2 = %s (Link %q), want alice/p2, alice/p3 and no next link", b.raw, b.header.Get("Link"))
	}
	if ns, _ := a.list[1]["namespace"].(map[string]any); ns["kind"] != "user" {
		t.Errorf("alice's namespace = %v, want a user namespace", a.list[1]["namespace"])
	}
	s := glDo(t, srv, "GET", "/projects?membership=true&search=WIDG", "glpat-read", "")
	if len(s.list) != 1 || s.list[0]["web_url"] != srv.URL+"/gitlab/acme/widgets" || s.header.Get("X-Total") != "1" {
		t.Errorf("search = %s, want widgets only, with offset headers", s.raw)
	}
}

func TestGitLabBranchesAndMergeRequests(t *testing.T) {
	sim, srv := gitLabWorld(t)
	main := sim.Branches("acme/widgets")["main"]
	a := glDo(t, srv, "POST", "/projects/acme%2Fwidgets/repository/branches", "glpat-api", `{"branch":"feature/ABC-1","ref":"main"}`)
	if a.status != 201 || a.body["web_url"] != srv.URL+"/gitlab/acme/widgets/-/tree/feature/ABC-1" {
		t.Fatalf("create = %d %s", a.status, a.raw)
	}
	if c, _ := a.body["commit"].(map[string]any); c["id"] != main {
		t.Errorf("created at %v, want main's %s", a.body["commit"], main)
	}
	for _, tc := range []struct {
		body, want string
	}{
		{`{"branch":"feature/ABC-1","ref":"main"}`, "Branch already exists"},
		{`{"branch":"feature","ref":"main"}`, "Failed to create branch 'feature'"},
		{`{"branch":"bad..name","ref":"main"}`, "Branch name is invalid"},
		{`{"branch":"ABC-2","ref":"0000000000000000000000000000000000000000"}`, "Invalid reference name: 0000000000000000000000000000000000000000"},
	} {
		r := glDo(t, srv, "POST", "/projects/1296269/repository/branches", "glpat-api", tc.body)
		if msg, _ := r.body["message"].(string); r.status != 400 || !strings.HasPrefix(msg, tc.want) {
			t.Errorf("create %s = %d %s, want 400 %q", tc.body, r.status, r.raw, tc.want)
		}
	}
	if r := glDo(t, srv, "GET", "/projects/1296269/repository/branches/feature%2FABC-1", "glpat-read", ""); r.status != 200 || r.body["name"] != "feature/ABC-1" {
		t.Errorf("get = %d %s", r.status, r.raw)
	}
	if r := glDo(t, srv, "GET", "/projects/1296269/repository/branches?search=%5Efeat", "glpat-read", ""); len(r.list) != 1 {
		t.Errorf("search ^feat = %s, want feature/ABC-1", r.raw)
	}

	mr := `{"source_branch":"feature/ABC-1","target_branch":"main","title":"Draft: ABC-1 Fix","description":"Fixes ABC-1."}`
	m := glDo(t, srv, "POST", "/projects/1296269/merge_requests", "glpat-api", mr)
	if m.status != 201 || m.body["iid"] != 1.0 || m.body["draft"] != true || m.body["web_url"] != srv.URL+"/gitlab/acme/widgets/-/merge_requests/1" {
		t.Fatalf("create MR = %d %s", m.status, m.raw)
	}
	again := glDo(t, srv, "POST", "/projects/1296269/merge_requests", "glpat-api", mr)
	if list, _ := again.body["message"].([]any); again.status != 409 || len(list) != 1 || list[0] != "Another open merge request already exists for this source branch: !1" {
		t.Errorf("again = %d %s, want 409 naming !1", again.status, again.raw)
	}
	found := glDo(t, srv, "GET", "/projects/1296269/merge_requests?state=opened&source_branch=feature%2FABC-1", "glpat-read", "")
	if len(found.list) != 1 || found.list[0]["state"] != "opened" {
		t.Errorf("list = %s", found.raw)
	}
	if on := sim.PullRequests("acme/widgets"); len(on) != 1 || !on[0].Draft || on[0].Author != "alice" || on[0].Body != "Fixes ABC-1." {
		t.Errorf("host has %+v", on)
	}
	if r := glDo(t, srv, "POST", "/projects/1296269/merge_requests", "glpat-api", `{"source_branch":"nope","target_branch":"main","title":"x"}`); r.status != 409 || !strings.Contains(r.raw, `Source branch \"nope\" does not exist`) {
		t.Errorf("missing source = %d %s", r.status, r.raw)
	}
	if r := glDo(t, srv, "POST", "/projects/1296269/merge_requests", "glpat-api", `{"source_branch":"feature/ABC-1","target_branch":"main"}`); r.status != 400 || r.body["error"] != "title is missing" {
		t.Errorf("no title = %d %s", r.status, r.raw)
	}

	if r := glDo(t, srv, "DELETE", "/projects/1296269/repository/branches/main", "glpat-api", ""); r.status != 405 {
		t.Errorf("delete default = %d %s, want 405", r.status, r.raw)
	}
	if r := glDo(t, srv, "DELETE", "/projects/1296269/repository/branches/feature%2FABC-1", "glpat-api", ""); r.status != 204 {
		t.Errorf("delete = %d %s", r.status, r.raw)
	}
	if r := glDo(t, srv, "DELETE", "/projects/1296269/repository/branches/feature%2FABC-1", "glpat-api", ""); r.status != 404 || r.body["message"] != "404 Branch Not Found" {
		t.Errorf("delete again = %d %s", r.status, r.raw)
	}

	var logged []string
	for _, w := range sim.Writes() {
		logged = append(logged, string(w.Op)+" "+w.Repo+" "+w.Ref+" "+w.Login)
		if strings.Contains(w.Token, "glpat") {
			t.Errorf("the write log holds a token: %+v", w)
		}
	}
	if logged[0] != "create_branch acme/widgets feature/ABC-1 alice" || logged[len(logged)-1] != "delete_branch acme/widgets feature/ABC-1 alice" {
		t.Errorf("write log = %q", logged)
	}
}

func TestGitLabFaults(t *testing.T) {
	sim, srv := gitLabWorld(t)
	sim.Inject(hostsim.Fault{Op: hostsim.OpListBranches, RetryAfter: 42 * time.Second, Times: 1})
	a := glDo(t, srv, "GET", "/projects/1296269/repository/branches", "glpat-api", "")
	if a.status != 429 || a.header.Get("Retry-After") != "42" || a.header.Get("RateLimit-Remaining") != "0" ||
		a.header.Get("RateLimit-Reset") == "" || strings.TrimSpace(a.raw) != "Retry later" {
		t.Errorf("rate limited = %d %v %q", a.status, a.header, a.raw)
	}
	sim.Inject(hostsim.Fault{Op: hostsim.OpCreateBranch, Status: http.StatusBadGateway, Times: 1})
	b := glDo(t, srv, "POST", "/projects/1296269/repository/branches", "glpat-api", `{"branch":"x","ref":"main"}`)
	if b.status != 502 || !strings.HasPrefix(b.header.Get("Content-Type"), "text/html") {
		t.Errorf("bad gateway = %d %s", b.status, b.header.Get("Content-Type"))
	}
	sim.Inject(hostsim.Fault{Op: hostsim.OpGetRepo, Status: http.StatusInternalServerError, Times: 1})
	if c := glDo(t, srv, "GET", "/projects/1296269", "glpat-api", ""); c.status != 500 || c.body["message"] != "500 Internal Server Error" {
		t.Errorf("server error = %d %s", c.status, c.raw)
	}
	if ws := sim.Writes(); len(ws) != 1 || ws[0].Status != 502 || ws[0].Ref != "x" {
		t.Errorf("write log = %+v, want the one refused creation", ws)
	}
}

func TestGitLabTokenPageEscapes(t *testing.T) {
	_, srv := gitLabWorld(t)
	resp, err := http.Get(srv.URL + "/gitlab/-/user_settings/personal_access_tokens?name=%3Cscript%3E&scopes=api")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.Contains(string(page), "<script>") || !strings.Contains(string(page), "&lt;script&gt;") || !strings.Contains(string(page), "api") {
		t.Errorf("token page = %d %s", resp.StatusCode, page)
	}
}
