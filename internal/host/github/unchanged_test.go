package github_test

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/github"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// A poll of 200 repositories whose pull requests did not change costs 200
// requests, every one answered 304 and none counted against the rate
// limit.
func TestAPollOfUnchangedRepositoriesCostsOne304Each(t *testing.T) {
	const n = 200
	sim := hostsim.New()
	defer sim.Close()
	srv := httptest.NewServer(sim.GitHub())
	defer srv.Close()
	sim.AddToken(hostsim.Token{Value: "canary-poll", Login: "bot", Scopes: []string{"repo"}})
	repos := make([]relay.Repository, n)
	for i := range repos {
		r := sim.AddRepo(hostsim.Repo{Owner: "acme", Name: fmt.Sprintf("repo-%03d", i), Writers: []string{"bot"}})
		sim.AddBranch(r.FullName(), "ABC-1", "")
		repos[i] = relay.Repository{ID: fmt.Sprint(r.ID), Name: r.Name, FullName: r.FullName(), DefaultBranch: "main"}
	}
	hc := host.NewHTTPClient(host.ClientConfig{Egress: host.Egress{Allow: host.MustAllowlist(hosttest.LoopbackAllowed)}})
	c, err := host.NewRegistry(hc, github.Cloud(github.WithAPIURL(srv.URL))).Client(relay.HostConfig{Kind: github.KindCloud}, relay.TokenCredential("canary-poll"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 { // some repositories have pull requests
		if _, err := c.CreatePullRequest(t.Context(), repos[i], relay.NewPullRequest{Source: "ABC-1", Target: "main", Title: "ABC-1"}); err != nil {
			t.Fatal(err)
		}
	}
	lister, _ := host.PullRequests(c)
	cursors := make([]host.PullRequestCursor, n)
	for i, r := range repos {
		page, err := lister.ListPullRequests(t.Context(), r, host.PullRequestCursor{})
		if err != nil {
			t.Fatal(err)
		}
		cursors[i] = page.Next
	}

	requests, notModified := sim.Requests(), sim.NotModified()
	for i, r := range repos {
		page, err := lister.ListPullRequests(t.Context(), r, cursors[i])
		if err != nil || !page.NotModified {
			t.Fatalf("%s unchanged: %+v, %v; want NotModified", r.FullName, page, err)
		}
	}
	if got := sim.Requests() - requests; got != n {
		t.Errorf("the poll sent %d requests, want %d", got, n)
	}
	if got := sim.NotModified() - notModified; got != n {
		t.Errorf("%d answers were 304, want all %d", got, n)
	}
	t.Logf("a poll of %d unchanged repositories: %d requests, %d answered 304", n, sim.Requests()-requests, sim.NotModified()-notModified)
}
