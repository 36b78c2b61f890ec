package hostsim_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
)

// The web addresses the simulator hands out open as HTML pages, as a real
// host's do; the API keeps answering JSON.
func TestWebAddressesOpenAsPages(t *testing.T) {
	sim := hostsim.New()
	defer sim.Close()
	sim.AddToken(hostsim.Token{Value: "ghp_pages", Login: "alice", Scopes: []string{"repo"}})
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Writers: []string{"alice"}})
	sim.AddBranch("acme/widgets", "ABC-1-feature", "")
	gh := httptest.NewServer(sim.Handler())
	defer gh.Close()
	gl := httptest.NewServer(sim.GitLab())
	defer gl.Close()

	req, _ := http.NewRequest("POST", gh.URL+"/repos/acme/widgets/pulls", strings.NewReader(`{"head":"ABC-1-feature","base":"main","title":"Widgets <b>faster</b>"}`))
	req.Header.Set("Authorization", "Bearer ghp_pages")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating the pull request: %d", resp.StatusCode)
	}

	get := func(u string) (int, string, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	for _, tt := range []struct{ name, url, want string }{
		{"repository", gh.URL + "/acme/widgets", "ABC-1-feature"},
		{"branch", gh.URL + "/acme/widgets/tree/ABC-1-feature", "Branch <code>ABC-1-feature</code>"},
		{"pull request", gh.URL + "/acme/widgets/pull/1", "Widgets &lt;b&gt;faster&lt;/b&gt;"},
		{"GitLab branch", gl.URL + "/acme/widgets/-/tree/ABC-1-feature", "Branch <code>ABC-1-feature</code>"},
		{"GitLab merge request", gl.URL + "/acme/widgets/-/merge_requests/1", "Pull request #1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, ct, body := get(tt.url)
			if status != http.StatusOK || !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, tt.want) {
				t.Errorf("GET %s: %d %s, want an HTML page with %q\n%s", tt.url, status, ct, tt.want, body)
			}
		})
	}
	if status, ct, _ := get(gh.URL + "/acme/widgets/tree/no-such-branch"); status != http.StatusNotFound || !strings.HasPrefix(ct, "text/html") {
		t.Errorf("a missing branch: %d %s, want an HTML 404", status, ct)
	}
	if status, ct, _ := get(gh.URL + "/no/such/thing"); status != http.StatusNotFound || !strings.HasPrefix(ct, "application/json") {
		t.Errorf("an unknown address: %d %s, want the API's JSON 404", status, ct)
	}
}
