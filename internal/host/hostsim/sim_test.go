package hostsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
)

// world is a simulator with one private repository alice may push to.
func world(t *testing.T) (*hostsim.Sim, *httptest.Server) {
	t.Helper()
	sim := hostsim.New()
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Writers: []string{"alice"}})
	sim.AddToken(hostsim.Token{Value: "classic-alice", Login: "alice", Name: "Alice Liddell", Scopes: []string{"repo", "read:org"}})
	sim.AddToken(hostsim.Token{Value: "fine-alice", Login: "alice", Permissions: map[string]string{"contents": "read"}})
	return sim, srv
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	list   []map[string]any
	raw    string
}

func call(t *testing.T, method, url, auth, body string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
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

func TestGitHubErrorBodiesAreGitHubs(t *testing.T) {
	sim, srv := world(t)
	sim.AddBranch("acme/widgets", "ABC-1", "")
	main := sim.Branches("acme/widgets")["main"]
	for _, tc := range []struct {
		name               string
		method, path, auth string
		body               string
		status             int
		want               map[string]any
	}{
		{"unknown token", "GET", "/user", "Bearer nope", "", 401,
			map[string]any{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}},
		{"no token", "GET", "/user", "", "", 401,
			map[string]any{"message": "Requires authentication", "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user", "status": "401"}},
		{"branch exists", "POST", "/repos/acme/widgets/git/refs", "token classic-alice", `{"ref":"refs/heads/ABC-1","sha":"` + main + `"}`, 422,
			map[string]any{"message": "Reference already exists", "documentation_url": "https://docs.github.com/rest/git/refs#create-a-reference", "status": "422"}},
		{"delete a missing branch", "DELETE", "/repos/acme/widgets/git/refs/heads/nope", "Bearer classic-alice", "", 422,
			map[string]any{"message": "Reference does not exist", "documentation_url": "https://docs.github.com/rest/git/refs#delete-a-reference", "status": "422"}},
		{"fine-grained token without contents write", "POST", "/repos/acme/widgets/git/refs", "Bearer fine-alice", `{"ref":"refs/heads/x","sha":"` + main + `"}`, 403,
			map[string]any{"message": "Resource not accessible by personal access token", "documentation_url": "https://docs.github.com/rest/git/refs#create-a-reference", "status": "403"}},
		{"pull request without its head", "POST", "/repos/acme/widgets/pulls", "Bearer classic-alice", `{"title":"t","head":"nope","base":"main"}`, 422,
			map[string]any{"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request", "status": "422",
				"errors": []any{map[string]any{"resource": "PullRequest", "field": "head", "code": "invalid"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, tc.method, srv.URL+tc.path, tc.auth, tc.body)
			if a.status != tc.status || !reflect.DeepEqual(a.body, tc.want) {
				t.Errorf("%s %s = %d %s\nwant %d %v", tc.method, tc.path, a.status, a.raw, tc.status, tc.want)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if got := call(t, "POST", srv.URL+"/repos/acme/widgets/git/refs", "Bearer fine-alice", `{"ref":"refs/heads/x","sha":"`+main+`"}`).header.Get("X-Accepted-GitHub-Permissions"); got != "contents=write" {
		t.Errorf("X-Accepted-GitHub-Permissions = %q, want contents=write", got)
	}
}

func TestGitHubPullRequestExistsBody(t *testing.T) {
	sim, srv := world(t)
	sim.AddBranch("acme/widgets", "ABC-1", "")
	body := `{"title":"ABC-1","head":"acme:ABC-1","base":"main"}`
	if a := call(t, "POST", srv.URL+"/repos/acme/widgets/pulls", "Bearer classic-alice", body); a.status != 201 || a.body["number"] != 1.0 ||
		a.body["html_url"] != srv.URL+"/acme/widgets/pull/1" {
		t.Fatalf("first pull request: %d %s", a.status, a.raw)
	}
	a := call(t, "POST", srv.URL+"/repos/acme/widgets/pulls", "Bearer classic-alice", body)
	want := `{"documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for acme:ABC-1."}],"message":"Validation Failed","status":"422"}`
	if a.status != 422 || strings.TrimSpace(a.raw) != want {
		t.Errorf("second pull request: %d %s\nwant 422 %s", a.status, a.raw, want)
	}
}

func TestGitHubTokenHeaders(t *testing.T) {
	sim, srv := world(t)
	exp := time.Date(2031, 10, 7, 19, 7, 53, 0, time.FixedZone("CEST", 2*3600))
	sim.AddToken(hostsim.Token{Value: "expiring", Login: "bob", Scopes: []string{}, ExpiresAt: &exp})

	a := call(t, "GET", srv.URL+"/user", "Bearer classic-alice", "")
	if a.status != 200 || a.body["login"] != "alice" || a.body["name"] != "Alice Liddell" {
		t.Fatalf("/user = %d %s", a.status, a.raw)
	}
	if got := a.header.Values("X-OAuth-Scopes"); len(got) != 1 || got[0] != "repo, read:org" {
		t.Errorf("X-OAuth-Scopes = %q", got)
	}
	if a.header.Get("GitHub-Authentication-Token-Expiration") != "" {
		t.Error("a token that never expires has an expiration header")
	}
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Used"} {
		if a.header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}

	a = call(t, "GET", srv.URL+"/user", "token expiring", "")
	if got := a.header.Get("GitHub-Authentication-Token-Expiration"); got != "2031-10-07 17:07:53 UTC" {
		t.Errorf("expiration header %q, want 2031-10-07 17:07:53 UTC", got)
	}
	if got, ok := a.header["X-Oauth-Scopes"]; !ok || len(got) != 1 || got[0] != "" {
		t.Errorf("a classic token without scopes: X-OAuth-Scopes = %q, %v; want present and empty", got, ok)
	}

	a = call(t, "GET", srv.URL+"/user", "Bearer fine-alice", "")
	if _, ok := a.header["X-Oauth-Scopes"]; ok || a.status != 200 {
		t.Errorf("a fine-grained token: %d, X-OAuth-Scopes present = %v; want 200 without it", a.status, ok)
	}

	// Basic with the token as password, as git and old clients send it.
	if a := call(t, "GET", srv.URL+"/user", "Basic YWxpY2U6Y2xhc3NpYy1hbGljZQ==", ""); a.status != 200 {
		t.Errorf("Basic auth: %d", a.status)
	}
}

func TestRevokedAndExpiredTokens(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	sim, srv := world(t)
	sim.SetClock(func() time.Time { return now })
	later := now.Add(time.Hour)
	sim.AddToken(hostsim.Token{Value: "soon", Login: "alice", Scopes: []string{"repo"}, ExpiresAt: &later})
	if a := call(t, "GET", srv.URL+"/user", "Bearer soon", ""); a.status != 200 {
		t.Fatalf("before expiry: %d", a.status)
	}
	now = now.Add(2 * time.Hour)
	if a := call(t, "GET", srv.URL+"/user", "Bearer soon", ""); a.status != 401 {
		t.Errorf("after expiry: %d, want 401", a.status)
	}
	sim.ExpireToken("classic-alice")
	if a := call(t, "GET", srv.URL+"/user", "Bearer classic-alice", ""); a.status != 401 {
		t.Errorf("after ExpireToken: %d, want 401", a.status)
	}
	sim.RevokeToken("fine-alice")
	if a := call(t, "GET", srv.URL+"/user", "Bearer fine-alice", ""); a.status != 401 {
		t.Errorf("after RevokeToken: %d, want 401", a.status)
	}
}

func TestGitHubHidesWhatATokenCannotSee(t *testing.T) {
	sim, srv := world(t)
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "public", Writers: []string{"carol"}})
	sim.AddToken(hostsim.Token{Value: "public-alice", Login: "alice", Scopes: []string{"public_repo"}})
	sim.AddToken(hostsim.Token{Value: "bob", Login: "bob", Scopes: []string{"repo"}})
	main := sim.Branches("acme/widgets")["main"]
	pub := sim.Branches("acme/public")["main"]
	create := `{"ref":"refs/heads/x","sha":"%s"}`
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
	}{
		{"classic public_repo token reads a private repository", "GET", "/repos/acme/widgets", "public-alice", "", 404},
		{"classic public_repo token writes a private repository", "POST", "/repos/acme/widgets/git/refs", "public-alice", fmt.Sprintf(create, main), 404},
		{"a stranger reads a private repository", "GET", "/repos/acme/widgets", "bob", "", 404},
		{"a stranger reads it by id", "GET", "/repositories/1296269", "bob", "", 404},
		{"a stranger reads a public repository", "GET", "/repos/acme/public", "bob", "", 200},
		{"a stranger writes a public repository", "POST", "/repos/acme/public/git/refs", "bob", fmt.Sprintf(create, pub), 403},
		{"anonymous reads a public repository", "GET", "/repos/acme/public", "", "", 200},
		{"anonymous writes", "POST", "/repos/acme/public/git/refs", "", fmt.Sprintf(create, pub), 401},
		{"the owner's name is case-insensitive", "GET", "/repos/ACME/Widgets", "classic-alice", "", 200},
	} {
		auth := ""
		if tc.token != "" {
			auth = "Bearer " + tc.token
		}
		if a := call(t, tc.method, srv.URL+tc.path, auth, tc.body); a.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, a.status, a.raw, tc.status)
		}
	}
	a := call(t, "GET", srv.URL+"/user/repos", "Bearer public-alice", "")
	if len(a.list) != 0 {
		t.Errorf("/user/repos for a public_repo token lists %d private repositories", len(a.list))
	}
}

func TestGitHubPaginatesWithLinks(t *testing.T) {
	sim, srv := world(t)
	for i := range 5 {
		sim.AddRepo(hostsim.Repo{Owner: "alice", Name: fmt.Sprintf("r%d", i)})
	}
	a := call(t, "GET", srv.URL+"/user/repos?per_page=2", "Bearer classic-alice", "")
	if len(a.list) != 2 || a.list[0]["full_name"] != "acme/widgets" {
		t.Fatalf("page 1 = %s", a.raw)
	}
	link := a.header.Get("Link")
	want := fmt.Sprintf(`<%[1]s/user/repos?page=2&per_page=2>; rel="next", <%[1]s/user/repos?page=3&per_page=2>; rel="last"`, srv.URL)
	if link != want {
		t.Errorf("Link = %s\nwant %s", link, want)
	}
	a = call(t, "GET", srv.URL+"/user/repos?per_page=2&page=3", "Bearer classic-alice", "")
	if len(a.list) != 2 || strings.Contains(a.header.Get("Link"), `rel="next"`) || !strings.Contains(a.header.Get("Link"), `rel="prev"`) {
		t.Errorf("page 3 = %d items, Link %s", len(a.list), a.header.Get("Link"))
	}
	perms, _ := a.list[0]["permissions"].(map[string]any)
	if perms["push"] != true || perms["admin"] != true {
		t.Errorf("alice's own repository permissions %v", perms)
	}
}

func TestGitHubEnterpriseServesUnderAPIv3(t *testing.T) {
	sim, srv := world(t)
	_ = sim
	a := call(t, "GET", srv.URL+"/api/v3/repositories/1296269", "Bearer classic-alice", "")
	if a.status != 200 || a.body["html_url"] != srv.URL+"/acme/widgets" || a.body["url"] != srv.URL+"/api/v3/repos/acme/widgets" {
		t.Errorf("GHES repository = %d %s", a.status, a.raw)
	}
	if a := call(t, "GET", srv.URL+"/settings/tokens/new?scopes=repo&description=%3Cb%3E", "", ""); a.status != 200 || strings.Contains(a.raw, "<b>") {
		t.Errorf("token page = %d %s", a.status, a.raw)
	}
}

func TestWritesAreLoggedWithoutTokens(t *testing.T) {
	sim, srv := world(t)
	main := sim.Branches("acme/widgets")["main"]
	call(t, "POST", srv.URL+"/repos/acme/widgets/git/refs", "Bearer classic-alice", `{"ref":"refs/heads/ABC-1","sha":"`+main+`"}`)
	call(t, "POST", srv.URL+"/api/v3/repos/acme/widgets/git/refs", "Bearer fine-alice", `{"ref":"refs/heads/ABC-2","sha":"`+main+`"}`)
	call(t, "DELETE", srv.URL+"/repos/acme/widgets/git/refs/heads/ABC-1", "Bearer nope", "")
	call(t, "GET", srv.URL+"/repos/acme/widgets", "Bearer classic-alice", "")
	ws := sim.Writes()
	if len(ws) != 3 {
		t.Fatalf("Writes = %+v, want 3 (reads are not writes)", ws)
	}
	want := []hostsim.Write{
		{Op: hostsim.OpCreateBranch, Method: "POST", Path: "/repos/acme/widgets/git/refs", Repo: "acme/widgets", Ref: "ABC-1", Login: "alice", Token: hostsim.Fingerprint("classic-alice"), Status: 201},
		{Op: hostsim.OpCreateBranch, Method: "POST", Path: "/api/v3/repos/acme/widgets/git/refs", Repo: "acme/widgets", Ref: "ABC-2", Login: "alice", Token: hostsim.Fingerprint("fine-alice"), Status: 403},
		{Op: hostsim.OpDeleteBranch, Method: "DELETE", Path: "/repos/acme/widgets/git/refs/heads/ABC-1", Repo: "acme/widgets", Ref: "ABC-1", Login: "", Token: hostsim.Fingerprint("nope"), Status: 401},
	}
	for i := range want {
		got := ws[i]
		if got.At.IsZero() {
			t.Errorf("write %d has no time", i)
		}
		got.At = time.Time{}
		if got != want[i] {
			t.Errorf("write %d = %+v\nwant %+v", i, got, want[i])
		}
	}
	printed := fmt.Sprintf("%+v %#v", ws, ws)
	for _, token := range []string{"classic-alice", "fine-alice", "nope"} {
		if strings.Contains(printed, token) {
			t.Errorf("the write log shows the token %q", token)
		}
	}
	if hostsim.Fingerprint("a") == hostsim.Fingerprint("b") || hostsim.Fingerprint("") != "" {
		t.Error("Fingerprint does not tell tokens apart")
	}
}

func TestFaults(t *testing.T) {
	sim, srv := world(t)
	sim.Inject(hostsim.Fault{Op: hostsim.OpIdentity, Status: 503, Times: 2})
	sim.Inject(hostsim.Fault{Method: "GET", PathContains: "/branches", Status: 500, Message: "Boom"})
	for i, want := range []int{503, 503, 200} {
		if a := call(t, "GET", srv.URL+"/user", "Bearer classic-alice", ""); a.status != want {
			t.Errorf("/user #%d = %d, want %d", i, a.status, want)
		}
	}
	for range 3 {
		if a := call(t, "GET", srv.URL+"/repos/acme/widgets/branches", "Bearer classic-alice", ""); a.status != 500 || a.body["message"] != "Boom" {
			t.Errorf("branches = %d %s, want the lasting fault", a.status, a.raw)
		}
	}
	sim.ClearFaults()
	if a := call(t, "GET", srv.URL+"/repos/acme/widgets/branches", "Bearer classic-alice", ""); a.status != 200 {
		t.Errorf("after ClearFaults: %d", a.status)
	}

	sim.Inject(hostsim.Fault{Op: hostsim.OpGetRepo, RetryAfter: 30 * time.Second, Times: 1})
	a := call(t, "GET", srv.URL+"/repos/acme/widgets", "Bearer classic-alice", "")
	if a.status != 403 || a.header.Get("X-RateLimit-Remaining") != "0" || a.header.Get("X-RateLimit-Reset") == "" {
		t.Errorf("primary rate limit = %d %v", a.status, a.header)
	}
	sim.Inject(hostsim.Fault{Op: hostsim.OpGetRepo, RetryAfter: 30 * time.Second, Secondary: true, Status: 429, Times: 1})
	a = call(t, "GET", srv.URL+"/repos/acme/widgets", "Bearer classic-alice", "")
	if a.status != 429 || a.header.Get("Retry-After") != "30" || !strings.HasSuffix(a.body["documentation_url"].(string), "secondary-rate-limits") {
		t.Errorf("secondary rate limit = %d %v %s", a.status, a.header, a.raw)
	}

	sim.Inject(hostsim.Fault{Op: hostsim.OpIdentity, Delay: 150 * time.Millisecond, Times: 1})
	start := time.Now()
	if a := call(t, "GET", srv.URL+"/user", "Bearer classic-alice", ""); a.status != 200 || time.Since(start) < 150*time.Millisecond {
		t.Errorf("delayed /user = %d after %v", a.status, time.Since(start))
	}
	sim.SetLatency(100 * time.Millisecond)
	start = time.Now()
	call(t, "GET", srv.URL+"/user", "Bearer classic-alice", "")
	if time.Since(start) < 100*time.Millisecond {
		t.Errorf("latency not applied: %v", time.Since(start))
	}
}

func TestHangUntilTheClientGivesUp(t *testing.T) {
	sim, srv := world(t)
	sim.Inject(hostsim.Fault{Op: hostsim.OpCreateBranch, Hang: true})
	main := sim.Branches("acme/widgets")["main"]
	for name, rt := range map[string]http.RoundTripper{"socket": http.DefaultTransport, "in process": sim.Transport()} {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/repos/acme/widgets/git/refs",
			strings.NewReader(`{"ref":"refs/heads/h","sha":"`+main+`"}`))
		req.Header.Set("Authorization", "Bearer classic-alice")
		start := time.Now()
		_, err := (&http.Client{Transport: rt}).Do(req)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
			t.Errorf("%s: err %v after %v, want the deadline after ~200ms", name, err, time.Since(start))
		}
	}
	// Close releases what still hangs.
	done := make(chan int)
	go func() {
		req, _ := http.NewRequest("POST", srv.URL+"/repos/acme/widgets/git/refs", strings.NewReader(`{}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	time.Sleep(50 * time.Millisecond)
	sim.Close()
	select {
	case status := <-done:
		if status != http.StatusServiceUnavailable {
			t.Errorf("a request released by Close was answered %d, want 503", status)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release a hanging request")
	}
	sim.ClearFaults()
	sim.SetLatency(time.Hour)
	if a := call(t, "GET", srv.URL+"/user", "Bearer classic-alice", ""); a.status != 200 || a.body["login"] != "alice" {
		t.Errorf("after Close, a delayed request = %d %s; want it answered at once", a.status, a.raw)
	}
	if _, err := sim.Transport().RoundTrip(httptest.NewRequest("GET", "http://x/user", nil)); err != nil {
		t.Errorf("the simulator is not usable after Close: %v", err)
	}
}

func TestDropClosesTheConnectionUnanswered(t *testing.T) {
	sim, srv := world(t)
	main := sim.Branches("acme/widgets")["main"]
	for name, rt := range map[string]http.RoundTripper{"socket": &http.Transport{}, "in process": sim.Transport()} {
		sim.Inject(hostsim.Fault{Op: hostsim.OpCreateBranch, Drop: true, Times: 1})
		before, writes := sim.Requests(), len(sim.Writes())
		req, _ := http.NewRequest("POST", srv.URL+"/repos/acme/widgets/git/refs", strings.NewReader(`{"ref":"refs/heads/d","sha":"`+main+`"}`))
		req.Header.Set("Authorization", "Bearer classic-alice")
		resp, err := (&http.Client{Transport: rt}).Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: answered %d, want the connection closed", name, resp.StatusCode)
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: err = %v, want an EOF", name, err)
		}
		if n := sim.Requests() - before; n != 1 {
			t.Errorf("%s: Requests grew by %d, want 1", name, n)
		}
		if ws := sim.Writes(); len(ws) != writes+1 || ws[len(ws)-1].Status != 0 {
			t.Errorf("%s: write log = %+v, want the dropped write, unanswered (status 0)", name, ws)
		}
		if _, made := sim.Branches("acme/widgets")["d"]; made {
			t.Errorf("%s: a dropped request created the branch", name)
		}
	}
}

func TestCutBreaksTheAnswerOffHalfway(t *testing.T) {
	sim, srv := world(t)
	for name, rt := range map[string]http.RoundTripper{"socket": &http.Transport{}, "in process": sim.Transport()} {
		sim.Inject(hostsim.Fault{Op: hostsim.OpIdentity, Cut: true, Times: 1})
		req, _ := http.NewRequest("GET", srv.URL+"/user", nil)
		req.Header.Set("Authorization", "Bearer classic-alice")
		resp, err := (&http.Client{Transport: rt}).Do(req)
		if name == "in process" {
			// No connection to break off: the request fails.
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("in process: %v, want io.ErrUnexpectedEOF", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v, want the answer's headers", name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) || len(body) == 0 || int64(len(body)) >= resp.ContentLength {
			t.Errorf("%s: %d, %d of %d bytes, %v; want a 200 broken off halfway", name, resp.StatusCode, len(body), resp.ContentLength, err)
		}
	}
}

func TestInProcessTransportServesBothFrontEnds(t *testing.T) {
	sim, _ := world(t)
	c := &http.Client{Transport: sim.Transport()}
	for _, u := range []string{"https://api.github.test/repos/acme/widgets", "https://ghe.example.com/api/v3/repos/acme/widgets"} {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer classic-alice")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var repo map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&repo)
		resp.Body.Close()
		host := strings.SplitN(strings.TrimPrefix(u, "https://"), "/", 2)[0]
		if resp.StatusCode != 200 || repo["html_url"] != "https://"+host+"/acme/widgets" {
			t.Errorf("%s = %d %v", u, resp.StatusCode, repo["html_url"])
		}
	}
}

func TestShasAreDeterministic(t *testing.T) {
	run := func() map[string]string {
		sim := hostsim.New()
		sim.AddRepo(hostsim.Repo{Owner: "o", Name: "r"})
		sim.AddBranch("o/r", "a", "")
		sim.Commit("o/r", "a")
		return sim.Branches("o/r")
	}
	a, b := run(), run()
	if !reflect.DeepEqual(a, b) || len(a["main"]) != 40 || a["main"] == a["a"] {
		t.Errorf("shas differ between runs or are malformed: %v vs %v", a, b)
	}
}

func TestSimulatorRules(t *testing.T) {
	sim, srv := world(t)
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "strict", Writers: []string{"alice"}})
	main := sim.Branches("acme/strict")["main"]
	sim.AddBranch("acme/strict", "ABC-1", main)
	pull := func() answer {
		return call(t, "POST", srv.URL+"/repos/acme/strict/pulls", "Bearer classic-alice", `{"title":"t","head":"ABC-1","base":"main"}`)
	}
	if a := pull(); a.status != 422 || !strings.Contains(a.raw, "No commits between main and ABC-1") {
		t.Errorf("an empty pull request = %d %s", a.status, a.raw)
	}
	sim.Commit("acme/strict", "ABC-1")
	if a := pull(); a.status != 201 {
		t.Errorf("after a commit = %d %s", a.status, a.raw)
	}
	if a := call(t, "DELETE", srv.URL+"/repos/acme/strict/git/refs/heads/main", "Bearer classic-alice", ""); a.status != 422 || a.body["message"] != "Cannot delete the default branch" {
		t.Errorf("deleting the default branch = %d %s", a.status, a.raw)
	}
	for _, name := range []string{"a..b", "x.lock", "sp ace"} {
		a := call(t, "POST", srv.URL+"/repos/acme/strict/git/refs", "Bearer classic-alice", fmt.Sprintf(`{"ref":"refs/heads/%s","sha":"%s"}`, name, main))
		if a.status != 422 || a.body["message"] != "Reference update failed" {
			t.Errorf("creating %q = %d %s", name, a.status, a.raw)
		}
	}
	a := call(t, "POST", srv.URL+"/repos/acme/strict/git/refs", "Bearer classic-alice", `{"ref":"refs/heads/y","sha":"0000000000000000000000000000000000000000"}`)
	if a.status != 422 || a.body["message"] != "Object does not exist" {
		t.Errorf("an unknown base = %d %s", a.status, a.raw)
	}
}

// A test that needs GitHub to take a pull request from a branch with no
// commits of its own says so on the repository.
func TestAllowEmptyPullRequestsOptsOutOfGitHubsRefusal(t *testing.T) {
	sim, srv := world(t)
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "lenient", Writers: []string{"alice"}, AllowEmptyPullRequests: true})
	sim.AddBranch("acme/lenient", "ABC-1", sim.Branches("acme/lenient")["main"])
	if a := call(t, "POST", srv.URL+"/repos/acme/lenient/pulls", "Bearer classic-alice", `{"title":"t","head":"ABC-1","base":"main"}`); a.status != 201 {
		t.Errorf("an empty pull request where allowed = %d %s, want 201", a.status, a.raw)
	}
}

func TestConcurrentUseIsSafe(t *testing.T) {
	sim, srv := world(t)
	main := sim.Branches("acme/widgets")["main"]
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			body := fmt.Sprintf(`{"ref":"refs/heads/b%d","sha":"%s"}`, i, main)
			call(t, "POST", srv.URL+"/repos/acme/widgets/git/refs", "Bearer classic-alice", body)
			call(t, "GET", srv.URL+"/repos/acme/widgets/branches?per_page=100", "Bearer classic-alice", "")
			_ = sim.Writes()
			_ = sim.Branches("acme/widgets")
		})
	}
	wg.Wait()
	if n := len(sim.Branches("acme/widgets")); n != 21 {
		t.Errorf("%d branches, want 21", n)
	}
}
