package gitlab_test

// Wire-level tests: the adapter against httptest servers replaying payloads
// shaped like GitLab's documented responses (testdata/), asserting every
// request's method, path, query, headers and body.

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host/gitlab"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// wireToken is a canary: no error, message or log may ever contain it.
const wireToken = "glpat-CANARYwire0123456789abcd"

var widgets = relay.Repository{
	ID: "3", Name: "Widgets", FullName: "acme/widgets",
	DefaultBranch: "main", WebURL: "https://gitlab.example.com/acme/widgets",
}

// exchange is one expected request and the answer replayed to it; Path is
// escaped, after /api/v4.
type exchange = hosttest.Exchange

// replay asserts every request's GitLab headers: the token goes in
// Private-Token, never in Authorization.
type replay = hosttest.Server

// newReplay replays script under the relative root, "" or "/gitlab".
func newReplay(t *testing.T, root string, script ...exchange) *replay {
	t.Helper()
	return hosttest.Options{
		hosttest.Prefix(root + "/api/v4"),
		hosttest.RequireHeaders(map[string]string{
			"Private-Token": wireToken,
			"User-Agent":    "gitrelay",
			"Accept":        "application/json",
			"Authorization": "",
		}),
		hosttest.ContentType(func(file string) string {
			switch filepath.Ext(file) {
			case ".txt":
				return "text/plain"
			case ".html":
				return "text/html; charset=utf-8"
			}
			return "application/json"
		}),
	}.Replay(t, script...)
}

// cloudClient is a gitlab-kind client talking to rp.
func cloudClient(t *testing.T, rp *replay) relay.HostClient {
	t.Helper()
	c, err := gitlab.Cloud(gitlab.WithURL(rp.URL)).NewClient(
		relay.HostConfig{Kind: gitlab.KindCloud}, relay.TokenCredential(wireToken), hosttest.LocalClient(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// selfManagedClient is a gitlab-self-managed client for a server under
// the relative root /gitlab.
func selfManagedClient(t *testing.T, rp *replay) relay.HostClient {
	t.Helper()
	c, err := gitlab.SelfManaged().NewClient(
		relay.HostConfig{Kind: gitlab.KindSelfManaged, BaseURL: rp.URL + "/gitlab"}, relay.TokenCredential(wireToken), hosttest.LocalClient(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// noToken fails when the canary shows in anything printed about v.
func noToken(t *testing.T, what string, v any) {
	t.Helper()
	printed := []string{fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v)}
	if err, ok := v.(error); ok {
		for e := err; e != nil; {
			printed = append(printed, e.Error())
			u, ok := e.(interface{ Unwrap() error })
			if !ok {
				break
			}
			e = u.Unwrap()
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
	printed = append(printed, buf.String())
	for _, p := range printed {
		if strings.Contains(p, wireToken) || strings.Contains(p, wireToken[6:20]) {
			t.Errorf("%s shows the token: %s", what, p)
			return
		}
	}
}

func wantCode(t *testing.T, err error, code string) *relay.Error {
	t.Helper()
	noToken(t, "the error", err)
	e, ok := relay.AsError(err)
	if !ok {
		t.Fatalf("error %v (%T), want a *relay.Error %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("code %s (%s), want %s", e.Code, e.Message, code)
	}
	return e
}

func TestValidateReadsTokenAndAccount(t *testing.T) {
	rp := newReplay(t, "/gitlab",
		exchange{Method: "GET", Path: "/personal_access_tokens/self", File: "token_self.json"},
		exchange{Method: "GET", Path: "/user", File: "user.json"},
	)
	c := selfManagedClient(t, rp)
	noToken(t, "the client", c)
	acc, err := c.Validate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// GitLab gives a date; the token stops working at midnight UTC.
	exp := time.Date(2026, 12, 21, 0, 0, 0, 0, time.UTC)
	if acc.Login != "jsmith" || acc.Name != "Jo Smith" || !slices.Equal(acc.Scopes, []string{"api", "read_user"}) ||
		acc.ExpiresAt == nil || !acc.ExpiresAt.Equal(exp) {
		t.Errorf("Validate = %+v (expires %v), want jsmith, scopes api+read_user, expiring %v", acc, acc.ExpiresAt, exp)
	}
}

// GitLab before 15.5 has no /personal_access_tokens/self: the account is
// still read, and scopes and expiry stay unknown.
func TestValidateOnAnOldServer(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/personal_access_tokens/self", Status: http.StatusNotFound, File: "err_route_not_found.json"},
		exchange{Method: "GET", Path: "/user", File: "user.json"},
	)
	acc, err := cloudClient(t, rp).Validate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if acc.Login != "jsmith" || acc.Scopes != nil || acc.ExpiresAt != nil {
		t.Errorf("Validate = %+v, want jsmith with unknown scopes and expiry", acc)
	}
}

// A token that may not even read its account is reported with its scopes,
// so that the caller refuses it for the missing api scope.
func TestValidateATokenWithoutAPIScopes(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/personal_access_tokens/self", File: "token_self_no_api.json"},
		exchange{Method: "GET", Path: "/user", Status: http.StatusForbidden, File: "err_insufficient_scope.json"},
	)
	acc, err := cloudClient(t, rp).Validate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	caps := gitlab.Cloud().Capabilities(relay.HostConfig{Kind: gitlab.KindCloud})
	if !slices.Equal(acc.Scopes, []string{"read_repository", "write_repository"}) || relay.MissingScope(caps.RequiredScopes, acc.Scopes) != "api" {
		t.Errorf("Validate = %+v, want the scopes, missing api", acc)
	}
}

func TestValidateRefusedTokens(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		says string
	}{
		{"expired", "err_token_expired.json", "Token is expired"},
		{"revoked", "err_token_revoked.json", "Token was revoked"},
		{"unknown", "err_unauthorized.json", "401 Unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := newReplay(t, "", exchange{Method: "GET", Path: "/personal_access_tokens/self", Status: http.StatusUnauthorized, File: tc.file,
				Header: map[string]string{"WWW-Authenticate": `Bearer realm="", error="invalid_token"`}})
			_, err := cloudClient(t, rp).Validate(t.Context())
			e := wantCode(t, err, relay.ECredentialRejected)
			if !strings.Contains(e.Message, tc.says) {
				t.Errorf("message %q does not quote GitLab's %q", e.Message, tc.says)
			}
		})
	}
}

func TestRepositoriesFollowsKeysetPagesAndFiltersByName(t *testing.T) {
	first := "membership=true&min_access_level=30&order_by=id&pagination=keyset&per_page=100&search=Widget&simple=true&sort=asc"
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/projects", Query: first, File: "projects_page1.json",
			Header: map[string]string{"Link": `<{server}/api/v4/projects?id_after=9&membership=true&min_access_level=30&order_by=id&pagination=keyset&per_page=100&search=Widget&simple=true&sort=asc>; rel="next"`}},
		exchange{Method: "GET", Path: "/projects", Query: "id_after=9&" + first, File: "projects_page2.json"},
	)
	repos, err := cloudClient(t, rp).Repositories(t.Context(), " Widget ")
	if err != nil {
		t.Fatal(err)
	}
	want := []relay.Repository{
		widgets,
		{ID: "27", Name: "Widget Docs", FullName: "acme/platform/widget-docs", DefaultBranch: "trunk", WebURL: "https://gitlab.example.com/acme/platform/widget-docs"},
	}
	if !reflect.DeepEqual(repos, want) {
		t.Errorf("Repositories = %+v\nwant %+v (gears matched on its description only)", repos, want)
	}
}

// A server without keyset pagination for projects answers with offset
// headers, which are followed instead.
func TestRepositoriesFollowsOffsetPages(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/projects", Query: "membership=true&min_access_level=30&order_by=id&pagination=keyset&per_page=100&simple=true&sort=asc",
			File: "projects_page1.json", Header: map[string]string{"X-Next-Page": "2", "X-Page": "1", "X-Per-Page": "100"}},
		exchange{Method: "GET", Path: "/projects", Query: "membership=true&min_access_level=30&order_by=id&page=2&per_page=100&simple=true&sort=asc", File: "projects_page2.json",
			Header: map[string]string{"X-Next-Page": "", "X-Page": "2", "X-Per-Page": "100"}},
	)
	repos, err := cloudClient(t, rp).Repositories(t.Context(), "")
	if err != nil || len(repos) != 3 {
		t.Errorf("Repositories = %+v, %v; want 3", repos, err)
	}
}

// A server that refuses keyset pagination for the listing (405) is asked
// again with offset pagination.
func TestRepositoriesWithoutKeysetPagination(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/projects", Query: "membership=true&min_access_level=30&order_by=id&pagination=keyset&per_page=100&simple=true&sort=asc",
			Status: http.StatusMethodNotAllowed, File: "err_keyset_unavailable.json"},
		exchange{Method: "GET", Path: "/projects", Query: "membership=true&min_access_level=30&order_by=id&per_page=100&simple=true&sort=asc",
			File: "projects_page2.json", Header: map[string]string{"X-Next-Page": ""}},
	)
	repos, err := cloudClient(t, rp).Repositories(t.Context(), "")
	if err != nil || len(repos) != 1 || repos[0].FullName != "acme/platform/widget-docs" {
		t.Errorf("Repositories = %+v, %v; want widget-docs", repos, err)
	}
}

func TestRepositoryByID(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/projects/3", File: "project.json"},
		exchange{Method: "GET", Path: "/projects/4", Status: http.StatusNotFound, File: "err_project_not_found.json"},
	)
	c := cloudClient(t, rp)
	r, err := c.Repository(t.Context(), "3")
	if err != nil || r != widgets {
		t.Errorf("Repository = %+v, %v; want %+v", r, err, widgets)
	}
	_, err = c.Repository(t.Context(), "4")
	wantCode(t, err, relay.ENotFound)
	_, err = c.Repository(t.Context(), "acme/widgets") // ids are numbers; no request
	wantCode(t, err, relay.ENotFound)
}

func TestBranchesAndBranch(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/projects/3/repository/branches", Query: "per_page=100&search=ABC", File: "branches.json",
			Header: map[string]string{"X-Next-Page": ""}},
		// A branch name's slashes and other characters are escaped in the path.
		exchange{Method: "GET", Path: "/projects/3/repository/branches/feat%231", File: "branch_legacy.json"},
		exchange{Method: "GET", Path: "/projects/3/repository/branches/feature%2Fgone", Status: http.StatusNotFound, File: "err_branch_not_found.json"},
	)
	c := cloudClient(t, rp)
	bs, err := c.Branches(t.Context(), widgets, "ABC")
	if err != nil {
		t.Fatal(err)
	}
	want := []relay.Branch{{Name: "feature/ABC-1", SHA: "7b5c3cc8be40ee161ae89a06bba6229da1032a0c", URL: "https://gitlab.example.com/acme/widgets/-/tree/feature/ABC-1"}}
	if !reflect.DeepEqual(bs, want) {
		t.Errorf("Branches(ABC) = %+v, want %+v", bs, want)
	}
	// An older GitLab sends no web_url: the link is built from the project's.
	b, err := c.Branch(t.Context(), widgets, "feat#1")
	if err != nil || b.SHA != "4ad91d3c1144c406e50c7b33bae684bd6837faf8" || b.URL != "https://gitlab.example.com/acme/widgets/-/tree/feat%231" {
		t.Errorf("Branch(feat#1) = %+v, %v", b, err)
	}
	_, err = c.Branch(t.Context(), widgets, "feature/gone")
	wantCode(t, err, relay.ENotFound)
}

func TestCreateAndDeleteBranch(t *testing.T) {
	sha := "4ad91d3c1144c406e50c7b33bae684bd6837faf8"
	rp := newReplay(t, "/gitlab",
		exchange{Method: "POST", Path: "/projects/3/repository/branches", Status: http.StatusCreated, File: "branch_created.json",
			Body: `{"branch":"ABC-1-fix-login","ref":"` + sha + `"}`},
		exchange{Method: "DELETE", Path: "/projects/3/repository/branches/ABC-1-fix-login", Status: http.StatusNoContent},
		exchange{Method: "DELETE", Path: "/projects/3/repository/branches/ABC-1-fix-login", Status: http.StatusNotFound, File: "err_branch_not_found.json"},
	)
	c := selfManagedClient(t, rp)
	b, err := c.CreateBranch(t.Context(), widgets, "ABC-1-fix-login", sha)
	want := relay.Branch{Name: "ABC-1-fix-login", SHA: sha, URL: "https://gitlab.example.com/acme/widgets/-/tree/ABC-1-fix-login"}
	if err != nil || b != want {
		t.Errorf("CreateBranch = %+v, %v; want %+v", b, err, want)
	}
	if err := c.DeleteBranch(t.Context(), widgets, "ABC-1-fix-login"); err != nil {
		t.Errorf("DeleteBranch: %v", err)
	}
	wantCode(t, c.DeleteBranch(t.Context(), widgets, "ABC-1-fix-login"), relay.ENotFound)
}

func TestCreateBranchRefusals(t *testing.T) {
	sha := "0000000000000000000000000000000000000000"
	for _, tc := range []struct {
		name   string
		branch string
		status int
		file   string
		code   string
	}{
		{"name taken", "ABC-1", http.StatusBadRequest, "err_branch_exists.json", relay.EBranchExists},
		{"base commit missing", "ABC-1", http.StatusBadRequest, "err_invalid_ref.json", relay.ENotFound},
		{"api scope missing", "ABC-1", http.StatusForbidden, "err_insufficient_scope.json", relay.EScopeMissing},
		{"no Developer role", "ABC-1", http.StatusForbidden, "err_forbidden.json", relay.EScopeMissing},
		{"project hidden", "ABC-1", http.StatusNotFound, "err_project_not_found.json", relay.ENotFound},
		{"token expired", "ABC-1", http.StatusUnauthorized, "err_token_expired.json", relay.ECredentialRejected},
		// A 5xx to a POST is reported, never retried: GitLab may have
		// created the branch before failing.
		{"proxy in trouble", "ABC-1", http.StatusBadGateway, "err_bad_gateway.html", relay.EHostError},
		{"server error", "ABC-1", http.StatusInternalServerError, "", relay.EHostError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := newReplay(t, "", exchange{Method: "POST", Path: "/projects/3/repository/branches", Status: tc.status, File: tc.file,
				Body: `{"branch":"` + tc.branch + `","ref":"` + sha + `"}`})
			_, err := cloudClient(t, rp).CreateBranch(t.Context(), widgets, tc.branch, sha)
			e := wantCode(t, err, tc.code)
			switch tc.code {
			case relay.EBranchExists:
				if e.URL != "https://gitlab.example.com/acme/widgets/-/tree/ABC-1" {
					t.Errorf("URL = %q, want the existing branch's page", e.URL)
				}
			case relay.EScopeMissing:
				if tc.file == "err_insufficient_scope.json" && e.Scope != "api" {
					t.Errorf("Scope = %q, want api", e.Scope)
				}
			}
		})
	}
}

func TestCreateDraftMergeRequest(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "POST", Path: "/projects/3/merge_requests", Status: http.StatusCreated, File: "mr_created.json",
			Body: `{"title":"Draft: ABC-1 Fix the login","source_branch":"ABC-1-fix-login","target_branch":"main","description":"Fixes ABC-1."}`},
		// Already marked as a draft: no second prefix. No description: none sent.
		exchange{Method: "POST", Path: "/projects/3/merge_requests", Status: http.StatusCreated, File: "mr_created.json",
			Body: `{"title":"[Draft] ABC-1 Fix the login","source_branch":"ABC-1-fix-login","target_branch":"main"}`},
	)
	c := cloudClient(t, rp)
	pr, err := c.CreatePullRequest(t.Context(), widgets, relay.NewPullRequest{
		Source: "ABC-1-fix-login", Target: "main", Title: "ABC-1 Fix the login", Description: "Fixes ABC-1.", Draft: true,
	})
	want := relay.PullRequest{Number: 38, Title: "Draft: ABC-1 Fix the login", URL: "https://gitlab.example.com/acme/widgets/-/merge_requests/38",
		Source: "ABC-1-fix-login", Target: "main", Draft: true}
	if err != nil || pr != want {
		t.Errorf("CreatePullRequest = %+v, %v; want %+v", pr, err, want)
	}
	if _, err := c.CreatePullRequest(t.Context(), widgets, relay.NewPullRequest{
		Source: "ABC-1-fix-login", Target: "main", Title: "[Draft] ABC-1 Fix the login", Draft: true,
	}); err != nil {
		t.Error(err)
	}
}

func TestExistingMergeRequestIsLookedUp(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "POST", Path: "/projects/3/merge_requests", Status: http.StatusConflict, File: "err_mr_exists.json",
			Body: `{"title":"ABC-1 Fix the login","source_branch":"ABC-1-fix-login","target_branch":"main"}`},
		exchange{Method: "GET", Path: "/projects/3/merge_requests", Query: "per_page=100&source_branch=ABC-1-fix-login&state=opened&target_branch=main", File: "mrs_list.json"},
	)
	_, err := cloudClient(t, rp).CreatePullRequest(t.Context(), widgets, relay.NewPullRequest{
		Source: "ABC-1-fix-login", Target: "main", Title: "ABC-1 Fix the login",
	})
	e := wantCode(t, err, relay.EPullRequestExists)
	if e.URL != "https://gitlab.example.com/acme/widgets/-/merge_requests/38" || !strings.Contains(e.Message, "!38") {
		t.Errorf("error %+v, want the URL of !38", e)
	}
}

// When the lookup fails, the !iid GitLab named still gives the link.
func TestExistingMergeRequestLinkFromItsReference(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "POST", Path: "/projects/3/merge_requests", Status: http.StatusConflict, File: "err_mr_exists.json",
			Body: `{"title":"ABC-1","source_branch":"ABC-1","target_branch":"main"}`},
		exchange{Method: "GET", Path: "/projects/3/merge_requests", Query: "per_page=100&source_branch=ABC-1&state=opened&target_branch=main", Status: http.StatusInternalServerError},
	)
	_, err := cloudClient(t, rp).CreatePullRequest(t.Context(), widgets, relay.NewPullRequest{Source: "ABC-1", Target: "main", Title: "ABC-1"})
	e := wantCode(t, err, relay.EPullRequestExists)
	if e.URL != "https://gitlab.example.com/acme/widgets/-/merge_requests/38" {
		t.Errorf("URL = %q, want the page of !38", e.URL)
	}
}

func TestMergeRequestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string // inline answer
		code   string
	}{
		{"source branch missing", http.StatusConflict, `{"message":["Source branch \"ABC-1\" does not exist"]}`, relay.ENotFound},
		{"target branch missing", http.StatusConflict, `{"message":["Target branch \"main\" does not exist"]}`, relay.ENotFound},
		{"same branches", http.StatusConflict, `{"message":["You can't use same project/branch for source and target"]}`, relay.EInvalid},
		{"field validation", http.StatusBadRequest, `{"message":{"title":["can't be blank"]}}`, relay.EInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c, err := gitlab.Cloud(gitlab.WithURL(srv.URL)).NewClient(relay.HostConfig{Kind: gitlab.KindCloud}, relay.TokenCredential(wireToken), hosttest.LocalClient(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.CreatePullRequest(t.Context(), widgets, relay.NewPullRequest{Source: "ABC-1", Target: "main", Title: "ABC-1"})
			wantCode(t, err, tc.code)
		})
	}
}

// GitLab's rate limiter answers 429 with Retry-After and RateLimit-*
// headers; the wait is reported and the request is not repeated.
func TestRateLimited(t *testing.T) {
	reset := time.Now().Add(30 * time.Second).Unix()
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/projects/3/repository/branches", Query: "per_page=100", Status: http.StatusTooManyRequests, File: "err_rate_limited.txt",
			Header: map[string]string{
				"Retry-After": "30", "RateLimit-Limit": "2000", "RateLimit-Observed": "2001", "RateLimit-Remaining": "0",
				"RateLimit-Reset": fmt.Sprint(reset), "RateLimit-Name": "throttle_authenticated_api",
			}},
	)
	_, err := cloudClient(t, rp).Branches(t.Context(), widgets, "")
	e := wantCode(t, err, relay.ERateLimited)
	if e.RetryAfter != 30*time.Second {
		t.Errorf("RetryAfter = %v, want 30s", e.RetryAfter)
	}
}

// A redirect to another origin is not followed, so the PRIVATE-TOKEN
// header never leaves for another host.
func TestRedirectElsewhereIsRefused(t *testing.T) {
	var leaked []string
	var mu sync.Mutex
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Header.Get("Private-Token"))
		mu.Unlock()
		_, _ = io.WriteString(w, `{"username":"mallory"}`)
	}))
	defer elsewhere.Close()
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/personal_access_tokens/self", Status: http.StatusFound,
			Header: map[string]string{"Location": elsewhere.URL + "/api/v4/personal_access_tokens/self"}},
	)
	_, err := cloudClient(t, rp).Validate(t.Context())
	wantCode(t, err, relay.EHostError)
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) != 0 {
		t.Errorf("the other host received %d requests", len(leaked))
	}
}

// A base URL that is not a GitLab (a sign-in page of a proxy) is reported
// as such.
func TestNotGitLabData(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/personal_access_tokens/self", File: "err_bad_gateway.html"},
	)
	_, err := cloudClient(t, rp).Validate(t.Context())
	e := wantCode(t, err, relay.EHostError)
	if !strings.Contains(e.Message, "base URL") {
		t.Errorf("message %q does not point at the base URL", e.Message)
	}
}
