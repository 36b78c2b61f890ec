package codecommit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/codecommit"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// The recorded answers in testdata are shaped after the request and
// response examples of the CodeCommit and STS API references.

const (
	wireKeyID  = "AKIAIOSFODNN7EXAMPLE"
	wireSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYCANARYKEY"
	wireRegion = "eu-west-1"
)

// exchange is one expected request and the recorded answer to it.
type exchange struct {
	// op is the CodeCommit operation (X-Amz-Target suffix), or
	// "GetCallerIdentity" for STS.
	op string
	// body is the JSON body the request must carry (nil: not checked).
	// clientRequestToken, which the SDK generates, is checked for presence
	// and then left out of the comparison.
	body   map[string]any
	status int
	file   string
	header map[string]string
}

// stsBody is the form every GetCallerIdentity request sends.
const stsBody = "Action=GetCallerIdentity&Version=2011-06-15"

// wire is the request and answer of x on the wire: every call is a signed
// POST / carrying its operation in X-Amz-Target, STS's as a form.
func (x exchange) wire() hosttest.Exchange {
	ex := hosttest.Exchange{
		Method: http.MethodPost, Path: "/",
		Status: x.status, File: x.file, Header: x.header,
		Check: func(t testing.TB, r *http.Request, body []byte) { checkSigned(t, r, body, x.op) },
	}
	if x.op == "GetCallerIdentity" {
		ex.RawBody = stsBody
		return ex
	}
	ex.ReqHeader = map[string]string{
		"X-Amz-Target": "CodeCommit_20150413." + x.op,
		"Content-Type": "application/x-amz-json-1.1",
	}
	if x.body == nil {
		ex.SkipBody = true
		return ex
	}
	b, err := json.Marshal(x.body)
	if err != nil {
		panic(err)
	}
	ex.Body = string(b)
	return ex
}

var wire = hosttest.Options{
	hosttest.JSONContentType("application/x-amz-json-1.1"),
	hosttest.GeneratedFields("clientRequestToken"),
	hosttest.ContentType(func(file string) string {
		if strings.HasSuffix(file, ".xml") {
			return "text/xml"
		}
		return "application/x-amz-json-1.1"
	}),
	hosttest.ReplyHeaders(map[string]string{"X-Amzn-RequestId": "c8a3e9b1-5f2d-4e7a-b6c0-9d1e2f3a4b5c"}),
	hosttest.Describe(func(r *http.Request) string { return fmt.Sprintf("(X-Amz-Target %q)", r.Header.Get("X-Amz-Target")) }),
}

// replay serves exchanges in order, checking each request's path,
// headers, signature scope and body, and fails the test if any is left.
func replay(t *testing.T, exchanges ...exchange) string {
	t.Helper()
	script := make([]hosttest.Exchange, len(exchanges))
	for i, x := range exchanges {
		script[i] = x.wire()
	}
	return wire.Replay(t, script...).URL
}

var credentialScope = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$`)

// checkSigned checks the request is signed with the wire key for op's
// service and carries neither a session token nor the secret.
func checkSigned(t testing.TB, r *http.Request, body []byte, op string) {
	t.Helper()
	m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization"))
	service := "codecommit"
	if op == "GetCallerIdentity" {
		service = "sts"
	}
	switch {
	case m == nil:
		t.Errorf("%s: Authorization %q is not a SigV4 header", op, r.Header.Get("Authorization"))
	case m[1] != wireKeyID || m[3] != wireRegion || m[4] != service:
		t.Errorf("%s: signed as %s in %s for %s, want %s in %s for %s", op, m[1], m[3], m[4], wireKeyID, wireRegion, service)
	case !strings.Contains(m[5], "host") || !strings.Contains(m[5], "x-amz-date"):
		t.Errorf("%s: SignedHeaders %q lack host or x-amz-date", op, m[5])
	}
	if d := r.Header.Get("X-Amz-Date"); m != nil && !strings.HasPrefix(d, m[2]) {
		t.Errorf("%s: X-Amz-Date %q does not match the credential scope date %s", op, d, m[2])
	}
	if tok := r.Header.Get("X-Amz-Security-Token"); tok != "" {
		t.Errorf("%s: a session token was sent; gitrelay signs with long-term keys only", op)
	}
	if strings.Contains(string(body), wireSecret) || strings.Contains(fmt.Sprint(r.Header), wireSecret) {
		t.Errorf("%s: the secret access key travelled in the request", op)
	}
	if service == "sts" {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			t.Errorf("STS Content-Type = %q", ct)
		}
	}
}

func wireClient(t *testing.T, u string) relay.HostClient {
	t.Helper()
	c, err := codecommit.New().NewClient(
		relay.HostConfig{Kind: codecommit.Kind, Options: map[string]string{"region": wireRegion, "endpoint": u, "sts_endpoint": u}},
		relay.AccessKeyCredential(wireKeyID, wireSecret),
		hosttest.LocalClient(5*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var demoRepo = relay.Repository{ID: "MyDemoRepo", Name: "MyDemoRepo", FullName: "123456789012/MyDemoRepo", DefaultBranch: "main"}

const console = "https://eu-west-1.console.aws.amazon.com/codesuite/codecommit/repositories/"

func TestWireValidateReadsTheIAMUserFromTheARN(t *testing.T) {
	u := replay(t, exchange{op: "GetCallerIdentity", file: "sts_caller_identity.xml"})
	acc, err := wireClient(t, u).Validate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := relay.Account{Login: "mary-major", Name: "arn:aws:iam::123456789012:user/developers/mary-major"}
	if !reflect.DeepEqual(acc, want) {
		t.Errorf("Validate = %+v, want %+v (no scopes, no expiry: AWS tells neither)", acc, want)
	}
}

func TestWireValidateRefusesRootKeys(t *testing.T) {
	u := replay(t, exchange{op: "GetCallerIdentity", file: "sts_root_identity.xml"})
	_, err := wireClient(t, u).Validate(t.Context())
	if e, ok := relay.AsError(err); !ok || e.Code != relay.EInvalid || !strings.Contains(e.Message, "root user") {
		t.Errorf("Validate with root keys = %v, want invalid_request naming the root user", err)
	}
}

func TestWireRepositoriesPagesFiltersAndBatches(t *testing.T) {
	u := replay(t,
		exchange{op: "ListRepositories", body: map[string]any{"sortBy": "repositoryName", "order": "ascending"}, file: "list_repositories_page1.json"},
		exchange{op: "ListRepositories", body: map[string]any{"sortBy": "repositoryName", "order": "ascending", "nextToken": "ZXhhbXBsZS1wYWdlLTItdG9rZW4="}, file: "list_repositories_page2.json"},
		exchange{op: "BatchGetRepositories", body: map[string]any{"repositoryNames": []string{"MyDemoRepo", "MyOtherDemoRepo", "zz-demo-archive"}}, file: "batch_get_repositories.json"},
	)
	got, err := wireClient(t, u).Repositories(t.Context(), "DEMO")
	if err != nil {
		t.Fatal(err)
	}
	want := []relay.Repository{
		{ID: "MyDemoRepo", Name: "MyDemoRepo", FullName: "123456789012/MyDemoRepo", DefaultBranch: "main", WebURL: console + "MyDemoRepo/browse?region=eu-west-1"},
		{ID: "zz-demo-archive", Name: "zz-demo-archive", FullName: "123456789012/zz-demo-archive", DefaultBranch: "trunk", WebURL: console + "zz-demo-archive/browse?region=eu-west-1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Repositories(DEMO) = %+v\nwant %+v (a repository deleted between the calls is left out)", got, want)
	}
}

func TestWireRepositoryByName(t *testing.T) {
	u := replay(t, exchange{op: "GetRepository", body: map[string]any{"repositoryName": "MyDemoRepo"}, file: "get_repository.json"})
	got, err := wireClient(t, u).Repository(t.Context(), "MyDemoRepo")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "MyDemoRepo" || got.FullName != "123456789012/MyDemoRepo" || got.DefaultBranch != "main" {
		t.Errorf("Repository = %+v", got)
	}
}

func TestWireBranchesReadEachCommit(t *testing.T) {
	get := func(branch, file string) exchange {
		return exchange{op: "GetBranch", body: map[string]any{"repositoryName": "MyDemoRepo", "branchName": branch}, file: file}
	}
	// One branch matches: the commits of several are read concurrently, in
	// no fixed order.
	u := replay(t,
		exchange{op: "ListBranches", body: map[string]any{"repositoryName": "MyDemoRepo"}, file: "list_branches.json"},
		get("MyNewBranch", "get_branch_new.json"),
	)
	got, err := wireClient(t, u).Branches(t.Context(), demoRepo, "newb")
	if err != nil {
		t.Fatal(err)
	}
	want := []relay.Branch{{Name: "MyNewBranch", SHA: "a1b2c3d4EXAMPLE0000000000000000000000003",
		URL: console + "MyDemoRepo/browse/refs/heads/MyNewBranch?region=eu-west-1"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Branches(newb) = %+v, want %+v", got, want)
	}

	u = replay(t, get("feature/ABC-7-login", "get_branch_feature.json"))
	b, err := wireClient(t, u).Branch(t.Context(), demoRepo, "feature/ABC-7-login")
	if err != nil {
		t.Fatal(err)
	}
	if b.SHA != "4c925148EXAMPLE0000000000000000000000002" || b.URL != console+"MyDemoRepo/browse/refs/heads/feature/ABC-7-login?region=eu-west-1" {
		t.Errorf("Branch = %+v", b)
	}
}

func TestWireCreateAndDeleteBranch(t *testing.T) {
	u := replay(t,
		exchange{op: "CreateBranch", body: map[string]any{"repositoryName": "MyDemoRepo", "branchName": "ABC-1-fix-login", "commitId": "317f8570EXAMPLE0000000000000000000000001"}, file: "empty.json"},
		exchange{op: "DeleteBranch", body: map[string]any{"repositoryName": "MyDemoRepo", "branchName": "ABC-1-fix-login"}, file: "delete_branch.json"},
	)
	c := wireClient(t, u)
	b, err := c.CreateBranch(t.Context(), demoRepo, "ABC-1-fix-login", "317f8570EXAMPLE0000000000000000000000001")
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "ABC-1-fix-login" || b.SHA != "317f8570EXAMPLE0000000000000000000000001" || b.URL != console+"MyDemoRepo/browse/refs/heads/ABC-1-fix-login?region=eu-west-1" {
		t.Errorf("CreateBranch = %+v", b)
	}
	if err := c.DeleteBranch(t.Context(), demoRepo, "ABC-1-fix-login"); err != nil {
		t.Errorf("DeleteBranch: %v", err)
	}
}

func listOpen() exchange {
	return exchange{op: "ListPullRequests", body: map[string]any{"repositoryName": "MyDemoRepo", "pullRequestStatus": "OPEN"}, file: "list_pull_requests.json"}
}

func getPR(id string) exchange {
	return exchange{op: "GetPullRequest", body: map[string]any{"pullRequestId": id}, file: "pull_request_" + id + ".json"}
}

func TestWireCreatePullRequestLooksFirst(t *testing.T) {
	u := replay(t,
		listOpen(), getPR("2"), getPR("12"), getPR("16"),
		exchange{op: "CreatePullRequest", body: map[string]any{
			"title":       "ABC-1 Fix the login",
			"description": "Fixes ABC-1.",
			"targets":     []any{map[string]any{"repositoryName": "MyDemoRepo", "sourceReference": "ABC-1-fix-login", "destinationReference": "develop"}},
		}, file: "pull_request_created.json"},
	)
	pr, err := wireClient(t, u).CreatePullRequest(t.Context(), demoRepo, relay.NewPullRequest{
		Source: "ABC-1-fix-login", Target: "develop", Title: "ABC-1 Fix the login", Description: "Fixes ABC-1.",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := relay.PullRequest{Number: 42, Title: "ABC-1 Fix the login", URL: console + "MyDemoRepo/pull-requests/42/details?region=eu-west-1",
		Source: "ABC-1-fix-login", Target: "main"}
	if !reflect.DeepEqual(pr, want) {
		t.Errorf("CreatePullRequest = %+v, want %+v", pr, want)
	}
}

func TestWireExistingPullRequestIsReportedNotDuplicated(t *testing.T) {
	u := replay(t, listOpen(), getPR("2"), getPR("12"), getPR("16")) // no CreatePullRequest
	_, err := wireClient(t, u).CreatePullRequest(t.Context(), demoRepo, relay.NewPullRequest{
		Source: "ABC-1-fix-login", Target: "main", Title: "ABC-1 again",
	})
	e, ok := relay.AsError(err)
	if !ok || e.Code != relay.EPullRequestExists || e.URL != console+"MyDemoRepo/pull-requests/16/details?region=eu-west-1" {
		t.Errorf("CreatePullRequest of an open one = %v, want pull_request_exists pointing at #16", err)
	}
}

func TestWireDraftsAreRefusedWithoutAsking(t *testing.T) {
	u := replay(t)
	_, err := wireClient(t, u).CreatePullRequest(t.Context(), demoRepo, relay.NewPullRequest{Source: "a", Target: "main", Title: "t", Draft: true})
	if relay.ErrorCode(err) != relay.EDraftUnsupported {
		t.Errorf("draft = %v, want draft_unsupported", err)
	}
}

// Every CodeCommit and STS error of hosts.md maps to its code.
func TestWireErrorsMapToCodes(t *testing.T) {
	createBranch := func(c relay.HostClient) error {
		_, err := c.CreateBranch(t.Context(), demoRepo, "ABC-1-fix-login", "317f8570EXAMPLE0000000000000000000000001")
		return err
	}
	for _, tc := range []struct {
		name string
		x    exchange
		do   func(relay.HostClient) error
		code string
		says string
	}{
		{name: "unknown key", x: exchange{op: "CreateBranch", status: 400, file: "err_unrecognized_client.json"}, do: createBranch, code: relay.ECredentialRejected, says: "deleted or deactivated"},
		{name: "wrong secret", x: exchange{op: "CreateBranch", status: 400, file: "err_invalid_signature.json"}, do: createBranch, code: relay.ECredentialRejected, says: "does not match"},
		{name: "expired session", x: exchange{op: "CreateBranch", status: 400, file: "err_expired_token.json"}, do: createBranch, code: relay.ECredentialRejected, says: "rejected the access key"},
		{name: "server clock off is not the key's fault", x: exchange{op: "CreateBranch", status: 400, file: "err_signature_expired.json"}, do: createBranch, code: relay.EHostError, says: "clock"},
		{name: "missing IAM action", x: exchange{op: "CreateBranch", status: 400, file: "err_access_denied.json"}, do: createBranch, code: relay.EScopeMissing, says: "codecommit:CreateBranch"},
		{name: "branch exists", x: exchange{op: "CreateBranch", status: 400, file: "err_branch_exists.json"}, do: createBranch, code: relay.EBranchExists, says: "already exists"},
		{name: "base commit missing", x: exchange{op: "CreateBranch", status: 400, file: "err_commit_missing.json"}, do: createBranch, code: relay.ENotFound, says: "base commit"},
		{name: "name refused", x: exchange{op: "CreateBranch", status: 400, file: "err_invalid_branch_name.json"}, do: createBranch, code: relay.EInvalidBranchName, says: "conflict"},
		{name: "repository missing", x: exchange{op: "CreateBranch", status: 400, file: "err_repository_missing.json"}, do: createBranch, code: relay.ENotFound, says: "MyDemoRepo"},
		{name: "throttled", x: exchange{op: "CreateBranch", status: 400, file: "err_throttling.json"}, do: createBranch, code: relay.ERateLimited, says: "in 60 seconds"},
		{name: "throttled with Retry-After from a proxy", x: exchange{op: "CreateBranch", status: 400, file: "err_throttling.json", header: map[string]string{"Retry-After": "7"}}, do: createBranch, code: relay.ERateLimited, says: "in 7 seconds"},
		{name: "KMS key unusable", x: exchange{op: "CreateBranch", status: 400, file: "err_kms.json"}, do: createBranch, code: relay.EHostError, says: "KMS"},
		{name: "internal failure", x: exchange{op: "CreateBranch", status: 500, file: "err_internal.json"}, do: createBranch, code: relay.EHostError, says: "try again"},
		{name: "branch missing on delete", x: exchange{op: "DeleteBranch", status: 400, file: "err_branch_missing.json"},
			do: func(c relay.HostClient) error { return c.DeleteBranch(t.Context(), demoRepo, "ABC-1-fix-login") }, code: relay.ENotFound, says: "deleted already"},
		{name: "default branch on delete", x: exchange{op: "DeleteBranch", status: 400, file: "err_default_branch.json"},
			do: func(c relay.HostClient) error { return c.DeleteBranch(t.Context(), demoRepo, "main") }, code: relay.EInvalid, says: "default branch"},
		{name: "branch missing on read", x: exchange{op: "GetBranch", status: 400, file: "err_branch_missing.json"},
			do: func(c relay.HostClient) error { _, err := c.Branch(t.Context(), demoRepo, "nope"); return err }, code: relay.ENotFound, says: "no branch"},
		{name: "STS: unknown key", x: exchange{op: "GetCallerIdentity", status: 403, file: "sts_err_invalid_client_token.xml"},
			do: func(c relay.HostClient) error { _, err := c.Validate(t.Context()); return err }, code: relay.ECredentialRejected, says: "deleted or deactivated"},
		{name: "STS: wrong secret", x: exchange{op: "GetCallerIdentity", status: 403, file: "sts_err_signature.xml"},
			do: func(c relay.HostClient) error { _, err := c.Validate(t.Context()); return err }, code: relay.ECredentialRejected, says: "does not match"},
		{name: "same source and target", x: exchange{op: "CreatePullRequest", status: 400, file: "err_source_same.json"},
			do: func(c relay.HostClient) error {
				_, err := c.CreatePullRequest(t.Context(), demoRepo, relay.NewPullRequest{Source: "ABC-9", Target: "main", Title: "t"})
				return err
			}, code: relay.EInvalid, says: "nothing to propose"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := tc.x
			exchanges := []exchange{x}
			if x.op == "CreatePullRequest" {
				exchanges = []exchange{listOpen(), getPR("2"), getPR("12"), getPR("16"), x}
			}
			err := tc.do(wireClient(t, replay(t, exchanges...)))
			e, ok := relay.AsError(err)
			if !ok || e.Code != tc.code || !strings.Contains(e.Message, tc.says) {
				t.Fatalf("got %v, want %s saying %q", err, tc.code, tc.says)
			}
			for _, shown := range []string{e.Error(), e.Message, fmt.Sprintf("%+v", e)} {
				if strings.Contains(shown, wireSecret) {
					t.Errorf("the error shows the secret access key: %s", shown)
				}
			}
		})
	}
}

// A host that echoes the key back (a misconfigured proxy) does not get it
// into gitrelay's messages.
func TestWireErrorsNeverCarryTheKey(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":"ValidationException","message":"bad key %s / %s"}`, wireKeyID, wireSecret)
	}))
	defer srv.Close()
	_, err := wireClient(t, srv.URL).CreateBranch(t.Context(), demoRepo, "x", "abc")
	if err == nil {
		t.Fatal("no error")
	}
	e, _ := relay.AsError(err)
	for _, shown := range []string{err.Error(), e.Message, fmt.Sprintf("%+v", err)} {
		if strings.Contains(shown, wireSecret) || strings.Contains(shown, wireKeyID) {
			t.Errorf("the error shows the key: %s", shown)
		}
	}
}

// Writes are sent once: the SDK's retries are off.
func TestWireWritesAreNotRetried(t *testing.T) {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"__type":"ServiceUnavailableException","message":"Service Unavailable"}`))
	}))
	defer srv.Close()
	_, err := wireClient(t, srv.URL).CreateBranch(t.Context(), demoRepo, "ABC-1", "abc")
	if relay.ErrorCode(err) != relay.EHostError {
		t.Errorf("CreateBranch on a 503 = %v, want host_error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 1 {
		t.Errorf("%d requests, want 1 (no retry)", n)
	}
}

// retryingClient is wireClient with the retry policy's waits recorded
// instead of slept.
func retryingClient(t *testing.T, u string) (relay.HostClient, *[]time.Duration) {
	t.Helper()
	var waits []time.Duration
	hc := host.NewHTTPClient(host.ClientConfig{
		Timeout: 5 * time.Second,
		Egress:  host.Egress{Allow: host.MustAllowlist(hosttest.LoopbackAllowed)},
		Retries: host.RetryPolicy{Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }},
	})
	c, err := codecommit.New().NewClient(
		relay.HostConfig{Kind: codecommit.Kind, Options: map[string]string{"region": wireRegion, "endpoint": u, "sts_endpoint": u}},
		relay.AccessKeyCredential(wireKeyID, wireSecret), hc)
	if err != nil {
		t.Fatal(err)
	}
	return c, &waits
}

// AWS throttles with HTTP 400 and a code in the body (JSON for
// CodeCommit, XML for STS): reads are sent again, signed as they were.
func TestWireThrottledReadsAreSentAgain(t *testing.T) {
	getRepo := map[string]any{"repositoryName": "MyDemoRepo"}
	for _, tc := range []struct {
		name      string
		exchanges []exchange
		read      func(c relay.HostClient) error
	}{
		{"GetRepository", []exchange{
			{op: "GetRepository", body: getRepo, status: 400, file: "err_throttling.json"},
			{op: "GetRepository", body: getRepo, file: "get_repository.json"},
		}, func(c relay.HostClient) error { _, err := c.Repository(t.Context(), "MyDemoRepo"); return err }},
		{"GetCallerIdentity", []exchange{
			{op: "GetCallerIdentity", status: 400, file: "sts_err_throttling.xml"},
			{op: "GetCallerIdentity", file: "sts_caller_identity.xml"},
		}, func(c relay.HostClient) error { _, err := c.Validate(t.Context()); return err }},
		{"GetRepository after a 503 with a proxy's Retry-After", []exchange{
			{op: "GetRepository", body: getRepo, status: 503, file: "err_internal.json", header: map[string]string{"Retry-After": "2"}},
			{op: "GetRepository", body: getRepo, file: "get_repository.json"},
		}, func(c relay.HostClient) error { _, err := c.Repository(t.Context(), "MyDemoRepo"); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, waits := retryingClient(t, replay(t, tc.exchanges...))
			if err := tc.read(c); err != nil {
				t.Fatalf("%s after a throttled answer: %v", tc.name, err)
			}
			if len(*waits) != 1 {
				t.Errorf("waits = %v, want one", *waits)
			}
		})
	}

	t.Run("a write is sent once", func(t *testing.T) {
		c, waits := retryingClient(t, replay(t, exchange{op: "CreateBranch", status: 400, file: "err_throttling.json"}))
		_, err := c.CreateBranch(t.Context(), demoRepo, "ABC-1", "317f8570EXAMPLE0000000000000000000000001")
		if relay.ErrorCode(err) != relay.ERateLimited || len(*waits) != 0 {
			t.Errorf("CreateBranch throttled = %v after waits %v, want rate_limited at once", err, *waits)
		}
	})

	t.Run("a read throttled every time gives up, rate limited", func(t *testing.T) {
		var script []exchange
		for range host.DefaultRetryAttempts {
			script = append(script, exchange{op: "GetRepository", body: getRepo, status: 400, file: "err_throttling.json"})
		}
		c, waits := retryingClient(t, replay(t, script...))
		_, err := c.Repository(t.Context(), "MyDemoRepo")
		if relay.ErrorCode(err) != relay.ERateLimited || len(*waits) != host.DefaultRetryAttempts-1 {
			t.Errorf("Repository = %v after waits %v, want rate_limited after %d attempts", err, *waits, host.DefaultRetryAttempts)
		}
	})
}

// An answer that breaks off halfway (the connection closed while the SDK
// read a 200) is asked for again: a read only, as everywhere.
func TestWireReadCutShortIsAskedAgain(t *testing.T) {
	answer, err := os.ReadFile("testdata/get_repository.json")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var targets []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		targets = append(targets, r.Header.Get("X-Amz-Target"))
		first := len(targets) == 1
		mu.Unlock()
		if first {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: %d\r\n\r\n%s", len(answer), answer[:len(answer)/2])
			conn.Close()
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write(answer)
	}))
	defer srv.Close()
	c, waits := retryingClient(t, srv.URL)
	repo, err := c.Repository(t.Context(), "MyDemoRepo")
	if err != nil || repo.Name != "MyDemoRepo" {
		t.Fatalf("Repository after an answer cut short = %+v, %v", repo, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(targets) != 2 || targets[1] != "CodeCommit_20150413.GetRepository" || len(*waits) != 1 {
		t.Errorf("requests %q, waits %v; want GetRepository twice, one wait", targets, *waits)
	}
}
