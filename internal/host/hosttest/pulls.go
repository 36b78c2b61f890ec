package hosttest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// RunPullRequests checks a host kind's PullRequestLister against the
// simulator: states map to open, draft, merged and declined; a second read
// from the cursor returns only what changed; and, when conditional is
// true, an unchanged list costs one request answered 304.
func RunPullRequests(t *testing.T, env Env, conditional bool) {
	t.Helper()
	if env.Credential == nil {
		env.Credential = func(token string) relay.Credential { return relay.TokenCredential(token) }
	}
	f := setup(t, env)
	var mu sync.Mutex
	now := time.Now().UTC().Truncate(time.Second)
	f.sim.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	tick := func() { mu.Lock(); now = now.Add(time.Minute); mu.Unlock() }

	c := f.client(f.full(alice))
	lister, ok := host.PullRequests(c)
	if !ok {
		t.Fatalf("the %s client has no PullRequestLister", f.cfg.Kind)
	}
	repo := f.repo(c, widgets)
	main := f.sim.Branches(widgets)[repo.DefaultBranch]
	for _, name := range []string{"ABC-1-login", "ABC-2-logout"} {
		_, err := c.CreateBranch(t.Context(), repo, name, main)
		f.ok(err, "CreateBranch(%s)", name)
		f.sim.Commit(widgets, name) // work to propose: some hosts refuse an empty pull request
	}
	_, err := c.CreatePullRequest(t.Context(), repo, relay.NewPullRequest{Source: "ABC-1-login", Target: repo.DefaultBranch, Title: "ABC-1 Login", Description: "Fixes ABC-1"})
	f.ok(err, "CreatePullRequest(ABC-1)")
	tick()
	draft := relay.NewPullRequest{Source: "ABC-2-logout", Target: repo.DefaultBranch, Title: "ABC-2 Logout", Draft: true}
	_, err = c.CreatePullRequest(t.Context(), repo, draft)
	f.ok(err, "CreatePullRequest(ABC-2)")

	first, err := lister.ListPullRequests(t.Context(), repo, host.PullRequestCursor{})
	f.ok(err, "ListPullRequests(from the start)")
	if first.NotModified || len(first.PullRequests) != 2 {
		t.Fatalf("first read = %+v, want both pull requests", first)
	}
	byNumber := map[int]host.ListedPullRequest{}
	for _, p := range first.PullRequests {
		byNumber[p.Number] = p
	}
	p1, p2 := byNumber[1], byNumber[2]
	if p1.State != host.PullRequestOpen || p1.Source != "ABC-1-login" || p1.Target != repo.DefaultBranch || !strings.EqualFold(p1.Author, alice) || p1.URL == "" {
		t.Errorf("pull request 1 = %+v, want open from ABC-1-login by alice with a link", p1)
	}
	if want := host.PullRequestDraft; f.caps.Drafts && p2.State != want {
		t.Errorf("pull request 2 state = %q, want %q", p2.State, want)
	}
	if first.PullRequests[0].Number != 2 {
		t.Errorf("first read order = %d first, want the most recently updated (2) first", first.PullRequests[0].Number)
	}
	if first.Next.UpdatedAt.IsZero() {
		t.Errorf("first read's cursor has no time: %+v", first.Next)
	}

	before := f.sim.Requests()
	again, err := lister.ListPullRequests(t.Context(), repo, first.Next)
	f.ok(err, "ListPullRequests(unchanged)")
	if conditional {
		if !again.NotModified || len(again.PullRequests) != 0 {
			t.Errorf("unchanged read = %+v, want NotModified", again)
		}
		if got := f.sim.Requests() - before; got != 1 {
			t.Errorf("unchanged read sent %d requests, want 1", got)
		}
		if f.sim.NotModified() != 1 {
			t.Errorf("the host answered 304 %d times, want 1", f.sim.NotModified())
		}
	}
	for _, p := range again.PullRequests {
		if p.UpdatedAt.Before(first.Next.UpdatedAt) {
			t.Errorf("unchanged read listed %+v, older than the cursor %v", p, first.Next.UpdatedAt)
		}
	}

	tick()
	f.sim.MergePullRequest(widgets, 1)
	tick()
	f.sim.ClosePullRequest(widgets, 2)
	changed, err := lister.ListPullRequests(t.Context(), repo, again.Next)
	f.ok(err, "ListPullRequests(after merge and close)")
	if changed.NotModified {
		t.Fatalf("read after changes = NotModified, want the changes")
	}
	states := map[int]host.PullRequestState{}
	for _, p := range changed.PullRequests {
		states[p.Number] = p.State
	}
	if states[1] != host.PullRequestMerged || states[2] != host.PullRequestDeclined {
		t.Errorf("states after merge and close = %v, want 1 merged, 2 declined", states)
	}
	if !changed.Next.UpdatedAt.After(first.Next.UpdatedAt) {
		t.Errorf("cursor after changes = %v, want later than %v", changed.Next.UpdatedAt, first.Next.UpdatedAt)
	}
}
