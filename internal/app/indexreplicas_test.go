package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/index"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// gadgets adds repositories to the simulated host, each with a commit
// naming ABC-1, and returns the full names of every repository.
func gadgets(t *testing.T, e *apptest.Env, n int) []string {
	t.Helper()
	names := []string{apptest.Repo}
	for i := 2; i <= n; i++ {
		r := e.Sim.AddRepo(hostsim.Repo{Owner: "acme", Name: fmt.Sprintf("gadget%d", i), Private: true,
			Writers: []string{apptest.BotLogin, apptest.BobLogin}})
		names = append(names, r.FullName())
	}
	pushEach(t, e, names, "ABC-1 Start")
	return names
}

func pushEach(t *testing.T, e *apptest.Env, names []string, msg string) {
	t.Helper()
	for _, name := range names {
		if _, err := e.Git.Commit(name, "main", hostsim.Change{Message: msg + " " + name}); err != nil {
			t.Fatal(err)
		}
	}
}

func commitsOf(n int) func(httpx.Development) bool {
	return func(d httpx.Development) bool { return len(d.Commits) == n }
}

// heldBy reports whether every repository of the integration was read and
// is held by replica.
func heldBy(t *testing.T, e *apptest.Env, integrationID string, n int, replica string) bool {
	t.Helper()
	states, err := e.DB.IndexStates(context.Background(), relay.LocalTenant, integrationID, e.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.Holder != replica || s.LastCheckedAt.IsZero() {
			return false
		}
	}
	return len(states) == n
}

// clonesIn lists the clones in an index's directory.
func clonesIn(t *testing.T, ix *index.Indexer) []string {
	t.Helper()
	entries, err := os.ReadDir(ix.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, en := range entries {
		if strings.HasSuffix(en.Name(), ".git") {
			out = append(out, en.Name())
		}
	}
	return out
}

// Two replicas on one PostgreSQL database, each with its own data
// directory, their index jobs running: the repositories read by the first
// stay its own (cloned there only) while both poll them, however often;
// once it stops (its heartbeat with it) and the bound has passed, the
// other takes them over and clones them; started again on its data
// directory, the first is the same replica, reads none of them and
// removes its stale clones.
func TestReplicasReadTheRepositoriesWhoseClonesTheyHold(t *testing.T) {
	db := storetest.Postgres(t)
	e := apptest.New(t, db, apptest.Options{Index: true, Jobs: true,
		IndexSchedule: app.IndexConfig{PollEvery: 100 * time.Millisecond, DiscoverEvery: 100 * time.Millisecond, Heartbeat: 50 * time.Millisecond}})
	const n = 4
	names := gadgets(t, e, n)
	id := e.Integration(false, nil)
	a := e.App.Indexer
	eventually(t, "the first replica reads every repository", func() bool { return heldBy(t, e, id, n, a.Replica()) })

	b := e.Replica("")
	if b.App.Indexer.Replica() == a.Replica() {
		t.Fatal("two data directories are one replica")
	}
	eventually(t, "the second replica is alive", func() bool {
		live, _, err := a.Replicas(context.Background())
		return err == nil && len(live) == 2
	})
	// Pushes, then the repositories due within the bound (pushed first, so
	// that no read falls between the two): both replicas poll, the first
	// reads.
	for round := range 3 {
		pushEach(t, e, names, fmt.Sprintf("ABC-2 Round %d", round))
		e.Advance(index.MinPoll)
		waitFor(t, e, "ABC-2", commitsOf(n*(round+1)))
	}
	if !heldBy(t, e, id, n, a.Replica()) {
		t.Error("a repository changed holder while its holder served")
	}
	if got := clonesIn(t, a); len(got) != n {
		t.Errorf("the first replica has %d clones, want %d", len(got), n)
	}
	if got := clonesIn(t, b.App.Indexer); len(got) != 0 {
		t.Errorf("the second replica cloned %v while the first served", got)
	}

	// The first stops; its heartbeat is older than the bound.
	if err := e.Runner.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	pushEach(t, e, names, "ABC-3 After the first stopped")
	e.Advance(index.DefaultGoneAfter + index.MinPoll)
	waitFor(t, e, "ABC-3", commitsOf(n))
	eventually(t, "the second replica holds every repository", func() bool { return heldBy(t, e, id, n, b.App.Indexer.Replica()) })
	if got := clonesIn(t, b.App.Indexer); len(got) != n {
		t.Errorf("the second replica has %d clones after taking over, want %d", len(got), n)
	}

	again := e.Replica(filepath.Dir(a.Dir()))
	if again.App.Indexer.Replica() != a.Replica() {
		t.Fatalf("restarted on its data directory, the replica is %q, want %q", again.App.Indexer.Replica(), a.Replica())
	}
	eventually(t, "the restarted replica removes its stale clones", func() bool { return len(clonesIn(t, again.App.Indexer)) == 0 })
	pushEach(t, e, names, "ABC-4 After the restart")
	e.Advance(index.MinPoll)
	waitFor(t, e, "ABC-4", commitsOf(n))
	if !heldBy(t, e, id, n, b.App.Indexer.Replica()) {
		t.Error("the restarted replica took repositories back from a live holder")
	}
	if got := clonesIn(t, again.App.Indexer); len(got) != 0 {
		t.Errorf("the restarted replica cloned %v", got)
	}
}

// A repository made due by a webhook (or a re-index request) on a replica
// that does not hold it is read by its holder at once, not at its next
// periodic poll (an hour away here): the replica hands it over.
func TestAChangeToAnotherReplicasRepositoryIsReadByItsHolder(t *testing.T) {
	db := storetest.Postgres(t)
	e := apptest.New(t, db, apptest.Options{Index: true, Jobs: true,
		IndexSchedule: app.IndexConfig{PollEvery: time.Hour, DiscoverEvery: time.Hour, Heartbeat: 50 * time.Millisecond}})
	b := e.Replica("")
	eventually(t, "both replicas are alive", func() bool {
		live, _, err := e.App.Indexer.Replicas(context.Background())
		return err == nil && len(live) == 2
	})
	id := e.Integration(false, nil)
	ctx := context.Background()
	if err := b.App.Indexer.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := b.App.Indexer.PollDue(ctx); err != nil || n != 1 {
		t.Fatalf("the second replica read %d repositories (%v), want the one", n, err)
	}

	if _, err := e.Git.Commit(apptest.Repo, "main", hostsim.Change{Message: "ABC-5 Told by a webhook"}); err != nil {
		t.Fatal(err)
	}
	k := relay.IndexKey{TenantID: relay.LocalTenant, IntegrationID: id, RepositoryID: e.RepoID}
	if ok, err := db.PollSoon(ctx, k, e.Now()); err != nil || !ok {
		t.Fatalf("poll soon: %v %v", ok, err)
	}
	if n, err := e.App.Indexer.PollDue(ctx); err != nil || n != 0 {
		t.Fatalf("the first replica read %d repositories (%v), want none: the second holds it", n, err)
	}
	if err := app.WakeHolders(ctx, e.App.Indexer, e.Runner); err != nil {
		t.Fatal(err)
	}
	waitFor(t, e, "ABC-5", hasCommit("ABC-5 Told by a webhook"))
	if got := clonesIn(t, e.App.Indexer); len(got) != 0 {
		t.Errorf("the first replica cloned %v", got)
	}
}
