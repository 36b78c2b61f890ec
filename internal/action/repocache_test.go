package action_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// canaryToken is the integration credential; it must never reach a log.
const canaryToken = "ghp_CANARYrepocache000000000000000000001"

// plainSealer stands in for the vault: sealing is not what these tests
// are about.
type plainSealer struct{}

func (plainSealer) Seal(b []byte, _ string) ([]byte, error) { return b, nil }
func (plainSealer) Open(b []byte, _ string) ([]byte, error) { return b, nil }

// countingHost is a host whose repository listing is counted, can be held
// back, and can fail.
type countingHost struct {
	relay.Hosts
	relay.HostClient
	mu    sync.Mutex
	repos []relay.Repository
	err   error
	hold  chan struct{} // when set, listings wait for it to close
	// held, when set, hears of each listing that starts waiting for hold.
	held  chan struct{}
	calls atomic.Int64
	// budget is the time the last listing had left before its deadline.
	budget atomic.Int64
}

func (h *countingHost) Client(relay.HostConfig, relay.Credential) (relay.HostClient, error) {
	return h, nil
}

func (h *countingHost) CheckConfig(cfg relay.HostConfig) (relay.HostConfig, error) { return cfg, nil }

func (h *countingHost) NewTokenURL(relay.HostConfig, string) string { return "" }

func (h *countingHost) Origin(cfg relay.HostConfig) string {
	return string(cfg.Kind) + ":" + cfg.BaseURL
}

func (h *countingHost) Capabilities(relay.HostConfig) relay.Capabilities {
	return relay.Capabilities{PAT: true}
}

func (h *countingHost) Validate(context.Context) (relay.Account, error) {
	return relay.Account{Login: "relay-bot"}, nil
}

func (h *countingHost) Repositories(ctx context.Context, query string) ([]relay.Repository, error) {
	h.calls.Add(1)
	if d, ok := ctx.Deadline(); ok {
		h.budget.Store(int64(time.Until(d)))
	}
	h.mu.Lock()
	hold, held, repos, err := h.hold, h.held, slices.Clone(h.repos), h.err
	h.mu.Unlock()
	if hold != nil {
		if held != nil {
			held <- struct{}{}
		}
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return repos, err
}

func (h *countingHost) set(repos []relay.Repository, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.repos, h.err = repos, err
}

type cacheEnv struct {
	svc   *action.Service
	host  *countingHost
	now   time.Time
	logs  *bytes.Buffer
	admin relay.Principal
	id    string
	db    *store.DB
}

func (e *cacheEnv) search(t *testing.T, q action.RepositorySearch) []string {
	t.Helper()
	repos, err := e.svc.SearchRepositories(context.Background(), e.admin, e.id, q)
	if err != nil {
		t.Fatalf("searching %+v: %v", q, err)
	}
	names := []string{}
	for _, r := range repos {
		names = append(names, r.FullName)
	}
	return names
}

func (e *cacheEnv) wantCalls(t *testing.T, what string, want int64) {
	t.Helper()
	if got := e.host.calls.Load(); got != want {
		t.Fatalf("%s: the host listed repositories %d times, want %d", what, got, want)
	}
}

func newCacheEnv(t *testing.T, db *store.DB, chosen []string, repos ...string) *cacheEnv {
	t.Helper()
	e := &cacheEnv{host: &countingHost{}, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), logs: &bytes.Buffer{},
		admin: relay.Principal{TenantID: "t1", UserID: "u-admin", Username: "admin", Admin: true}, id: "i1", db: db}
	e.host.set(named(repos...), nil)
	var logMu sync.Mutex
	e.svc = action.New(action.Config{Store: db, Hosts: e.host, Sealer: plainSealer{},
		Now:    func() time.Time { return e.now },
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&logMu, e.logs}, nil))})
	in := relay.Integration{ID: e.id, TenantID: "t1", Kind: "github", Name: "GitHub", Enabled: true,
		Repositories: chosen, CreatedAt: e.now, UpdatedAt: e.now}
	sealed, err := relay.SealCredential(plainSealer{}, relay.NewCredential(canaryToken, "", "", "", ""), relay.IntegrationSecretOwner("t1", e.id))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateIntegration(context.Background(), in, sealed, relay.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	return e
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func named(fullNames ...string) []relay.Repository {
	out := make([]relay.Repository, 0, len(fullNames))
	for _, n := range fullNames {
		out = append(out, relay.Repository{ID: "id-" + n, Name: n[strings.LastIndex(n, "/")+1:], FullName: n})
	}
	return out
}

func TestRepositoriesAreServedFromTheCacheForFiveMinutes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newCacheEnv(t, db, nil, "acme/widgets", "acme/gadgets")
		if got, want := e.search(t, action.RepositorySearch{Query: "widg"}), []string{"acme/widgets"}; !slices.Equal(got, want) {
			t.Fatalf("first search: got %q, want %q", got, want)
		}
		e.wantCalls(t, "the first search", 1)

		e.host.set(named("acme/widgets", "acme/gadgets", "acme/new"), nil)
		e.now = e.now.Add(action.RepositoryCacheTTL - time.Second)
		if got, want := e.search(t, action.RepositorySearch{}), []string{"acme/gadgets", "acme/widgets"}; !slices.Equal(got, want) {
			t.Fatalf("search just inside the TTL: got %q, want %q (the cached list)", got, want)
		}
		e.wantCalls(t, "a search just inside the TTL", 1)

		e.now = e.now.Add(time.Second)
		if got, want := e.search(t, action.RepositorySearch{}), []string{"acme/gadgets", "acme/new", "acme/widgets"}; !slices.Equal(got, want) {
			t.Fatalf("search at the TTL: got %q, want %q (read again)", got, want)
		}
		e.wantCalls(t, "a search at the TTL", 2)

		e.host.set(named("acme/renamed"), nil)
		e.now = e.now.Add(action.MinRepositoryReadInterval)
		if got, want := e.search(t, action.RepositorySearch{Refresh: true}), []string{"acme/renamed"}; !slices.Equal(got, want) {
			t.Fatalf("refresh: got %q, want %q", got, want)
		}
		e.wantCalls(t, "refresh", 3)
	})
}

// A listing is many requests (one per page), each bounded by the host
// timeout in the outbound client: the whole listing has far more than one
// host timeout, so large accounts stay listable when the host is slow.
func TestARepositoryListingIsNotBoundedByOneHostTimeout(t *testing.T) {
	db := storetest.SQLite(t)
	e := newCacheEnv(t, db, nil, "acme/widgets")
	e.search(t, action.RepositorySearch{})
	e.wantCalls(t, "the first search", 1)
	const hostTimeout = 20 * time.Second // action.Config's default
	if got := time.Duration(e.host.budget.Load()); got <= hostTimeout || got > action.RepositoryListingTimeout {
		t.Fatalf("the listing had %v before its deadline, want more than one host timeout (%v) and at most %v",
			got, hostTimeout, action.RepositoryListingTimeout)
	}
}

func TestRepositorySearchLimitsAndSubset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		chosen := []string{"id-acme/a3", "id-acme/a5", "id-acme/a6", "id-acme/a1"}
		e := newCacheEnv(t, db, chosen, "acme/a1", "acme/a2", "acme/a3", "acme/a4", "acme/a5", "acme/a6")
		tests := []struct {
			name string
			q    action.RepositorySearch
			want []string
		}{
			{"the subset filters the answer", action.RepositorySearch{}, []string{"acme/a1", "acme/a3", "acme/a5", "acme/a6"}},
			{"the limit counts included repositories only", action.RepositorySearch{Limit: 2}, []string{"acme/a1", "acme/a3"}},
			{"available lists every repository", action.RepositorySearch{Available: true}, []string{"acme/a1", "acme/a2", "acme/a3", "acme/a4", "acme/a5", "acme/a6"}},
			{"available honours the limit", action.RepositorySearch{Available: true, Limit: 3}, []string{"acme/a1", "acme/a2", "acme/a3"}},
			{"an excluded repository is not found", action.RepositorySearch{Query: "a4"}, []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := e.search(t, tt.q); !slices.Equal(got, tt.want) {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
			})
		}
		e.wantCalls(t, "searches of one list, excluded match included", 1)

		bob := relay.Principal{TenantID: "t1", UserID: "u-bob", Username: "bob"}
		_, err := e.svc.SearchRepositories(context.Background(), bob, e.id, action.RepositorySearch{Available: true})
		if relay.ErrorCode(err) != relay.EForbidden {
			t.Fatalf("a non-administrator listing available repositories: got %v, want forbidden", err)
		}
	})
}

func TestConcurrentRepositoryReadsAreCollapsed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newCacheEnv(t, db, nil, "acme/widgets")
		hold := make(chan struct{})
		e.host.mu.Lock()
		e.host.hold = hold
		e.host.mu.Unlock()

		const searches = 8
		var wg sync.WaitGroup
		results := make([][]string, searches)
		errs := make([]error, searches)
		for i := range searches {
			wg.Add(1)
			go func() {
				defer wg.Done()
				repos, err := e.svc.SearchRepositories(context.Background(), e.admin, e.id, action.RepositorySearch{Query: "widgets"})
				errs[i] = err
				for _, r := range repos {
					results[i] = append(results[i], r.FullName)
				}
			}()
		}
		// Let the searches pile up behind the first listing, then let it
		// answer.
		for e.host.calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		close(hold)
		wg.Wait()
		for i := range searches {
			if errs[i] != nil || !slices.Equal(results[i], []string{"acme/widgets"}) {
				t.Errorf("search %d: got %q, %v; want [acme/widgets]", i, results[i], errs[i])
			}
		}
		e.wantCalls(t, fmt.Sprintf("%d concurrent searches", searches), 1)
	})
}

func TestHostFailureServesTheStaleList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newCacheEnv(t, db, nil, "acme/widgets")
		down := &relay.Error{Code: relay.EHostError, Message: "The host answered 500."}

		t.Run("without a cached list the error is returned", func(t *testing.T) {
			e.host.set(nil, &relay.Error{Code: relay.ECredentialRejected, Message: "Bad credentials."})
			_, err := e.svc.SearchRepositories(context.Background(), e.admin, e.id, action.RepositorySearch{})
			if relay.ErrorCode(err) != relay.EHostError {
				t.Fatalf("got %v, want host_error telling the administrator to update the credential", err)
			}
		})

		e.host.set(named("acme/widgets"), nil)
		e.now = e.now.Add(action.MinRepositoryReadInterval)
		e.search(t, action.RepositorySearch{})
		e.host.set(nil, down)
		for name, q := range map[string]action.RepositorySearch{
			"a stale list":    {},
			"a forced reread": {Refresh: true},
		} {
			t.Run(name+" answers from the cache when the host fails", func(t *testing.T) {
				e.now = e.now.Add(action.RepositoryCacheTTL)
				before := e.host.calls.Load()
				if got, want := e.search(t, q), []string{"acme/widgets"}; !slices.Equal(got, want) {
					t.Fatalf("got %q, want %q", got, want)
				}
				e.wantCalls(t, name, before+1)
			})
		}
		logs := e.logs.String()
		if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "answering from the cached list") || !strings.Contains(logs, "host_error") {
			t.Errorf("the log does not warn about the failed read: %s", logs)
		}
		if strings.Contains(logs, canaryToken) {
			t.Errorf("the log holds the integration credential: %s", logs)
		}
	})
}

func TestSearchThatFindsNothingReadsTheHostOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newCacheEnv(t, db, nil, "acme/widgets")
		e.search(t, action.RepositorySearch{})
		e.wantCalls(t, "the first search", 1)

		e.host.set(named("acme/widgets", "acme/brand-new"), nil)
		// Reads are at most one per MinRepositoryReadInterval: each step
		// comes after it (TestRepositoryReadsAreRateLimited covers within).
		e.now = e.now.Add(action.MinRepositoryReadInterval)
		if got, want := e.search(t, action.RepositorySearch{Query: "brand"}), []string{"acme/brand-new"}; !slices.Equal(got, want) {
			t.Fatalf("a repository created since the last read: got %q, want %q", got, want)
		}
		e.wantCalls(t, "a search that found nothing in the cache", 2)

		steps := []struct {
			query string
			calls int64
		}{
			{"nope", 3},    // not in the cache: read once more
			{"nopes", 3},   // contains a query that found nothing: no read
			{"NOPE-x", 3},  // likewise, ignoring case
			{"widgets", 3}, // found in the cache
			{"missing", 4}, // another name that found nothing
		}
		for _, s := range steps {
			e.now = e.now.Add(action.MinRepositoryReadInterval)
			if got := e.search(t, action.RepositorySearch{Query: s.query}); len(got) != 0 && s.query != "widgets" {
				t.Fatalf("%q found %q, want nothing", s.query, got)
			}
			e.wantCalls(t, "searching "+s.query, s.calls)
		}

		// A new read forgets what was missing.
		e.now = e.now.Add(action.MinRepositoryReadInterval)
		e.search(t, action.RepositorySearch{Refresh: true})
		e.now = e.now.Add(action.MinRepositoryReadInterval)
		e.search(t, action.RepositorySearch{Query: "nopes"})
		e.wantCalls(t, "a missing name after a new read", 6)
	})
}

func TestChangingTheIntegrationCredentialDropsTheCachedList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newCacheEnv(t, db, nil, "old-account/repo")
		e.search(t, action.RepositorySearch{})
		e.wantCalls(t, "the first search", 1)

		e.host.set(named("new-account/repo"), nil)
		name := "Renamed"
		if _, _, err := e.svc.UpdateIntegration(context.Background(), e.admin, e.id, action.IntegrationPatch{Name: &name}); err != nil {
			t.Fatal(err)
		}
		if got, want := e.search(t, action.RepositorySearch{}), []string{"old-account/repo"}; !slices.Equal(got, want) {
			t.Fatalf("after a rename: got %q, want the cached %q", got, want)
		}
		e.wantCalls(t, "a search after a rename", 1)

		cred := relay.NewCredential("ghp_CANARYotheraccount0000000000000000002", "", "", "", "")
		if _, _, err := e.svc.UpdateIntegration(context.Background(), e.admin, e.id, action.IntegrationPatch{Credential: &cred}); err != nil {
			t.Fatal(err)
		}
		if got, want := e.search(t, action.RepositorySearch{}), []string{"new-account/repo"}; !slices.Equal(got, want) {
			t.Fatalf("after a new credential: got %q, want %q (read again)", got, want)
		}
		e.wantCalls(t, "a search after a new credential", 2)
	})
}
