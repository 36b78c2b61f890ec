package hostsim_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
)

// giteaWorld is a simulator serving the Gitea API with one private
// repository alice may push to, one public repository she may only read,
// and tokens of several scopes.
func giteaWorld(t *testing.T) (*hostsim.Sim, *httptest.Server) {
	t.Helper()
	sim := hostsim.New()
	srv := httptest.NewServer(sim.Gitea())
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Writers: []string{"alice"}})
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "gadgets", Readers: []string{"alice"}})
	for value, scopes := range map[string][]string{
		"full-alice":   {"write:repository", "read:user"},
		"read-alice":   {"read:repository", "read:user"},
		"user-alice":   {"read:user"},
		"public-alice": {"write:repository", "read:user", "public-only"},
		"all-alice":    {"all"},
		"legacy-alice": nil,
		"norepo-alice": {"write:issue"},
	} {
		sim.AddToken(hostsim.Token{Value: value, Login: "alice", Name: "Alice Liddell", Scopes: scopes})
	}
	return sim, srv
}

// giteaDo sends a request with "Authorization: token T" and decodes the
// answer.
func giteaDo(t *testing.T, srv *httptest.Server, method, path, token, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "token "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	_ = json.Unmarshal(raw, &a.list)
	return a
}

func TestGiteaScopesDecideAsGiteaDoes(t *testing.T) {
	_, srv := giteaWorld(t)
	create := `{"new_branch_name":"ABC-1"}`
	for _, tc := range []struct {
		name, token, method, path, body string
		status                          int
		says                            string
	}{
		{"identity with read:user", "read-alice", "GET", "/api/v1/user", "", 200, ""},
		{"identity without read:user", "norepo-alice", "GET", "/api/v1/user", "", 403, "required scope(s): [read:user]"},
		{"listing repositories needs the repository scope", "user-alice", "GET", "/api/v1/user/repos", "", 403, "required scope(s): [read:repository]"},
		{"reading a repository with read:repository", "read-alice", "GET", "/api/v1/repos/acme/widgets", "", 200, ""},
		{"creating a branch with read:repository", "read-alice", "POST", "/api/v1/repos/acme/widgets/branches", create, 403, "required scope(s): [write:repository]"},
		{"creating a branch in a private repository with a public-only token", "public-alice", "POST", "/api/v1/repos/acme/widgets/branches", create, 403, "limited to public repos"},
		{"creating a branch without push access", "full-alice", "POST", "/api/v1/repos/acme/gadgets/branches", create, 403, "permission to write"},
		{"creating a branch with the all scope", "all-alice", "POST", "/api/v1/repos/acme/widgets/branches", create, 201, ""},
		{"creating a branch with a token from before scopes", "legacy-alice", "POST", "/api/v1/repos/acme/widgets/branches", `{"new_branch_name":"ABC-2"}`, 201, ""},
		{"an unknown token", "nobody", "GET", "/api/v1/user", "", 401, "token is required"},
		{"no token", "", "GET", "/api/v1/user", "", 401, "token is required"},
		{"an unknown route", "full-alice", "GET", "/api/v1/nothing/here", "", 404, "couldn't be found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := giteaDo(t, srv, tc.method, tc.path, tc.token, tc.body)
			if a.status != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, a.status, a.raw, tc.status)
			}
			if tc.says != "" {
				msg, _ := a.body["message"].(string)
				url, _ := a.body["url"].(string)
				if !strings.Contains(msg, tc.says) || !strings.HasSuffix(url, "/api/swagger") {
					t.Errorf("body %s, want Gitea's {message, url} mentioning %q", a.raw, tc.says)
				}
			}
		})
	}
}

func TestGiteaBranchesAndConflicts(t *testing.T) {
	sim, srv := giteaWorld(t)
	main := sim.Branches("acme/widgets")["main"]
	other := sim.AddBranch("acme/widgets", "release/1.0", "")
	for _, tc := range []struct {
		name, body string
		status     int
		says, sha  string
	}{
		{"from a commit id", `{"new_branch_name":"a","old_ref_name":"` + other + `"}`, 201, "", other},
		{"from a branch name", `{"new_branch_name":"b","old_ref_name":"release/1.0"}`, 201, "", other},
		{"from the deprecated old_branch_name", `{"new_branch_name":"c","old_branch_name":"release/1.0"}`, 201, "", other},
		{"from the default branch", `{"new_branch_name":"d"}`, 201, "", main},
		{"a taken name", `{"new_branch_name":"a"}`, 409, "The branch already exists.", ""},
		{"a name in the way", `{"new_branch_name":"release"}`, 409, "The branch with the same name already exists.", ""},
		{"an invalid name", `{"new_branch_name":"a..b"}`, 422, "GitRefName", ""},
		{"a missing old branch", `{"new_branch_name":"e","old_branch_name":"nope"}`, 404, "The old branch does not exist", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := giteaDo(t, srv, "POST", "/api/v1/repos/acme/widgets/branches", "full-alice", tc.body)
			if a.status != tc.status {
				t.Fatalf("status %d %s, want %d", a.status, a.raw, tc.status)
			}
			if tc.sha != "" {
				commit, _ := a.body["commit"].(map[string]any)
				if commit["id"] != tc.sha {
					t.Errorf("branch at %v, want %s", commit["id"], tc.sha)
				}
			}
			if tc.says != "" && a.body["message"] != tc.says && !strings.Contains(a.raw, tc.says) {
				t.Errorf("body %s, want it to say %q", a.raw, tc.says)
			}
		})
	}
	if a := giteaDo(t, srv, "GET", "/api/v1/repos/acme/widgets/branches/release/1.0", "read-alice", ""); a.status != 200 || a.body["name"] != "release/1.0" {
		t.Errorf("GET a branch with a slash = %d %s", a.status, a.raw)
	}
	if a := giteaDo(t, srv, "DELETE", "/api/v1/repos/acme/widgets/branches/main", "full-alice", ""); a.status != 403 || a.body["message"] != "can not delete default branch" {
		t.Errorf("deleting the default branch = %d %s", a.status, a.raw)
	}
	if a := giteaDo(t, srv, "DELETE", "/api/v1/repos/acme/widgets/branches/release/1.0", "full-alice", ""); a.status != 204 {
		t.Errorf("deleting a branch = %d %s", a.status, a.raw)
	}
	if a := giteaDo(t, srv, "DELETE", "/api/v1/repos/acme/widgets/branches/release/1.0", "full-alice", ""); a.status != 404 {
		t.Errorf("deleting it again = %d %s", a.status, a.raw)
	}
}

func TestGiteaPaginatesWithLinksAndTotals(t *testing.T) {
	sim, srv := giteaWorld(t)
	for i := range 120 {
		sim.AddBranch("acme/widgets", fmt.Sprintf("b-%03d", i), "")
	}
	total := len(sim.Branches("acme/widgets"))
	a := giteaDo(t, srv, "GET", "/api/v1/repos/acme/widgets/branches?limit=500&page=1", "read-alice", "")
	if len(a.list) != 50 || a.header.Get("X-Total-Count") == "" || !strings.Contains(a.header.Get("Link"), `rel="next"`) {
		t.Errorf("page 1 with limit=500: %d items, total %q, Link %q; want 50 (the maximum), a total and a next link",
			len(a.list), a.header.Get("X-Total-Count"), a.header.Get("Link"))
	}
	a = giteaDo(t, srv, "GET", "/api/v1/repos/acme/widgets/branches?page=1", "read-alice", "")
	if len(a.list) != 30 {
		t.Errorf("default page size = %d, want 30", len(a.list))
	}
	last := (total + 49) / 50
	a = giteaDo(t, srv, "GET", "/api/v1/repos/acme/widgets/branches?limit=50&page="+strconv.Itoa(last), "read-alice", "")
	if strings.Contains(a.header.Get("Link"), `rel="next"`) || len(a.list) != total-(last-1)*50 {
		t.Errorf("last page: %d items, Link %q; want the rest and no next link", len(a.list), a.header.Get("Link"))
	}
}

func TestGiteaPullRequests(t *testing.T) {
	sim, srv := giteaWorld(t)
	sim.AddBranch("acme/widgets", "ABC-1", "")
	a := giteaDo(t, srv, "POST", "/api/v1/repos/acme/widgets/pulls", "full-alice", `{"title":"WIP: ABC-1 Fix","head":"ABC-1","base":"main"}`)
	if a.status != 201 || a.body["draft"] != true || !strings.HasSuffix(a.body["html_url"].(string), "/acme/widgets/pulls/1") {
		t.Fatalf("creating a WIP pull request = %d %s, want a draft", a.status, a.raw)
	}
	if on := sim.PullRequests("acme/widgets"); len(on) != 1 || !on[0].Draft || on[0].Author != "alice" {
		t.Errorf("host has %+v, want one draft by alice", on)
	}
	a = giteaDo(t, srv, "POST", "/api/v1/repos/acme/widgets/pulls", "full-alice", `{"title":"again","head":"ABC-1","base":"main"}`)
	if msg, _ := a.body["message"].(string); a.status != 409 || !strings.HasPrefix(msg, "pull request already exists for these targets [id: ") {
		t.Errorf("a second pull request = %d %s, want Gitea's 409", a.status, a.raw)
	}
	a = giteaDo(t, srv, "POST", "/api/v1/repos/acme/widgets/pulls", "full-alice", `{"title":"x","head":"nope","base":"main"}`)
	if a.status != 404 {
		t.Errorf("from a missing branch = %d %s, want 404", a.status, a.raw)
	}
	a = giteaDo(t, srv, "POST", "/api/v1/repos/acme/widgets/pulls", "full-alice", `{"title":"x","head":"main","base":"main"}`)
	if a.status != 422 {
		t.Errorf("from a branch to itself = %d %s, want 422", a.status, a.raw)
	}
	a = giteaDo(t, srv, "GET", "/api/v1/repos/acme/widgets/pulls?state=open&base_branch=main", "read-alice", "")
	if len(a.list) != 1 {
		t.Errorf("open pull requests into main = %s, want one", a.raw)
	} else if head, _ := a.list[0]["head"].(map[string]any); head["ref"] != "ABC-1" || head["repo_id"] == nil {
		t.Errorf("head = %v, want ref ABC-1 and its repo_id", head)
	}
	if a := giteaDo(t, srv, "GET", "/api/v1/repos/acme/widgets/pulls/1", "read-alice", ""); a.status != 200 || a.body["number"] != float64(1) {
		t.Errorf("GET pull 1 = %d %s", a.status, a.raw)
	}
}

func TestGiteaWritesAreLoggedAndFaultsAnswerAsAProxy(t *testing.T) {
	sim, srv := giteaWorld(t)
	sim.AddBranch("acme/widgets", "feature/x", "")
	giteaDo(t, srv, "POST", "/api/v1/repos/acme/widgets/branches", "full-alice", `{"new_branch_name":"ABC-9"}`)
	giteaDo(t, srv, "DELETE", "/api/v1/repos/acme/widgets/branches/feature/x", "full-alice", "")
	giteaDo(t, srv, "POST", "/api/v1/repos/acme/widgets/pulls", "full-alice", `{"title":"t","head":"ABC-9","base":"main"}`)
	var got []string
	for _, w := range sim.Writes() {
		if w.Token != hostsim.Fingerprint("full-alice") || strings.Contains(w.Token, "full-alice") || w.Login != "alice" {
			t.Errorf("write %+v, want alice's token fingerprint", w)
		}
		got = append(got, string(w.Op)+" "+w.Repo+" "+w.Ref)
	}
	want := []string{"create_branch acme/widgets ABC-9", "delete_branch acme/widgets feature/x", "create_pull_request acme/widgets ABC-9"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("write log = %q, want %q", got, want)
	}

	sim.Inject(hostsim.Fault{Op: hostsim.OpListBranches, RetryAfter: 1500 * time.Millisecond, Times: 1})
	a := giteaDo(t, srv, "GET", "/api/v1/repos/acme/widgets/branches", "full-alice", "")
	if a.status != 429 || a.header.Get("Retry-After") != "2" {
		t.Errorf("rate limited = %d, Retry-After %q; want 429 and 2", a.status, a.header.Get("Retry-After"))
	}
	sim.Inject(hostsim.Fault{Op: hostsim.OpIdentity, Status: 502, Times: 1})
	if a := giteaDo(t, srv, "GET", "/api/v1/user", "full-alice", ""); a.status != 502 || a.body["message"] == nil {
		t.Errorf("injected 502 = %d %s", a.status, a.raw)
	}
}

func TestGiteaTokenPageAndRepositoryByID(t *testing.T) {
	sim, srv := giteaWorld(t)
	a := giteaDo(t, srv, "GET", "/user/settings/applications", "", "")
	if a.status != 200 || !strings.Contains(a.header.Get("Content-Type"), "text/html") {
		t.Errorf("token page = %d %s", a.status, a.header.Get("Content-Type"))
	}
	r := sim.AddRepo(hostsim.Repo{Owner: "bob", Name: "secret", Private: true})
	if a := giteaDo(t, srv, "GET", "/api/v1/repositories/"+strconv.FormatInt(r.ID, 10), "full-alice", ""); a.status != 404 {
		t.Errorf("another's private repository by id = %d, want 404 (hidden)", a.status)
	}
	a = giteaDo(t, srv, "GET", "/api/v1/user/repos", "full-alice", "")
	if len(a.list) != 2 {
		t.Fatalf("alice's repositories = %s, want widgets and gadgets", a.raw)
	}
	for _, repo := range a.list {
		perms, _ := repo["permissions"].(map[string]any)
		if wantPush := repo["full_name"] == "acme/widgets"; perms["push"] != wantPush {
			t.Errorf("%v permissions %v, want push %v", repo["full_name"], perms, wantPush)
		}
	}
	if a := giteaDo(t, srv, "GET", "/api/v1/user/repos", "public-alice", ""); len(a.list) != 1 || a.list[0]["full_name"] != "acme/gadgets" {
		t.Errorf("a public-only token lists %s, want only the public repository", a.raw)
	}
}
