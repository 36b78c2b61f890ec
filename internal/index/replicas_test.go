package index_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/index"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// repositories adds n-1 more repositories to the world (n in all), each
// with a commit.
func (w *world) repositories(t *testing.T, n int) []relay.IndexKey {
	t.Helper()
	for i := 2; i <= n; i++ {
		name := fmt.Sprintf("gadget%d", i)
		r := w.sim.AddRepo(hostsim.Repo{Owner: "acme", Name: name, Private: true, Readers: []string{"indexer"}})
		w.ixAccess.repos = append(w.ixAccess.repos, relay.Repository{ID: fmt.Sprint(i), Name: name, FullName: r.FullName(),
			DefaultBranch: "main", WebURL: w.hostURL + "/" + r.FullName()})
	}
	var keys []relay.IndexKey
	for _, r := range w.ixAccess.repos {
		if _, err := w.git.Commit(r.FullName, "main", hostsim.Change{Message: "ABC-1 Start " + r.Name}); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, relay.IndexKey{TenantID: "t1", IntegrationID: "i1", RepositoryID: r.ID})
	}
	return keys
}

// pushAll pushes a commit to every repository, so that each poll fetches.
func (w *world) pushAll(t *testing.T, msg string) {
	t.Helper()
	for _, r := range w.ixAccess.repos {
		if _, err := w.git.Commit(r.FullName, "main", hostsim.Change{Message: msg}); err != nil {
			t.Fatal(err)
		}
	}
}

// clones counts the clones git made, over every replica (they share the
// git wrapper's log).
func (w *world) clones(t *testing.T) int {
	t.Helper()
	log, err := os.ReadFile(w.argv)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return bytes.Count(log, []byte(" clone --bare "))
}

// drain polls with ix until nothing it may read is due.
func drain(t *testing.T, ix *index.Indexer) int {
	t.Helper()
	total := 0
	for {
		n, err := ix.PollDue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

func beat(t *testing.T, ixs ...*index.Indexer) {
	t.Helper()
	for _, ix := range ixs {
		if err := ix.Beat(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// holdersOf maps each repository to the replica holding it, and checks
// that its clone is in that replica's data directory and in no other.
func holdersOf(t *testing.T, w *world, keys []relay.IndexKey, replicas ...*index.Indexer) map[string]string {
	t.Helper()
	states, err := w.db.IndexStates(context.Background(), "t1", "i1", w.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range states {
		out[s.RepositoryID] = s.Holder
		var in []string
		for _, ix := range replicas {
			if _, err := os.Stat(ix.ClonePath(s.IndexKey)); err == nil {
				in = append(in, ix.Replica())
			}
		}
		if !slices.Equal(in, []string{s.Holder}) {
			t.Errorf("repository %s is held by %q and cloned in the data directories of %v, want its holder's only", s.RepositoryID, s.Holder, in)
		}
	}
	if len(out) != len(keys) {
		t.Errorf("%d repositories are indexed, want %d", len(out), len(keys))
	}
	return out
}

// Two replicas on one database, each with its own data directory: every
// repository is cloned once, in one of them, however the polls alternate;
// each replica then fetches only into its own clones. When one stops (its
// heartbeat with it), the other takes its repositories over once the
// bound has passed, cloning them; the stopped one, back, removes its stale
// clones and reads none of them.
func TestEachRepositoryIsClonedInOneReplica(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		const n = 6
		keys := w.repositories(t, n)
		ctx := context.Background()
		// Each poll claims three repositories, so both replicas get some.
		w.batch = n / 2
		a := w.indexer(t, w.data)
		b := w.indexer(t, t.TempDir())
		if a.Replica() == b.Replica() {
			t.Fatalf("two data directories got one replica id %q", a.Replica())
		}
		beat(t, a, b)
		if err := a.Discover(ctx); err != nil {
			t.Fatal(err)
		}
		var got [2]int
		for i, ix := range []*index.Indexer{a, b} {
			var err error
			if got[i], err = ix.PollDue(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if got != [2]int{n / 2, n / 2} {
			t.Fatalf("the replicas read %v new repositories, want half of the %d each", got, n)
		}

		// Several rounds, each replica polling first in turn, every
		// repository changed each time.
		for round := range 4 {
			w.clock.add(index.MaxPoll)
			beat(t, a, b)
			w.pushAll(t, fmt.Sprintf("ABC-1 Round %d", round))
			first, second := a, b
			if round%2 == 1 {
				first, second = b, a
			}
			drain(t, first)
			drain(t, second)
		}
		if got := w.clones(t); got != n {
			t.Errorf("git cloned %d times for %d repositories over five rounds of polls on two replicas, want once each", got, n)
		}
		held := holdersOf(t, w, keys, a, b)
		var bs []string
		for id, h := range held {
			if h == b.Replica() {
				bs = append(bs, id)
			}
		}
		if len(bs) == 0 || len(bs) == n {
			t.Fatalf("holders %v, want both replicas holding some", held)
		}
		one := w.issue(t, "ABC-1")
		if len(one.Commits) != n*5 {
			t.Errorf("ABC-1 lists %d commits, want the %d pushed", len(one.Commits), n*5)
		}

		t.Run("a stopped replica's repositories are taken over once it is gone", func(t *testing.T) {
			// b's last heartbeat is a day old.
			w.clock.add(index.MaxPoll)
			beat(t, a)
			w.pushAll(t, "ABC-2 While b is stopped")
			before := w.clones(t)
			drain(t, a)
			if got := w.clones(t) - before; got != len(bs) {
				t.Errorf("a cloned %d repositories, want b's %d", got, len(bs))
			}
			for id, h := range holdersOf(t, w, keys, a) {
				if h != a.Replica() {
					t.Errorf("repository %s is held by %q, want a", id, h)
				}
			}
			if two := w.issue(t, "ABC-2"); len(two.Commits) != n {
				t.Errorf("ABC-2 lists %d commits, want one from each repository", len(two.Commits))
			}
		})

		t.Run("back, the stopped replica removes its stale clones and reads none of them", func(t *testing.T) {
			beat(t, b)
			w.clock.add(index.MaxPoll)
			beat(t, a, b)
			if err := b.RemoveOrphanClones(ctx); err != nil {
				t.Fatal(err)
			}
			if got := drain(t, b); got != 0 {
				t.Errorf("b, back, read %d repositories, want none (a holds them all)", got)
			}
			holdersOf(t, w, keys, a, b)
			due, err := b.DueElsewhere(ctx)
			if err != nil || !slices.Equal(due, []string{a.Replica()}) {
				t.Errorf("b sees repositories due at %v (%v), want at a", due, err)
			}
		})

		t.Run("a replica restarted on its data directory is the same replica, and keeps its clones", func(t *testing.T) {
			again := w.indexer(t, w.data)
			if again.Replica() != a.Replica() {
				t.Fatalf("restarted, the replica's id is %q, want %q", again.Replica(), a.Replica())
			}
			w.clock.add(index.MaxPoll)
			beat(t, again, b)
			w.pushAll(t, "ABC-3 After the restart")
			before := w.clones(t)
			if got := drain(t, b); got != 0 {
				t.Errorf("b read %d of the restarted replica's repositories, want none", got)
			}
			if got := drain(t, again); got != n {
				t.Errorf("the restarted replica read %d repositories, want its %d", got, n)
			}
			if got := w.clones(t) - before; got != 0 {
				t.Errorf("the restarted replica cloned %d repositories, want none (it fetches into its clones)", got)
			}
		})
	})
}

// A data directory's replica id is made once and kept: processes starting
// at once on one directory get the same; a file that holds no id stops the
// start rather than making the replica another one silently.
func TestTheReplicaIdIsKeptInTheDataDirectory(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed (scripts/ensure-git installs it)")
	}
	data := t.TempDir()
	ids := make([]string, 4)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ix, err := index.New(index.Config{DataDir: data})
			if err != nil {
				t.Error(err)
				return
			}
			defer ix.Close()
			ids[i] = ix.Replica()
		}()
	}
	wg.Wait()
	if ids[0] == "" || len(slices.Compact(slices.Clone(ids))) != 1 {
		t.Errorf("processes starting at once on one data directory got ids %v, want one", ids)
	}
	other := t.TempDir()
	if err := os.MkdirAll(filepath.Join(other, "index"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "index", "replica"), []byte("Not/An id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := index.New(index.Config{DataDir: other}); err == nil || !strings.Contains(err.Error(), "does not hold a replica id") {
		t.Errorf("a data directory with a broken replica id started: %v", err)
	}
}
