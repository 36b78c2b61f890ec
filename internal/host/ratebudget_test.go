package host_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/github"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// fakeClock is the budget's clock; its sleep records the wait and moves
// the clock on instead of sleeping.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	waited []time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waited = append(c.waited, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waited...)
}

// limitedHost answers every request with GitHub's rate-limit headers: a
// window of `window` requests that resets an hour after it began.
type limitedHost struct {
	mu sync.Mutex
	// prefix is "X-RateLimit-" (GitHub) or "RateLimit-" (GitLab).
	prefix  string
	clock   *fakeClock
	window  int
	used    int
	resetAt time.Time
	// windows counts the requests of each window, oldest first.
	windows []int
}

func (h *limitedHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock.Now()
	if h.resetAt.IsZero() || !now.Before(h.resetAt) {
		h.used, h.resetAt = 0, now.Add(time.Hour).Truncate(time.Second)
		h.windows = append(h.windows, 0)
	}
	h.used++
	h.windows[len(h.windows)-1]++
	w.Header().Set(h.prefix+"Limit", strconv.Itoa(h.window))
	w.Header().Set(h.prefix+"Remaining", strconv.Itoa(max(h.window-h.used, 0)))
	w.Header().Set(h.prefix+"Reset", strconv.FormatInt(h.resetAt.Unix(), 10))
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("{}"))
}

func budgetClient(t *testing.T, budget *host.RateBudget, origin string) *http.Client {
	hc := host.NewHTTPClient(host.ClientConfig{Egress: host.Egress{Allow: host.MustAllowlist(hosttest.LoopbackAllowed)}, Budget: budget})
	return host.ClientFor(hc, &host.Auth{Origin: origin, Header: "Authorization", Value: host.NewSecret("Bearer canary-budget")})
}

func get(t *testing.T, c *http.Client, ctx context.Context, url, who string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("X-Who", who)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET as %s: %v", who, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestIndexingSpendsAtMostItsShareOfTheRemainingBudgetAndWaitsForTheReset(t *testing.T) {
	for name, prefix := range map[string]string{"GitHub": "X-RateLimit-", "GitLab": "RateLimit-"} {
		t.Run(name, func(t *testing.T) { testIndexingShare(t, prefix) })
	}
}

func testIndexingShare(t *testing.T, prefix string) {
	clock := &fakeClock{now: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
	h := &limitedHost{clock: clock, window: 20, prefix: prefix}
	srv := httptest.NewServer(h)
	defer srv.Close()
	budget := host.NewRateBudget(0.5, clock.Now, clock.Sleep)
	c := budgetClient(t, budget, srv.URL)
	indexing := host.ForIndexing(context.Background(), "t1/i1")

	// The first answer says 19 remain: indexing may spend half of them,
	// then waits for the next window.
	for range 15 {
		get(t, c, indexing, srv.URL+"/repos", "indexer")
	}
	if waits := clock.Waits(); len(waits) != 1 {
		t.Fatalf("indexing waited %v, want once, when its share of the first window was spent", waits)
	}
	if w := clock.Waits()[0]; w < 50*time.Minute || w > time.Hour+time.Second {
		t.Fatalf("indexing waited %v, want until the window's reset (about an hour)", w)
	}
	h.mu.Lock()
	windows := append([]int(nil), h.windows...)
	h.mu.Unlock()
	if len(windows) != 2 || windows[0] > 1+10 || windows[0]+windows[1] != 15 {
		t.Fatalf("requests per window = %v, want at most 1 + half of the 19 remaining in the first, the rest in the second", windows)
	}

	// Users are never held: their reads go at once, whatever indexing
	// spent.
	before := len(clock.Waits())
	st, ok := budget.State(srv.URL, "Bearer canary-budget")
	if !ok || st.Limit != 20 {
		t.Fatalf("State = %+v, %v; want the host's limit", st, ok)
	}
	if named, ok := budget.StateOf("t1/i1"); !ok || named.Remaining != st.Remaining || named.Reset != st.Reset {
		t.Fatalf("StateOf(the integration) = %+v, %v; want its account's %+v", named, ok, st)
	}
	for range 5 {
		if got := get(t, c, context.Background(), srv.URL+"/action", "user"); got != http.StatusOK {
			t.Fatalf("a user's read answered %d", got)
		}
	}
	if len(clock.Waits()) != before {
		t.Fatalf("a user's read waited for the budget")
	}
}

// A host that rate-limits the account (Retry-After) pauses indexing reads
// until the wait is over, while the same account's actions keep working.
func TestARateLimitedIntegrationPausesIndexingWhileActionsKeepWorking(t *testing.T) {
	sim := hostsim.New()
	defer sim.Close()
	srv := httptest.NewServer(sim.GitHub())
	defer srv.Close()
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Writers: []string{"bot"}})
	sim.AddToken(hostsim.Token{Value: "canary-bot", Login: "bot", Scopes: []string{"repo"}})
	clock := &fakeClock{now: time.Now()}
	budget := host.NewRateBudget(0.5, clock.Now, clock.Sleep)
	hc := host.NewHTTPClient(host.ClientConfig{Egress: host.Egress{Allow: host.MustAllowlist(hosttest.LoopbackAllowed)}, Budget: budget,
		Retries: host.RetryPolicy{Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}})
	reg := host.NewRegistry(hc, github.Cloud(github.WithAPIURL(srv.URL)))
	c, err := reg.Client(relay.HostConfig{Kind: github.KindCloud}, relay.TokenCredential("canary-bot"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repo, err := c.Repository(ctx, "1296269")
	if err != nil {
		t.Fatal(err)
	}
	lister, _ := host.PullRequests(c)

	// The host starts refusing the account for a minute.
	sim.Inject(hostsim.Fault{Op: hostsim.OpListPullRequests, RetryAfter: time.Minute, Times: 3})
	_, err = lister.ListPullRequests(host.ForIndexing(ctx, "t1/i1"), repo, host.PullRequestCursor{})
	if e, ok := relay.AsError(err); !ok || e.Code != relay.ERateLimited {
		t.Fatalf("the refused read = %v, want rate_limited", err)
	}
	waitsBefore := len(clock.Waits())
	if st, ok := budget.StateOf("t1/i1"); !ok || !st.PausedUntil.After(clock.Now()) {
		t.Fatalf("StateOf(the integration) = %+v, %v; want indexing paused", st, ok)
	}

	// The account's actions go on at once.
	if _, err := c.CreateBranch(ctx, repo, "ABC-1-still-works", sim.Branches("acme/widgets")["main"]); err != nil {
		t.Fatalf("an action while indexing is paused: %v", err)
	}
	if len(clock.Waits()) != waitsBefore {
		t.Fatalf("the action waited for the indexing budget")
	}

	// The next indexing read waits out the minute, then reads.
	sim.ClearFaults()
	page, err := lister.ListPullRequests(host.ForIndexing(ctx, "t1/i1"), repo, host.PullRequestCursor{})
	if err != nil {
		t.Fatalf("the indexing read after the pause: %v", err)
	}
	waits := clock.Waits()[waitsBefore:]
	if len(waits) != 1 || waits[0] < 55*time.Second || waits[0] > time.Minute {
		t.Fatalf("indexing waited %v, want about the minute the host asked for", waits)
	}
	if page.NotModified {
		t.Fatalf("the read after the pause = %+v, want a list", page)
	}
}
