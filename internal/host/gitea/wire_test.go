package gitea_test

// Wire-level tests: the adapter against httptest servers replaying payloads
// shaped like the examples of Gitea's API documentation (testdata/),
// asserting every request's method, path, query, headers and body.

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host/gitea"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// wireToken is a canary: no error, message or log may ever contain it.
const wireToken = "canaryGITEA0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6"

var billingAPI = relay.Repository{
	ID: "41", Name: "billing-api", FullName: "platform/billing-api",
	DefaultBranch: "main", WebURL: "https://code.example.org/platform/billing-api",
}

// exchange is one expected request and the answer replayed to it; Path is
// escaped, below /api/v1, and {server} in an answer header is the replay's
// URL.
type exchange = hosttest.Exchange

// replay asserts every request's Gitea headers, with the token in the
// "token" Authorization form.
type replay = hosttest.Server

func newReplay(t *testing.T, script ...exchange) *replay {
	t.Helper()
	return hosttest.Options{
		hosttest.Prefix("/api/v1"),
		hosttest.RequireHeaders(map[string]string{
			"Authorization": "token " + wireToken,
			"User-Agent":    "gitrelay",
			"Accept":        "application/json",
		}),
		hosttest.ContentType(func(string) string { return "application/json;charset=utf-8" }),
	}.Replay(t, script...)
}

func client(t *testing.T, rp *replay) relay.HostClient {
	t.Helper()
	c, err := gitea.New().NewClient(relay.HostConfig{Kind: gitea.Kind, BaseURL: rp.URL},
		relay.TokenCredential(wireToken), hosttest.LocalClient(5*time.Second))
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
		if strings.Contains(p, wireToken) || strings.Contains(p, wireToken[6:24]) {
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
		t.Fatalf("code = %s (%q), want %s", e.Code, e.Message, code)
	}
	if strings.TrimSpace(e.Message) == "" {
		t.Errorf("%s has no message", code)
	}
	return e
}

func TestValidateReadsTheAccountAndProbesTheRepositoryScope(t *testing.T) {
	rp := newReplay(t,
		exchange{Method: "GET", Path: "/user", File: "user.json"},
		exchange{Method: "GET", Path: "/user/repos", Query: "limit=1", File: "repos_page2.json"},
	)
	acc, err := client(t, rp).Validate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := relay.Account{Login: "mira", Name: "Mira Okafor"}
	if !reflect.DeepEqual(acc, want) {
		t.Errorf("Validate = %+v, want %+v (Gitea reports neither scopes nor expiry)", acc, want)
	}
}

// A token without any repository scope authenticates but fails the probe:
// it is reported as holding read:user only, which RequiredScopes refuses.
func TestValidateReportsATokenWithoutTheRepositoryScope(t *testing.T) {
	rp := newReplay(t,
		exchange{Method: "GET", Path: "/user", File: "user.json"},
		exchange{Method: "GET", Path: "/user/repos", Query: "limit=1", Status: 403, File: "err_scope_repository.json"},
	)
	acc, err := client(t, rp).Validate(t.Context())
	if err != nil || acc.Login != "mira" || !reflect.DeepEqual(acc.Scopes, []string{"read:user"}) {
		t.Errorf("Validate = %+v, %v; want mira holding read:user only", acc, err)
	}
}

func TestValidateRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script []exchange
		code   string
		scope  string
		says   string
	}{
		{"an unknown or revoked token", []exchange{
			{Method: "GET", Path: "/user", Status: 401, File: "err_token_required.json"},
		}, relay.ECredentialRejected, "", "token is required"},
		{"a token without read:user", []exchange{
			{Method: "GET", Path: "/user", Status: 403, File: "err_scope_user.json"},
		}, relay.EScopeMissing, "read:user", "which account"},
		{"a sign-in page of a proxy", []exchange{
			{Method: "GET", Path: "/user", Header: map[string]string{"Content-Type": "text/html; charset=utf-8"}, File: "proxy_login.html"},
		}, relay.EHostError, "", "web page"},
		{"a base URL that is not Gitea", []exchange{
			{Method: "GET", Path: "/user", Status: 404, Header: map[string]string{"Content-Type": "text/html"}, File: "proxy_login.html"},
		}, relay.EHostError, "", "base URL"},
		{"a server error", []exchange{
			{Method: "GET", Path: "/user", Status: 500, File: "err_server.json"},
		}, relay.EHostError, "", "HTTP 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client(t, newReplay(t, tc.script...)).Validate(t.Context())
			e := wantCode(t, err, tc.code)
			if e.Scope != tc.scope || !strings.Contains(e.Message, tc.says) {
				t.Errorf("error %+v, want scope %q and a message mentioning %q", e, tc.scope, tc.says)
			}
		})
	}
}

func TestRepositoriesFollowsLinkPagesAndKeepsWritableOnes(t *testing.T) {
	rp := newReplay(t,
		exchange{Method: "GET", Path: "/user/repos", Query: "limit=50&page=1", File: "repos_page1.json",
			Header: map[string]string{"Link": `<{server}/api/v1/user/repos?limit=50&page=2>; rel="next",<{server}/api/v1/user/repos?limit=50&page=2>; rel="last"`, "X-Total-Count": "3"}},
		exchange{Method: "GET", Path: "/user/repos", Query: "limit=50&page=2", File: "repos_page2.json",
			Header: map[string]string{"Link": `<{server}/api/v1/user/repos?limit=50&page=1>; rel="first",<{server}/api/v1/user/repos?limit=50&page=1>; rel="prev"`, "X-Total-Count": "3"}},
	)
	got, err := client(t, rp).Repositories(t.Context(), "BILLING")
	if err != nil {
		t.Fatal(err)
	}
	want := []relay.Repository{
		billingAPI,
		{ID: "57", Name: "billing-tools", FullName: "mira/billing-tools", DefaultBranch: "trunk", WebURL: "https://code.example.org/mira/billing-tools"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Repositories(BILLING) = %+v, want %+v (docs is read-only)", got, want)
	}
}

func TestRepositoryByID(t *testing.T) {
	rp := newReplay(t,
		exchange{Method: "GET", Path: "/repositories/41", File: "repository.json"},
		exchange{Method: "GET", Path: "/repositories/999", Status: 404, File: "err_not_found.json"},
	)
	c := client(t, rp)
	got, err := c.Repository(t.Context(), "41")
	if err != nil || got != billingAPI {
		t.Errorf("Repository(41) = %+v, %v; want %+v", got, err, billingAPI)
	}
	_, err = c.Repository(t.Context(), "999")
	wantCode(t, err, relay.ENotFound)
	_, err = c.Repository(t.Context(), "../../admin")
	wantCode(t, err, relay.ENotFound)
}

func TestBranches(t *testing.T) {
	rp := newReplay(t,
		exchange{Method: "GET", Path: "/repos/platform/billing-api/branches", Query: "limit=50&page=1", File: "branches.json"},
		exchange{Method: "GET", Path: "/repos/platform/billing-api/branches/feature/invoices", File: "branch.json"},
		exchange{Method: "GET", Path: "/repos/platform/billing-api/branches/nope", Status: 404, File: "err_not_found.json"},
	)
	c := client(t, rp)
	list, err := c.Branches(t.Context(), billingAPI, "INVOICE")
	if err != nil {
		t.Fatal(err)
	}
	want := []relay.Branch{{Name: "feature/invoices", SHA: "a3c9e1f07b2d4c6e8f0a1b3c5d7e9f1a2b4c6d8e",
		URL: "https://code.example.org/platform/billing-api/src/branch/feature/invoices"}}
	if !reflect.DeepEqual(list, want) {
		t.Errorf("Branches(INVOICE) = %+v, want %+v", list, want)
	}
	b, err := c.Branch(t.Context(), billingAPI, "feature/invoices")
	if err != nil || b != want[0] {
		t.Errorf("Branch = %+v, %v; want %+v", b, err, want[0])
	}
	_, err = c.Branch(t.Context(), billingAPI, "nope")
	wantCode(t, err, relay.ENotFound)
}

const baseSHA = "5f1d7a0c2b9e4d3f8a6b1c0e9d8f7a6b5c4d3e2f"

func TestCreateBranchSendsTheBaseCommit(t *testing.T) {
	rp := newReplay(t, exchange{Method: "POST", Path: "/repos/platform/billing-api/branches",
		Body:   `{"new_branch_name":"BIL-12-export-csv","old_ref_name":"` + baseSHA + `"}`,
		Status: 201, File: "branch_created.json"})
	b, err := client(t, rp).CreateBranch(t.Context(), billingAPI, "BIL-12-export-csv", baseSHA)
	want := relay.Branch{Name: "BIL-12-export-csv", SHA: baseSHA, URL: "https://code.example.org/platform/billing-api/src/branch/BIL-12-export-csv"}
	if err != nil || b != want {
		t.Errorf("CreateBranch = %+v, %v; want %+v", b, err, want)
	}
}

// A server older than Gitea 1.21 ignores old_ref_name and branches from the
// default branch: that is reported, not passed off as success.
func TestCreateBranchOnAServerThatIgnoresTheBase(t *testing.T) {
	rp := newReplay(t, exchange{Method: "POST", Path: "/repos/platform/billing-api/branches",
		Body:   `{"new_branch_name":"BIL-12-export-csv","old_ref_name":"` + baseSHA + `"}`,
		Status: 201, File: "branch_created_elsewhere.json"})
	_, err := client(t, rp).CreateBranch(t.Context(), billingAPI, "BIL-12-export-csv", baseSHA)
	e := wantCode(t, err, relay.EHostError)
	if !strings.Contains(e.Message, "1.21") || !strings.Contains(e.Message, "/src/branch/BIL-12-export-csv") {
		t.Errorf("message %q does not explain the old server and link the branch", e.Message)
	}
}

func TestCreateBranchRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, branch string
		status       int
		file         string
		code, scope  string
	}{
		{"the name is taken", "BIL-12", 409, "err_branch_exists.json", relay.EBranchExists, ""},
		{"the name is in the way of another branch", "release", 409, "err_branch_same_name.json", relay.EInvalidBranchName, ""},
		{"a tag has the name", "v1.0", 409, "err_branch_same_tag.json", relay.EInvalidBranchName, ""},
		{"the token may only read", "BIL-12", 403, "err_scope_write.json", relay.EScopeMissing, "write:repository"},
		{"the token is limited to public repositories", "BIL-12", 403, "err_public_only.json", relay.EScopeMissing, "write:repository"},
		{"the account may not push", "BIL-12", 403, "err_not_writer.json", relay.EScopeMissing, ""},
		{"the repository is hidden", "BIL-12", 404, "err_not_found.json", relay.ENotFound, ""},
		{"the repository is empty", "BIL-12", 404, "err_empty.json", relay.ENotFound, ""},
		{"the repository is archived", "BIL-12", 423, "err_archived.json", relay.EInvalid, ""},
		{"the token was revoked", "BIL-12", 401, "err_token_required.json", relay.ECredentialRejected, ""},
		{"the host is overloaded", "BIL-12", 503, "err_server.json", relay.EHostError, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := newReplay(t, exchange{Method: "POST", Path: "/repos/platform/billing-api/branches",
				Body:   `{"new_branch_name":"` + tc.branch + `","old_ref_name":"` + baseSHA + `"}`,
				Status: tc.status, File: tc.file})
			_, err := client(t, rp).CreateBranch(t.Context(), billingAPI, tc.branch, baseSHA)
			e := wantCode(t, err, tc.code)
			if e.Scope != tc.scope {
				t.Errorf("Scope = %q, want %q", e.Scope, tc.scope)
			}
			if tc.code == relay.EBranchExists && !strings.HasSuffix(e.URL, "/src/branch/"+tc.branch) {
				t.Errorf("URL = %q, want the existing branch's page", e.URL)
			}
		})
	}
}

func TestRateLimitFromAProxy(t *testing.T) {
	rp := newReplay(t, exchange{Method: "GET", Path: "/repos/platform/billing-api/branches", Query: "limit=50&page=1",
		Status: 429, Header: map[string]string{"Retry-After": "17", "Content-Type": "text/plain"}})
	_, err := client(t, rp).Branches(t.Context(), billingAPI, "")
	if e := wantCode(t, err, relay.ERateLimited); e.RetryAfter != 17*time.Second {
		t.Errorf("RetryAfter = %v, want 17s", e.RetryAfter)
	}
}

func TestDeleteBranch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		file   string
		code   string
	}{
		{"deleted", 204, "", ""},
		{"already gone", 404, "err_not_found.json", relay.ENotFound},
		{"the default branch", 403, "err_default_branch.json", relay.EInvalid},
		{"a protected branch", 403, "err_protected.json", relay.EInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := newReplay(t, exchange{Method: "DELETE", Path: "/repos/platform/billing-api/branches/feature/BIL-12%20x",
				Status: tc.status, File: tc.file})
			err := client(t, rp).DeleteBranch(t.Context(), billingAPI, "feature/BIL-12 x")
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tc.code)
		})
	}
}

func TestCreatePullRequest(t *testing.T) {
	rp := newReplay(t, exchange{Method: "POST", Path: "/repos/platform/billing-api/pulls",
		Body:   `{"title":"BIL-12 Export invoices as CSV","head":"BIL-12-export-csv","base":"main","body":"Exports invoices as CSV."}`,
		Status: 201, File: "pull_created.json"})
	pr, err := client(t, rp).CreatePullRequest(t.Context(), billingAPI, relay.NewPullRequest{
		Source: "BIL-12-export-csv", Target: "main", Title: "BIL-12 Export invoices as CSV", Description: "Exports invoices as CSV."})
	want := relay.PullRequest{Number: 18, Title: "BIL-12 Export invoices as CSV", URL: "https://code.example.org/platform/billing-api/pulls/18",
		Source: "BIL-12-export-csv", Target: "main"}
	if err != nil || pr != want {
		t.Errorf("CreatePullRequest = %+v, %v; want %+v", pr, err, want)
	}
}

// Gitea has no draft flag: a draft is a title starting with "WIP:". Servers
// that answer without "draft" are read by the title.
func TestCreateDraftPullRequestPrefixesTheTitle(t *testing.T) {
	rp := newReplay(t, exchange{Method: "POST", Path: "/repos/platform/billing-api/pulls",
		Body:   `{"title":"WIP: BIL-12 Export invoices as CSV","head":"BIL-12-export-csv","base":"main"}`,
		Status: 201, File: "pull_created_wip.json"})
	pr, err := client(t, rp).CreatePullRequest(t.Context(), billingAPI, relay.NewPullRequest{
		Source: "BIL-12-export-csv", Target: "main", Title: "BIL-12 Export invoices as CSV", Draft: true})
	if err != nil || !pr.Draft || pr.Number != 19 {
		t.Errorf("CreatePullRequest(draft) = %+v, %v; want draft #19", pr, err)
	}
}

func TestAnExistingPullRequestIsFoundAndLinked(t *testing.T) {
	rp := newReplay(t,
		exchange{Method: "POST", Path: "/repos/platform/billing-api/pulls",
			Body:   `{"title":"BIL-12 again","head":"BIL-12-export-csv","base":"main"}`,
			Status: 409, File: "err_pr_exists.json"},
		exchange{Method: "GET", Path: "/repos/platform/billing-api/pulls", Query: "base_branch=main&limit=50&page=1&state=open", File: "pulls_page1.json",
			Header: map[string]string{"Link": `<{server}/api/v1/repos/platform/billing-api/pulls?page=2>; rel="next"`}},
		exchange{Method: "GET", Path: "/repos/platform/billing-api/pulls", Query: "base_branch=main&limit=50&page=2&state=open", File: "pulls_page2.json"},
	)
	_, err := client(t, rp).CreatePullRequest(t.Context(), billingAPI, relay.NewPullRequest{
		Source: "BIL-12-export-csv", Target: "main", Title: "BIL-12 again"})
	e := wantCode(t, err, relay.EPullRequestExists)
	// #17 has the same branch name but comes from a fork.
	if e.URL != "https://code.example.org/platform/billing-api/pulls/18" || !strings.Contains(e.Message, "#18") {
		t.Errorf("error %+v, want a link to #18", e)
	}
}

func TestCreatePullRequestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		file   string
		code   string
	}{
		{"no changes", 422, "err_no_changes.json", relay.EInvalid},
		{"a branch is missing", 404, "err_not_found.json", relay.ENotFound},
		{"read-only token", 403, "err_scope_write.json", relay.EScopeMissing},
		{"server error", 500, "err_server.json", relay.EHostError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := newReplay(t, exchange{Method: "POST", Path: "/repos/platform/billing-api/pulls",
				Body: `{"title":"T","head":"BIL-12-export-csv","base":"main"}`, Status: tc.status, File: tc.file})
			_, err := client(t, rp).CreatePullRequest(t.Context(), billingAPI, relay.NewPullRequest{
				Source: "BIL-12-export-csv", Target: "main", Title: "T"})
			wantCode(t, err, tc.code)
		})
	}
}

func TestFindPullRequestNone(t *testing.T) {
	rp := newReplay(t, exchange{Method: "GET", Path: "/repos/platform/billing-api/pulls", Query: "base_branch=main&limit=50&page=1&state=open", File: "pulls_page1.json"})
	_, err := client(t, rp).FindPullRequest(t.Context(), billingAPI, "BIL-12-export-csv", "main")
	wantCode(t, err, relay.ENotFound)
}

// The token goes only to the integration's own origin: a redirect to
// another host is refused before it is followed.
func TestTheTokenNeverLeavesTheOrigin(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("followed a redirect to another origin (Authorization %q)", r.Header.Get("Authorization"))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	defer srv.Close()
	c, err := gitea.New().NewClient(relay.HostConfig{Kind: gitea.Kind, BaseURL: srv.URL}, relay.TokenCredential(wireToken), hosttest.LocalClient(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Validate(t.Context())
	wantCode(t, err, relay.EHostError)
}
