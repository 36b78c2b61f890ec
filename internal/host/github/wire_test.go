package github_test

// Wire-level tests: the adapter against httptest servers replaying payloads
// shaped like GitHub's documented responses (testdata/), asserting every
// request's method, path, query, headers and body.

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/github"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// wireToken is a canary: no error, message or log may ever contain it.
const wireToken = "ghp_canaryWIRE0123456789abcdefABCDEF"

var helloWorld = relay.Repository{
	ID: "1296269", Name: "Hello-World", FullName: "octocat/Hello-World",
	DefaultBranch: "master", WebURL: "https://github.com/octocat/Hello-World",
}

// exchange is one expected request and the answer replayed to it; Path is
// escaped, without the API prefix.
type exchange = hosttest.Exchange

// replay asserts every request's GitHub headers, with the token sent as a
// bearer token.
type replay = hosttest.Server

func newReplay(t *testing.T, prefix string, script ...exchange) *replay {
	t.Helper()
	return hosttest.Options{
		hosttest.Prefix(prefix),
		hosttest.RequireHeaders(map[string]string{
			"Authorization":        "Bearer " + wireToken,
			"User-Agent":           "gitrelay",
			"Accept":               "application/vnd.github.v3+json",
			"X-Github-Api-Version": "2022-11-28",
		}),
		hosttest.ContentType(func(string) string { return "application/json; charset=utf-8" }),
	}.Replay(t, script...)
}

// cloudClient is a github-kind client talking to rp, whose retries do
// not wait.
func cloudClient(t *testing.T, rp *replay) relay.HostClient {
	t.Helper()
	hc := host.NewHTTPClient(host.ClientConfig{
		Timeout: 5 * time.Second,
		Egress:  host.Egress{Allow: host.MustAllowlist(hosttest.LoopbackAllowed)},
		Retries: host.RetryPolicy{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }},
	})
	c, err := github.Cloud(github.WithAPIURL(rp.URL)).NewClient(relay.HostConfig{Kind: github.KindCloud}, relay.TokenCredential(wireToken), hc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func enterpriseClient(t *testing.T, rp *replay) relay.HostClient {
	t.Helper()
	c, err := github.Enterprise().NewClient(
		relay.HostConfig{Kind: github.KindEnterprise, BaseURL: rp.URL}, relay.TokenCredential(wireToken), hosttest.LocalClient(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// noToken fails when the canary shows in anything printed about v.
func noToken(t *testing.T, what string, v any) {
	t.Helper()
	for _, p := range printedForms(v) {
		if strings.Contains(p, wireToken) || strings.Contains(p, wireToken[4:20]) {
			t.Errorf("%s shows the token: %s", what, p)
			return
		}
	}
}

// printedForms is everything printing or logging v shows.
func printedForms(v any) []string { return hosttest.Printed(v) }

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
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

func TestValidateReadsIdentityScopesAndExpiry(t *testing.T) {
	rp := newReplay(t, "/api/v3", exchange{
		Method: "GET", Path: "/user", File: "user.json",
		Header: map[string]string{
			"X-OAuth-Scopes":                         "repo, workflow",
			"GitHub-Authentication-Token-Expiration": "2021-10-07 19:07:53 UTC",
		},
	})
	acc, err := enterpriseClient(t, rp).Validate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Date(2021, 10, 7, 19, 7, 53, 0, time.UTC)
	if acc.Login != "octocat" || acc.Name != "monalisa octocat" || !slices.Equal(acc.Scopes, []string{"repo", "workflow"}) ||
		acc.ExpiresAt == nil || !acc.ExpiresAt.Equal(exp) {
		t.Errorf("Validate = %+v (expires %v), want octocat, scopes repo+workflow, expiring %v", acc, acc.ExpiresAt, exp)
	}
}

func TestValidateScopeHeaderForms(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header map[string]string
		scopes []string
	}{
		{"fine-grained token: no header, scopes unknown", nil, nil},
		{"classic token without scopes: empty header", map[string]string{"X-OAuth-Scopes": ""}, []string{}},
		{"offset expiry form", map[string]string{"X-OAuth-Scopes": "repo", "GitHub-Authentication-Token-Expiration": "2021-10-07 19:07:53 -0700"}, []string{"repo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := newReplay(t, "", exchange{Method: "GET", Path: "/user", File: "user.json", Header: tc.header})
			acc, err := cloudClient(t, rp).Validate(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if (acc.Scopes == nil) != (tc.scopes == nil) || !slices.Equal(acc.Scopes, tc.scopes) {
				t.Errorf("Scopes = %#v, want %#v", acc.Scopes, tc.scopes)
			}
			if exp := tc.header["GitHub-Authentication-Token-Expiration"]; exp != "" {
				want := time.Date(2021, 10, 8, 2, 7, 53, 0, time.UTC)
				if acc.ExpiresAt == nil || !acc.ExpiresAt.Equal(want) || acc.ExpiresAt.Location() != time.UTC {
					t.Errorf("ExpiresAt = %v, want %v in UTC", acc.ExpiresAt, want)
				}
			} else if acc.ExpiresAt != nil {
				t.Errorf("ExpiresAt = %v, want nil", acc.ExpiresAt)
			}
		})
	}
}

func TestRepositoriesFollowsLinksAndKeepsPushable(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/user/repos", Query: "per_page=100", File: "repos_page1.json",
			Header: map[string]string{"Link": `<{server}/user/repos?per_page=100&page=2>; rel="next", <{server}/user/repos?per_page=100&page=2>; rel="last"`}},
		exchange{Method: "GET", Path: "/user/repos", Query: "page=2&per_page=100", File: "repos_page2.json",
			Header: map[string]string{"Link": `<{server}/user/repos?per_page=100&page=1>; rel="prev", <{server}/user/repos?per_page=100&page=1>; rel="first"`}},
		exchange{Method: "GET", Path: "/user/repos", Query: "per_page=100", File: "repos_page1.json"},
	)
	c := cloudClient(t, rp)
	repos, err := c.Repositories(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []relay.Repository{
		helloWorld,
		{ID: "42", Name: "hello-world-private", FullName: "acme/hello-world-private", DefaultBranch: "trunk", WebURL: "https://github.com/acme/hello-world-private"},
	}
	if !reflect.DeepEqual(repos, want) {
		t.Errorf("Repositories = %+v\nwant %+v (Spoon-Knife lacks push)", repos, want)
	}
	repos, err = c.Repositories(t.Context(), "HELLO-world-p")
	if err != nil || len(repos) != 0 {
		t.Errorf("Repositories(HELLO-world-p) on page 1 only = %+v, %v; want none", repos, err)
	}
}

func TestRepositoryByID(t *testing.T) {
	rp := newReplay(t, "", exchange{Method: "GET", Path: "/repositories/1296269", File: "repository.json"})
	c := cloudClient(t, rp)
	r, err := c.Repository(t.Context(), "1296269")
	if err != nil || r != helloWorld {
		t.Errorf("Repository = %+v, %v; want %+v", r, err, helloWorld)
	}
	_, err = c.Repository(t.Context(), "octocat/Hello-World")
	wantCode(t, err, relay.ENotFound)
}

func TestBranchesAndBranch(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/repos/octocat/Hello-World/branches", Query: "per_page=100", File: "branches.json"},
		exchange{Method: "GET", Path: "/repos/octocat/Hello-World/git/ref/heads/feat%231", File: "ref.json"},
	)
	c := cloudClient(t, rp)
	bs, err := c.Branches(t.Context(), helloWorld, "abc")
	if err != nil {
		t.Fatal(err)
	}
	want := []relay.Branch{{Name: "feature/ABC-1", SHA: "aa218f56b14c9653891f9e74264a383fa43fefbd", URL: "https://github.com/octocat/Hello-World/tree/feature/ABC-1"}}
	if !reflect.DeepEqual(bs, want) {
		t.Errorf("Branches(abc) = %+v, want %+v", bs, want)
	}
	b, err := c.Branch(t.Context(), helloWorld, "feat#1")
	if err != nil || b.SHA != "aa218f56b14c9653891f9e74264a383fa43fefbd" || b.URL != "https://github.com/octocat/Hello-World/tree/feat%231" {
		t.Errorf("Branch(feat#1) = %+v, %v", b, err)
	}
}

func TestCreateAndDeleteBranch(t *testing.T) {
	rp := newReplay(t, "/api/v3",
		exchange{Method: "POST", Path: "/repos/octocat/Hello-World/git/refs", Status: http.StatusCreated, File: "ref_created.json",
			Body: `{"ref":"refs/heads/ABC-1-fix-login","sha":"aa218f56b14c9653891f9e74264a383fa43fefbd"}`},
		exchange{Method: "DELETE", Path: "/repos/octocat/Hello-World/git/refs/heads/ABC-1-fix-login", Status: http.StatusNoContent},
	)
	c := enterpriseClient(t, rp)
	b, err := c.CreateBranch(t.Context(), helloWorld, "ABC-1-fix-login", "aa218f56b14c9653891f9e74264a383fa43fefbd")
	want := relay.Branch{Name: "ABC-1-fix-login", SHA: "aa218f56b14c9653891f9e74264a383fa43fefbd", URL: "https://github.com/octocat/Hello-World/tree/ABC-1-fix-login"}
	if err != nil || b != want {
		t.Errorf("CreateBranch = %+v, %v; want %+v", b, err, want)
	}
	if err := c.DeleteBranch(t.Context(), helloWorld, "ABC-1-fix-login"); err != nil {
		t.Errorf("DeleteBranch: %v", err)
	}
}

// A repository known only by id is looked up first; its web URL then makes
// the branch link.
func TestCreateBranchInRepositoryKnownByID(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/repositories/1296269", File: "repository.json"},
		exchange{Method: "POST", Path: "/repos/octocat/Hello-World/git/refs", Status: http.StatusCreated, File: "ref_created.json",
			Body: `{"ref":"refs/heads/ABC-1-fix-login","sha":"aa218f56b14c9653891f9e74264a383fa43fefbd"}`},
	)
	b, err := cloudClient(t, rp).CreateBranch(t.Context(), relay.Repository{ID: "1296269"}, "ABC-1-fix-login", "aa218f56b14c9653891f9e74264a383fa43fefbd")
	if err != nil || b.URL != "https://github.com/octocat/Hello-World/tree/ABC-1-fix-login" {
		t.Errorf("CreateBranch = %+v, %v", b, err)
	}
}

func TestCreatePullRequest(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "POST", Path: "/repos/octocat/Hello-World/pulls", Status: http.StatusCreated, File: "pull_created.json",
			Body: `{"title":"ABC-1 Fix the login","head":"ABC-1-fix-login","base":"master","body":"Fixes ABC-1.","draft":true}`},
		// Not a draft and no description: neither field is sent.
		exchange{Method: "POST", Path: "/repos/octocat/Hello-World/pulls", Status: http.StatusCreated, File: "pull_created.json",
			Body: `{"title":"ABC-1 Fix the login","head":"ABC-1-fix-login","base":"master"}`},
	)
	c := cloudClient(t, rp)
	pr, err := c.CreatePullRequest(t.Context(), helloWorld, relay.NewPullRequest{
		Source: "ABC-1-fix-login", Target: "master", Title: "ABC-1 Fix the login", Description: "Fixes ABC-1.", Draft: true,
	})
	want := relay.PullRequest{Number: 1347, Title: "ABC-1 Fix the login", URL: "https://github.com/octocat/Hello-World/pull/1347", Source: "ABC-1-fix-login", Target: "master", Draft: true}
	if err != nil || pr != want {
		t.Errorf("CreatePullRequest = %+v, %v; want %+v", pr, err, want)
	}
	if _, err := c.CreatePullRequest(t.Context(), helloWorld, relay.NewPullRequest{
		Source: "ABC-1-fix-login", Target: "master", Title: "ABC-1 Fix the login",
	}); err != nil {
		t.Error(err)
	}
}

func TestExistingPullRequestIsLookedUp(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "POST", Path: "/repos/octocat/Hello-World/pulls", Status: http.StatusUnprocessableEntity, File: "err_pr_exists.json",
			Body: `{"title":"ABC-1 Fix the login","head":"ABC-1-fix-login","base":"master"}`},
		exchange{Method: "GET", Path: "/repos/octocat/Hello-World/pulls", Query: "base=master&head=octocat%3AABC-1-fix-login&per_page=100&state=open", File: "pulls_list.json"},
	)
	_, err := cloudClient(t, rp).CreatePullRequest(t.Context(), helloWorld, relay.NewPullRequest{
		Source: "ABC-1-fix-login", Target: "master", Title: "ABC-1 Fix the login",
	})
	e := wantCode(t, err, relay.EPullRequestExists)
	if e.URL != "https://github.com/octocat/Hello-World/pull/1347" || !strings.Contains(e.Message, "#1347") {
		t.Errorf("error %+v, want the URL of pull request 1347", e)
	}
}

func TestFindPullRequestMatchesBranches(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/repos/octocat/Hello-World/pulls", Query: "base=master&head=octocat%3AABC-1-fix-login&per_page=100&state=open", File: "pulls_list.json"},
		exchange{Method: "GET", Path: "/repos/octocat/Hello-World/pulls", Query: "base=master&head=octocat%3Aother&per_page=100&state=open", File: "pulls_list.json"},
	)
	c := cloudClient(t, rp)
	pr, err := c.FindPullRequest(t.Context(), helloWorld, "ABC-1-fix-login", "master")
	if err != nil || pr.Number != 1347 || pr.URL != "https://github.com/octocat/Hello-World/pull/1347" {
		t.Errorf("FindPullRequest = %+v, %v", pr, err)
	}
	// GitHub ignores a head filter it cannot parse and lists everything:
	// only a pull request from the asked branch counts.
	_, err = c.FindPullRequest(t.Context(), helloWorld, "other", "master")
	wantCode(t, err, relay.ENotFound)
}

// op is one client operation and the request it makes.
type op struct {
	name string
	req  exchange // the request, with no answer
	run  func(ctx context.Context, c relay.HostClient) error
}

var (
	createBranch = op{"create branch",
		exchange{Method: "POST", Path: "/repos/octocat/Hello-World/git/refs", Body: `{"ref":"refs/heads/ABC-1","sha":"aa218f56b14c9653891f9e74264a383fa43fefbd"}`},
		func(ctx context.Context, c relay.HostClient) error {
			_, err := c.CreateBranch(ctx, helloWorld, "ABC-1", "aa218f56b14c9653891f9e74264a383fa43fefbd")
			return err
		}}
	createOddBranch = op{"create branch a..b",
		exchange{Method: "POST", Path: "/repos/octocat/Hello-World/git/refs", Body: `{"ref":"refs/heads/a b","sha":"aa218f56b14c9653891f9e74264a383fa43fefbd"}`},
		func(ctx context.Context, c relay.HostClient) error {
			_, err := c.CreateBranch(ctx, helloWorld, "a b", "aa218f56b14c9653891f9e74264a383fa43fefbd")
			return err
		}}
	deleteBranch = op{"delete branch",
		exchange{Method: "DELETE", Path: "/repos/octocat/Hello-World/git/refs/heads/ABC-1"},
		func(ctx context.Context, c relay.HostClient) error { return c.DeleteBranch(ctx, helloWorld, "ABC-1") }}
	getBranch = op{"get branch",
		exchange{Method: "GET", Path: "/repos/octocat/Hello-World/git/ref/heads/master"},
		func(ctx context.Context, c relay.HostClient) error {
			_, err := c.Branch(ctx, helloWorld, "master")
			return err
		}}
	createPR = op{"create pull request",
		exchange{Method: "POST", Path: "/repos/octocat/Hello-World/pulls", Body: `{"title":"ABC-1","head":"ABC-1","base":"master","draft":true}`},
		func(ctx context.Context, c relay.HostClient) error {
			_, err := c.CreatePullRequest(ctx, helloWorld, relay.NewPullRequest{Source: "ABC-1", Target: "master", Title: "ABC-1", Draft: true})
			return err
		}}
	validate = op{"validate",
		exchange{Method: "GET", Path: "/user"},
		func(ctx context.Context, c relay.HostClient) error { _, err := c.Validate(ctx); return err }}
)

func TestErrorAnswersMapToRelayCodes(t *testing.T) {
	reset := strconv.FormatInt(time.Now().Add(120*time.Second).Unix(), 10)
	for _, tc := range []struct {
		name   string
		op     op
		status int
		header map[string]string
		file   string
		times  int // how many times the host answers so; 0 means once

		code       string
		retryAfter time.Duration // checked within 2s when set
		scope      string
		url        string
		says       string // the message mentions it
	}{
		{name: "401 bad credentials", op: validate, status: 401, file: "err_bad_credentials.json",
			code: relay.ECredentialRejected, says: "Bad credentials"},
		{name: "403 fine-grained token lacks a permission", op: createBranch, status: 403, file: "err_not_accessible.json",
			header: map[string]string{"X-Accepted-GitHub-Permissions": "contents=write"},
			code:   relay.EScopeMissing, scope: "contents=write", says: "Contents and Pull requests"},
		{name: "403 SAML enforcement", op: createBranch, status: 403, file: "err_saml.json",
			code: relay.EScopeMissing, says: "SAML"},
		{name: "403 primary rate limit", op: createBranch, status: 403, file: "err_rate_limit.json",
			header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "5000", "X-RateLimit-Reset": reset},
			code:   relay.ERateLimited, retryAfter: 120 * time.Second},
		{name: "429 primary rate limit", op: createPR, status: 429, file: "err_rate_limit.json",
			header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
			code:   relay.ERateLimited, retryAfter: 120 * time.Second},
		{name: "403 secondary rate limit", op: createPR, status: 403, file: "err_secondary.json",
			header: map[string]string{"Retry-After": "30"},
			code:   relay.ERateLimited, retryAfter: 30 * time.Second},
		{name: "403 with retry-after but an unknown body", op: createBranch, status: 403, file: "err_not_found.json",
			header: map[string]string{"Retry-After": "45"},
			code:   relay.ERateLimited, retryAfter: 45 * time.Second},
		{name: "429 without headers", op: createBranch, status: 429,
			code: relay.ERateLimited, retryAfter: host.DefaultRetryAfter},
		{name: "404 on a write: private or no scope", op: createBranch, status: 404, file: "err_not_found.json",
			code: relay.ENotFound, says: "private"},
		{name: "404 on a branch", op: getBranch, status: 404, file: "err_not_found.json",
			code: relay.ENotFound, says: `"master"`},
		{name: "409 empty repository", op: getBranch, status: 409, file: "err_repo_empty.json",
			code: relay.ENotFound, says: "empty"},
		{name: "422 reference already exists", op: createBranch, status: 422, file: "err_ref_exists.json",
			code: relay.EBranchExists, url: "https://github.com/octocat/Hello-World/tree/ABC-1"},
		{name: "422 reference update failed: conflict", op: createBranch, status: 422, file: "err_ref_update_failed.json",
			code: relay.EInvalidBranchName, says: `such as "ABC-1/…"`},
		{name: "422 reference update failed: invalid name", op: createOddBranch, status: 422, file: "err_ref_update_failed.json",
			code: relay.EInvalidBranchName, says: "not a valid branch name"},
		{name: "422 reference does not exist on delete", op: deleteBranch, status: 422, file: "err_ref_missing.json",
			code: relay.ENotFound},
		{name: "422 drafts not supported", op: createPR, status: 422, file: "err_draft_unsupported.json",
			code: relay.EDraftUnsupported},
		{name: "422 no commits between", op: createPR, status: 422, file: "err_no_commits.json",
			code: relay.EInvalid, says: "Push a commit"},
		{name: "422 head branch missing", op: createPR, status: 422, file: "err_head_invalid.json",
			code: relay.ENotFound, says: `"ABC-1"`},
		{name: "500 HTML page", op: createBranch, status: 500, file: "err_server.html",
			header: map[string]string{"Content-Type": "text/html"},
			code:   relay.EHostError, says: "HTTP 500"},
		{name: "502", op: createPR, status: 502,
			code: relay.EHostError},
		{name: "503 on validate, every attempt", op: validate, status: 503, times: host.DefaultRetryAttempts,
			code: relay.EHostError},
		{name: "200 with a proxy's HTML sign-in page", op: validate, status: 200, file: "proxy_login.html",
			header: map[string]string{"Content-Type": "text/html"},
			code:   relay.EHostError, says: "base URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := tc.op.req
			ex.Status, ex.Header, ex.File = tc.status, tc.header, tc.file
			script := []exchange{ex}
			for len(script) < tc.times {
				script = append(script, ex)
			}
			rp := newReplay(t, "", script...)
			e := wantCode(t, tc.op.run(t.Context(), cloudClient(t, rp)), tc.code)
			if tc.retryAfter != 0 && (e.RetryAfter < tc.retryAfter-2*time.Second || e.RetryAfter > tc.retryAfter+2*time.Second) {
				t.Errorf("RetryAfter = %v, want about %v", e.RetryAfter, tc.retryAfter)
			}
			if e.Scope != tc.scope {
				t.Errorf("Scope = %q, want %q", e.Scope, tc.scope)
			}
			if e.URL != tc.url {
				t.Errorf("URL = %q, want %q", e.URL, tc.url)
			}
			if !strings.Contains(e.Message, tc.says) {
				t.Errorf("message %q does not mention %q", e.Message, tc.says)
			}
			if strings.Contains(e.Message, "%!") {
				t.Errorf("message %q is badly formatted", e.Message)
			}
		})
	}
}

// A host that echoes the Authorization header into its answers, as a
// misconfigured proxy or a hostile server might: the token must still not
// reach an error message, its cause or a log line.
func TestTokenNeverShowsInErrorsOrLogs(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	for _, status := range []int{401, 403, 404, 409, 422, 429, 500, 502} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("X-Echo", r.Header.Get("Authorization"))
				w.WriteHeader(status)
				msg, _ := json.Marshal(map[string]any{
					"message": "You sent " + r.Header.Get("Authorization"),
					"errors":  []map[string]string{{"resource": "PullRequest", "code": "custom", "message": "token " + wireToken}},
				})
				_, _ = w.Write(msg)
			}))
			defer srv.Close()
			c, err := github.Cloud(github.WithAPIURL(srv.URL)).NewClient(relay.HostConfig{Kind: github.KindCloud}, relay.TokenCredential(wireToken), hosttest.LocalClient(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			noToken(t, "the client", c)
			for name, run := range map[string]func() error{
				"validate":      func() error { _, err := c.Validate(t.Context()); return err },
				"create branch": func() error { _, err := c.CreateBranch(t.Context(), helloWorld, "ABC-1", "abc"); return err },
				"create pull": func() error {
					_, err := c.CreatePullRequest(t.Context(), helloWorld, relay.NewPullRequest{Source: "a", Target: "b", Title: "t"})
					return err
				},
				"delete branch": func() error { return c.DeleteBranch(t.Context(), helloWorld, "ABC-1") },
			} {
				err := run()
				if err == nil {
					t.Fatalf("%s: no error", name)
				}
				logger.Error("host call failed", "op", name, "err", err, "client", c)
				noToken(t, name, err)
			}
		})
	}
	if strings.Contains(logs.String(), wireToken) {
		t.Errorf("the log shows the token:\n%s", logs.String())
	}
}

// A redirect to another host must not carry the token, whatever the
// outbound client's redirect policy.
func TestTokenIsNotSentToAnotherHost(t *testing.T) {
	var leaked []string
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"login":"mallory"}`))
	}))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/user", http.StatusMovedPermanently)
	}))
	defer api.Close()

	adapter := github.Cloud(github.WithAPIURL(api.URL))
	cfg := relay.HostConfig{Kind: github.KindCloud}
	cred := relay.TokenCredential(wireToken)

	// The shared client refuses to follow.
	c, err := adapter.NewClient(cfg, cred, hosttest.LocalClient(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Validate(t.Context())
	wantCode(t, err, relay.EHostError)
	mu.Lock()
	if len(leaked) != 0 {
		t.Errorf("the shared client followed a redirect to another host")
	}
	mu.Unlock()

	// A client that follows anything still sends no token there.
	follows := hosttest.LocalClient(5 * time.Second)
	follows.CheckRedirect = func(*http.Request, []*http.Request) error { return nil }
	c, err = adapter.NewClient(cfg, cred, follows)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Validate(t.Context())
	mu.Lock()
	defer mu.Unlock()
	for _, a := range leaked {
		if a != "" {
			t.Errorf("the other host received Authorization %q", a)
		}
	}
}
