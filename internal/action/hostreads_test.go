package action_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// Users cannot make gitrelay read an integration's whole repository list
// from the host more than once per MinRepositoryReadInterval: refreshes
// and searches that find nothing within it are answered from the stored
// list.
func TestRepositoryReadsAreRateLimitedPerIntegration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newCacheEnv(t, db, nil, "acme/widgets")
		e.search(t, action.RepositorySearch{})
		e.wantCalls(t, "the first search", 1)

		e.host.set(named("acme/widgets", "acme/new"), nil)
		e.now = e.now.Add(action.MinRepositoryReadInterval)
		for i := range 20 {
			q := action.RepositorySearch{Refresh: true}
			if i%2 == 1 {
				// A different name each time, found nowhere.
				q = action.RepositorySearch{Query: "missing-" + strings.Repeat("x", i)}
			}
			e.search(t, q)
			e.now = e.now.Add(time.Second) // still within the interval
		}
		e.wantCalls(t, "20 refreshes and missed searches within the interval", 2)
		if got := e.search(t, action.RepositorySearch{Query: "new"}); len(got) != 1 {
			t.Fatalf("the one read within the interval was not stored: %q", got)
		}

		// A repository created at the host moments after the read is found
		// by the first search after the interval, not forgotten as a miss.
		e.host.set(named("acme/widgets", "acme/new", "acme/later"), nil)
		if got := e.search(t, action.RepositorySearch{Query: "later"}); len(got) != 0 {
			t.Fatalf("within the interval: got %q, want the stored list's answer", got)
		}
		e.now = e.now.Add(action.MinRepositoryReadInterval)
		if got := e.search(t, action.RepositorySearch{Query: "later"}); len(got) != 1 {
			t.Fatalf("after the interval: got %q, want acme/later", got)
		}
		e.wantCalls(t, "a missed search after the interval", 3)

		e.host.set(named("acme/widgets", "acme/new", "acme/later", "acme/newer"), nil)
		e.now = e.now.Add(action.MinRepositoryReadInterval)
		if got := e.search(t, action.RepositorySearch{Refresh: true}); len(got) != 4 {
			t.Fatalf("refresh after the interval: got %q", got)
		}
		e.wantCalls(t, "a refresh after the interval", 4)
	})
}

// Within the interval, with no stored list to answer from (the first read
// failed), the answer says when to try again rather than asking the host.
func TestRepositoryReadTooSoonWithoutAListSaysWhenToRetry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newCacheEnv(t, db, nil, "acme/widgets")
		e.host.set(nil, &relay.Error{Code: relay.EHostError, Message: "The host answered 500."})
		if _, err := e.svc.SearchRepositories(context.Background(), e.admin, e.id, action.RepositorySearch{}); relay.ErrorCode(err) != relay.EHostError {
			t.Fatalf("first read: got %v, want host_error", err)
		}
		e.host.set(named("acme/widgets"), nil)
		e.now = e.now.Add(10 * time.Second)
		_, err := e.svc.SearchRepositories(context.Background(), e.admin, e.id, action.RepositorySearch{Refresh: true})
		if re, ok := relay.AsError(err); !ok || re.Code != relay.ERateLimited || re.RetryAfter != 20*time.Second {
			t.Fatalf("got %v, want rate_limited with a retry in 20s", err)
		}
		e.wantCalls(t, "a refresh right after a failed read", 1)
	})
}

// Search text is bounded before any database or host work.
func TestSearchTextIsBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newCacheEnv(t, db, nil, "acme/widgets")
		long := strings.Repeat("é", action.MaxSearchQuery+1)
		for name, search := range map[string]func() error{
			"repositories": func() error {
				_, err := e.svc.SearchRepositories(context.Background(), e.admin, e.id, action.RepositorySearch{Query: long, Refresh: true})
				return err
			},
			"branches": func() error {
				_, err := e.svc.Branches(context.Background(), e.admin, e.id, "id-acme/widgets", long)
				return err
			},
		} {
			t.Run(name, func(t *testing.T) {
				err := search()
				re, ok := relay.AsError(err)
				if !ok || re.Code != relay.EInvalid || !strings.Contains(re.Fields["q"], "at most 200 characters") {
					t.Fatalf("got %v, want invalid_request on q", err)
				}
			})
		}
		e.wantCalls(t, "over-long searches", 0)
		if got := e.search(t, action.RepositorySearch{Query: strings.Repeat("w", action.MaxSearchQuery)}); len(got) != 0 {
			t.Fatalf("a search of the longest text found %q", got)
		}
	})
}
