package action_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// Replicas serving one database read an integration's repository list from
// the host once between them: a replica that finds the read leased to
// another, or done less than MinRepositoryReadInterval ago, answers from
// the stored list.
func TestReplicasReadRepositoryListsOnceBetweenThem(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newCacheEnv(t, db, nil, "acme/widgets")
		other := action.New(action.Config{Store: db, Hosts: e.host, Sealer: plainSealer{}, Now: func() time.Time { return e.now }})
		searchOther := func(q action.RepositorySearch) []string {
			t.Helper()
			repos, err := other.SearchRepositories(context.Background(), e.admin, e.id, q)
			if err != nil {
				t.Fatalf("searching %+v through the other replica: %v", q, err)
			}
			names := []string{}
			for _, r := range repos {
				names = append(names, r.FullName)
			}
			return names
		}

		e.search(t, action.RepositorySearch{})
		e.wantCalls(t, "the first search", 1)
		e.host.set(named("acme/widgets", "acme/new"), nil)
		e.now = e.now.Add(time.Second)
		if got := searchOther(action.RepositorySearch{Refresh: true}); len(got) != 1 {
			t.Fatalf("the other replica's refresh within the interval: got %q, want the stored list", got)
		}
		e.wantCalls(t, "a refresh through the other replica within the interval", 1)

		t.Run("while one replica reads, the other answers from the stored list", func(t *testing.T) {
			e.now = e.now.Add(action.MinRepositoryReadInterval)
			hold, held := make(chan struct{}), make(chan struct{}, 1)
			e.host.mu.Lock()
			e.host.hold, e.host.held = hold, held
			e.host.mu.Unlock()
			done := make(chan []string, 1)
			go func() {
				repos, err := e.svc.SearchRepositories(context.Background(), e.admin, e.id, action.RepositorySearch{Refresh: true})
				if err != nil {
					t.Error(err)
				}
				names := []string{}
				for _, r := range repos {
					names = append(names, r.FullName)
				}
				done <- names
			}()
			<-held
			e.now = e.now.Add(action.MinRepositoryReadInterval)
			if got := searchOther(action.RepositorySearch{Refresh: true}); len(got) != 1 {
				t.Fatalf("the other replica during the read: got %q, want the stored list", got)
			}
			e.wantCalls(t, "a refresh through the other replica while the first reads", 2)
			close(hold)
			if got := <-done; len(got) != 2 {
				t.Fatalf("the reading replica: got %q, want the new list", got)
			}
			e.host.mu.Lock()
			e.host.hold, e.host.held = nil, nil
			e.host.mu.Unlock()
		})

		t.Run("concurrent refreshes on both replicas read once", func(t *testing.T) {
			e.now = e.now.Add(2 * action.MinRepositoryReadInterval)
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					svc := e.svc
					if i%2 == 1 {
						svc = other
					}
					if _, err := svc.SearchRepositories(context.Background(), e.admin, e.id, action.RepositorySearch{Refresh: true}); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			e.wantCalls(t, "16 concurrent refreshes over two replicas", 3)
		})
	})
}
