package action_test

import (
	"context"
	"log/slog"
	"strings"
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
		waiting := make(chan struct{}, 1)
		other := action.New(action.Config{Store: db, Hosts: e.host, Sealer: plainSealer{}, Now: func() time.Time { return e.now },
			Logger: slog.New(signalHandler{msg: "waiting for another replica's read", ch: waiting})})
		// searchOn may run outside the test's goroutine: it reports errors
		// without stopping the test.
		searchOn := func(svc *action.Service, q action.RepositorySearch) []string {
			repos, err := svc.SearchRepositories(context.Background(), e.admin, e.id, q)
			if err != nil {
				t.Errorf("searching %+v: %v", q, err)
			}
			names := []string{}
			for _, r := range repos {
				names = append(names, r.FullName)
			}
			return names
		}
		searchOther := func(q action.RepositorySearch) []string { return searchOn(other, q) }

		// The first read: the other replica, which has no list to answer
		// with, waits for it rather than read the host too.
		hold, held := make(chan struct{}), make(chan struct{}, 1)
		e.host.mu.Lock()
		e.host.hold, e.host.held = hold, held
		e.host.mu.Unlock()
		first := make(chan []string, 1)
		go func() { first <- searchOn(e.svc, action.RepositorySearch{}) }()
		<-held
		second := make(chan []string, 1)
		go func() { second <- searchOther(action.RepositorySearch{}) }()
		select {
		case <-waiting:
		case got := <-second:
			close(hold)
			t.Fatalf("the other replica answered %q without waiting for the read under way", got)
		}
		close(hold)
		if got := <-first; len(got) != 1 {
			t.Fatalf("the first replica's first search: got %q", got)
		}
		if got := <-second; len(got) != 1 {
			t.Fatalf("the other replica, waiting for the first read: got %q", got)
		}
		e.host.mu.Lock()
		e.host.hold, e.host.held = nil, nil
		e.host.mu.Unlock()
		e.wantCalls(t, "the first searches on both replicas", 1)
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
			go func() { done <- searchOn(e.svc, action.RepositorySearch{Refresh: true}) }()
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

// signalHandler tells ch when a log record whose message contains msg is
// written.
type signalHandler struct {
	msg string
	ch  chan struct{}
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.msg) {
		select {
		case h.ch <- struct{}{}:
		default:
		}
	}
	return nil
}

func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }
