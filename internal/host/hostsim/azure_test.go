package hostsim_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
)

const azZero = "0000000000000000000000000000000000000000"

// azWorld serves the Azure front-end with acme/widgets (alice pushes),
// acme/gadgets (public; alice reads) and a token for alice of each shape.
func azWorld(t *testing.T) (*hostsim.Sim, string) {
	t.Helper()
	sim := hostsim.New()
	srv := httptest.NewServer(sim.Azure())
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Writers: []string{"alice"}})
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "gadgets", Readers: []string{"alice"}})
	sim.AddToken(hostsim.Token{Value: "pat-alice", Login: "alice", Name: "Alice Liddell"})
	sim.AddToken(hostsim.Token{Value: "pat-alice-read", Login: "alice", Scopes: []string{"vso.code"}})
	return sim, srv.URL + "/fabrikam"
}

type azAnswer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func azCall(t *testing.T, method, url, token, body string, suppress bool) azAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(":"+token)))
	}
	if suppress {
		req.Header.Set("X-TFS-FedAuthRedirect", "Suppress")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := azAnswer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// azRepoID finds a repository's GUID through the listing.
func azRepoID(t *testing.T, root, name string) string {
	t.Helper()
	a := azCall(t, "GET", root+"/_apis/git/repositories?api-version=7.1", "pat-alice", "", true)
	for _, r := range a.body["value"].([]any) {
		if m := r.(map[string]any); m["name"] == name {
			return m["id"].(string)
		}
	}
	t.Fatalf("no repository %s in %s", name, a.raw)
	return ""
}

func TestAzureAuthentication(t *testing.T) {
	_, root := azWorld(t)
	for _, tc := range []struct {
		name     string
		token    string
		suppress bool
		status   int
		html     bool
	}{
		{"a known token", "pat-alice", true, http.StatusOK, false},
		{"an unknown token with Suppress gets 401", "nope", true, http.StatusUnauthorized, false},
		{"an unknown token without Suppress gets a sign-in page", "nope", false, http.StatusNonAuthoritativeInfo, true},
		{"no credential without Suppress gets a sign-in page", "", false, http.StatusNonAuthoritativeInfo, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := azCall(t, "GET", root+"/_apis/connectionData", tc.token, "", tc.suppress)
			if a.status != tc.status || strings.HasPrefix(a.header.Get("Content-Type"), "text/html") != tc.html {
				t.Fatalf("got %d %s, want %d (html %t)", a.status, a.header.Get("Content-Type"), tc.status, tc.html)
			}
			if tc.status == http.StatusOK {
				user := a.body["authenticatedUser"].(map[string]any)
				account := user["properties"].(map[string]any)["Account"].(map[string]any)["$value"]
				if account != "alice" || user["providerDisplayName"] != "Alice Liddell" {
					t.Errorf("authenticatedUser = %v", user)
				}
			}
			if tc.status == http.StatusUnauthorized && !strings.Contains(a.body["message"].(string), "TF400813") {
				t.Errorf("401 body = %s, want TF400813", a.raw)
			}
		})
	}
}

func TestAzureRequiresAPIVersion(t *testing.T) {
	_, root := azWorld(t)
	a := azCall(t, "GET", root+"/_apis/git/repositories", "pat-alice", "", true)
	if a.status != http.StatusBadRequest || a.body["typeKey"] != "VssVersionNotSpecifiedException" {
		t.Fatalf("got %d %s, want 400 VssVersionNotSpecifiedException", a.status, a.raw)
	}
}

func TestAzurePermissions(t *testing.T) {
	_, root := azWorld(t)
	list := azCall(t, "GET", root+"/_apis/git/repositories?api-version=7.1", "pat-alice", "", true)
	var tokens []string
	names := map[string]string{}
	for _, r := range list.body["value"].([]any) {
		m := r.(map[string]any)
		token := "repoV2/" + m["project"].(map[string]any)["id"].(string) + "/" + m["id"].(string)
		tokens = append(tokens, token)
		names[token] = m["name"].(string)
	}
	for _, tc := range []struct {
		bits string
		want map[string]bool
	}{
		{"1", map[string]bool{"widgets": true, "gadgets": true}},
		{"4", map[string]bool{"widgets": true, "gadgets": false}},
	} {
		a := azCall(t, "GET", root+"/_apis/permissions/2e9eb7ed-3c0a-47d4-87c1-0ffdd275fd87/"+tc.bits+"?api-version=7.1&delimiter=,&tokens="+strings.Join(tokens, ","), "pat-alice", "", true)
		values := a.body["value"].([]any)
		for i, token := range tokens {
			if got := values[i].(bool); got != tc.want[names[token]] {
				t.Errorf("bits %s on %s = %t, want %t", tc.bits, names[token], got, tc.want[names[token]])
			}
		}
	}
}

func TestAzureRefUpdates(t *testing.T) {
	sim, root := azWorld(t)
	sim.AddBranch("acme/widgets", "release/1.0", "")
	main := sim.Branches("acme/widgets")["main"]
	refs := root + "/acme/_apis/git/repositories/" + azRepoID(t, root, "widgets") + "/refs?api-version=7.1"
	update := func(token, name, oldID, newID string) (int, map[string]any) {
		a := azCall(t, "POST", refs, token, `[{"name":"refs/heads/`+name+`","oldObjectId":"`+oldID+`","newObjectId":"`+newID+`"}]`, true)
		if a.status != http.StatusOK {
			return a.status, a.body
		}
		return a.status, a.body["value"].([]any)[0].(map[string]any)
	}
	for _, tc := range []struct {
		name                  string
		token, ref, old, new_ string
		status                string
		success               bool
	}{
		{"a new branch", "pat-alice", "ABC-1", azZero, main, "succeeded", true},
		{"the same name again", "pat-alice", "ABC-1", azZero, main, "staleOldObjectId", false},
		{"in the way of release/1.0", "pat-alice", "release", azZero, main, "refNameConflict", false},
		{"not a ref name", "pat-alice", "a..b", azZero, main, "invalidRefName", false},
		{"a commit the repository lacks", "pat-alice", "ABC-2", azZero, strings.Repeat("e", 40), "unresolvableToCommit", false},
		{"deleting at the wrong commit", "pat-alice", "ABC-1", strings.Repeat("e", 40), azZero, "staleOldObjectId", false},
		{"deleting", "pat-alice", "ABC-1", main, azZero, "succeeded", true},
		{"deleting what is gone", "pat-alice", "ABC-1", main, azZero, "succeededNonExistentRef", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, res := update(tc.token, tc.ref, tc.old, tc.new_)
			if status != http.StatusOK || res["updateStatus"] != tc.status || res["success"] != tc.success {
				t.Fatalf("got %d %v, want 200 with %s (success %t)", status, res, tc.status, tc.success)
			}
		})
	}
	// Azure DevOps answers 401 for a token without the write scope.
	if status, _ := update("pat-alice-read", "ABC-3", azZero, main); status != http.StatusUnauthorized {
		t.Errorf("a read-only token got %d, want 401", status)
	}
	if _, made := sim.Branches("acme/widgets")["ABC-3"]; made {
		t.Error("a read-only token created a branch")
	}
}

func TestAzureDraftsFromVersion5(t *testing.T) {
	sim, root := azWorld(t)
	sim.AddBranch("acme/widgets", "ABC-1", "")
	sim.AddBranch("acme/widgets", "ABC-2", "")
	pulls := root + "/acme/_apis/git/repositories/" + azRepoID(t, root, "widgets") + "/pullrequests?api-version="
	for _, tc := range []struct {
		version, source string
		draft           bool
	}{
		{"4.0", "ABC-1", false},
		{"5.0", "ABC-2", true},
	} {
		a := azCall(t, "POST", pulls+tc.version, "pat-alice",
			`{"sourceRefName":"refs/heads/`+tc.source+`","targetRefName":"refs/heads/main","title":"t","isDraft":true}`, true)
		if a.status != http.StatusCreated {
			t.Fatalf("api %s: %d %s", tc.version, a.status, a.raw)
		}
		if _, has := a.body["isDraft"]; has != (tc.version >= "5") {
			t.Errorf("api %s: isDraft present = %t", tc.version, has)
		}
	}
	prs := sim.PullRequests("acme/widgets")
	if len(prs) != 2 || prs[0].Draft || !prs[1].Draft {
		t.Errorf("pull requests = %+v, want a regular one (api 4.0) and a draft (api 5.0)", prs)
	}
	again := azCall(t, "POST", pulls+"7.1", "pat-alice", `{"sourceRefName":"refs/heads/ABC-1","targetRefName":"refs/heads/main","title":"t"}`, true)
	if again.status != http.StatusConflict || again.body["typeKey"] != "GitPullRequestExistsException" {
		t.Errorf("a second pull request: %d %s, want 409 GitPullRequestExistsException", again.status, again.raw)
	}
}

func TestAzureRateLimitFault(t *testing.T) {
	sim, root := azWorld(t)
	sim.Inject(hostsim.Fault{Op: hostsim.OpListRepos, RetryAfter: 42 * time.Second, Times: 1})
	a := azCall(t, "GET", root+"/_apis/git/repositories?api-version=7.1", "pat-alice", "", true)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "42" || !strings.Contains(a.raw, "TF400733") {
		t.Fatalf("got %d Retry-After %q %s, want 429 TF400733 with Retry-After 42", a.status, a.header.Get("Retry-After"), a.raw)
	}
}
