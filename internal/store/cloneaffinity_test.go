package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// affinity is an integration with repositories 1…n, all due at minute 0.
func affinity(t *testing.T, db *store.DB, n int) {
	t.Helper()
	ctx := context.Background()
	in := newIntegration("t1", "i1")
	must(t, db.CreateIntegration(ctx, in, credential(in), auditFor(relay.ActionIntegrationCreate)))
	var repos []relay.Repository
	for i := 1; i <= n; i++ {
		id := fmt.Sprint(i)
		repos = append(repos, repo(id, "acme/r"+id))
	}
	_, err := db.SyncIndexRepositories(ctx, "t1", "i1", repos, at(0))
	must(t, err)
}

func ids(states []relay.IndexState) []string {
	var out []string
	for _, s := range states {
		out = append(out, s.RepositoryID)
	}
	slices.Sort(out)
	return out
}

// readAll saves a read of each claimed repository for replica (its lease's
// owner), due again at next.
func readAll(t *testing.T, db *store.DB, replica string, claimed []relay.IndexState, now, next time.Time) {
	t.Helper()
	for _, s := range claimed {
		ok, err := db.SaveIndex(context.Background(), relay.IndexUpdate{IndexKey: s.IndexKey, Owner: replica, Tips: map[string]string{},
			TipsDigest: "d", CheckedAt: now, DueAt: s.NextPollAt, NextPollAt: next})
		must(t, err)
		if !ok {
			t.Fatalf("%s's save of %s was refused", replica, s.RepositoryID)
		}
	}
}

func holders(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	states, err := db.IndexStates(context.Background(), "t1", "i1", at(0))
	must(t, err)
	out := map[string]string{}
	for _, s := range states {
		out[s.RepositoryID] = s.Holder
	}
	return out
}

// A repository is read by the replica that holds its clone while that
// replica lives: another replica claims only repositories nobody holds,
// even when the holder's are due and it has not read them yet.
func TestIndexClaimsRespectTheCloneHolder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		affinity(t, db, 3)
		beat(ctx, t, db, at(0), "a", "b")
		first, err := claimAs(ctx, db, "a", at(0), 2)
		must(t, err)
		rest, err := claimAs(ctx, db, "b", at(0), 10)
		must(t, err)
		if len(first) != 2 || len(rest) != 1 {
			t.Fatalf("a claimed %v and b %v of three new repositories, want two and the third", ids(first), ids(rest))
		}
		readAll(t, db, "a", first, at(0), at(1))
		readAll(t, db, "b", rest, at(0), at(1))
		want := map[string]string{rest[0].RepositoryID: "b"}
		for _, s := range first {
			want[s.RepositoryID] = "a"
		}
		wantEqual(t, "holders after the first reads", holders(t, db), want)

		// Every repository is due again; b asks first, a has not read
		// its own yet.
		beat(ctx, t, db, at(1), "a", "b")
		got, err := claimAs(ctx, db, "b", at(1), 10)
		must(t, err)
		wantEqual(t, "b's claim", ids(got), ids(rest))
		mine, err := claimAs(ctx, db, "a", at(1), 10)
		must(t, err)
		wantEqual(t, "a's claim", ids(mine), ids(first))

		// b cannot read a's repositories: it tells a to.
		elsewhere, err := db.HoldersOfDueRepositories(ctx, "b", at(2), goneAfter)
		must(t, err)
		if len(elsewhere) != 0 {
			t.Errorf("holders of due repositories while a reads them: %v, want none (leased)", elsewhere)
		}
		readAll(t, db, "a", mine, at(1), at(2))
		readAll(t, db, "b", got, at(1), at(2))
		elsewhere, err = db.HoldersOfDueRepositories(ctx, "b", at(2), goneAfter)
		must(t, err)
		wantEqual(t, "holders of repositories due that b may not read", elsewhere, []string{"a"})

		readable, err := db.ReadableRepositoryKeys(ctx, "b", at(2), goneAfter)
		must(t, err)
		if len(readable) != 1 || readable[0].RepositoryID != rest[0].RepositoryID {
			t.Errorf("b may keep the clones of %v, want only its own %s", readable, rest[0].RepositoryID)
		}
	})
}

// A replica whose heartbeat stopped longer ago than the bound is gone:
// its repositories are taken over, the one it was reading when it died
// included (its lease went with it), and its late save is refused. Come
// back, it keeps none of them and removes their clones.
func TestIndexRepositoriesOfAGoneReplicaAreTakenOver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		affinity(t, db, 2)
		beat(ctx, t, db, at(0), "a", "b")
		claimed, err := claimAs(ctx, db, "a", at(0), 1)
		must(t, err)
		readAll(t, db, "a", claimed, at(0), at(1))
		// a starts reading the other and dies.
		reading, err := claimAs(ctx, db, "a", at(0), 1)
		must(t, err)
		if len(reading) != 1 {
			t.Fatalf("a claimed %v, want the second repository", ids(reading))
		}

		beat(ctx, t, db, at(2), "b")
		if got, _ := claimAs(ctx, db, "b", at(2), 10); len(got) != 0 {
			t.Fatalf("b claimed %v while a's heartbeat is %v old, want nothing", ids(got), goneAfter)
		}
		beat(ctx, t, db, at(3), "b")
		live, gone, err := db.IndexReplicas(ctx, at(3), goneAfter)
		must(t, err)
		wantEqual(t, "live and gone replicas", [][]string{live, gone}, [][]string{{"b"}, {"a"}})
		taken, err := claimAs(ctx, db, "b", at(3), 10)
		must(t, err)
		wantEqual(t, "b's claim once a is gone", ids(taken), []string{"1", "2"})
		wantEqual(t, "holders", holders(t, db), map[string]string{"1": "b", "2": "b"})

		if ok, err := db.SaveIndex(ctx, relay.IndexUpdate{IndexKey: reading[0].IndexKey, Owner: "a", Tips: map[string]string{},
			CheckedAt: at(3), NextPollAt: at(4)}); err != nil || ok {
			t.Errorf("the gone replica's late save: %v %v, want refused", ok, err)
		}
		readAll(t, db, "b", taken, at(3), at(4))

		beat(ctx, t, db, at(4), "a")
		if got, _ := claimAs(ctx, db, "a", at(4), 10); len(got) != 0 {
			t.Errorf("a, back, claimed %v of b's repositories, want nothing", ids(got))
		}
		readable, err := db.ReadableRepositoryKeys(ctx, "a", at(4), goneAfter)
		must(t, err)
		if len(readable) != 0 {
			t.Errorf("a, back, may keep the clones of %v, want none", readable)
		}
	})
}

// A restarted replica is the same replica (its id is kept in its data
// directory): back within the bound, or before any other replica claimed
// them, it keeps its repositories.
func TestIndexARestartedReplicaKeepsItsRepositories(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		affinity(t, db, 2)
		beat(ctx, t, db, at(0), "a", "b")
		claimed, err := claimAs(ctx, db, "a", at(0), 10)
		must(t, err)
		// One due in a minute, the other dormant for an hour.
		readAll(t, db, "a", claimed[:1], at(0), at(1))
		readAll(t, db, "a", claimed[1:], at(0), at(60))

		// a stops, and starts again a minute and a half later.
		beat(ctx, t, db, at(2), "b")
		beat(ctx, t, db, at(1).Add(time.Minute/2), "a")
		beat(ctx, t, db, at(3), "b")
		if got, _ := claimAs(ctx, db, "b", at(3), 10); len(got) != 0 {
			t.Fatalf("b claimed %v of the restarted replica's repositories, want none", ids(got))
		}
		// a is gone again, for long; its dormant repository is due to
		// nobody meanwhile, and is still its own when it comes back.
		beat(ctx, t, db, at(30), "b")
		taken, err := claimAs(ctx, db, "b", at(30), 10)
		must(t, err)
		wantEqual(t, "b's claim while a is gone", ids(taken), []string{claimed[0].RepositoryID})
		beat(ctx, t, db, at(59), "a")
		readAll(t, db, "b", taken, at(30), at(90))
		mine, err := claimAs(ctx, db, "a", at(60), 10)
		must(t, err)
		wantEqual(t, "a's claim, back", ids(mine), []string{claimed[1].RepositoryID})
	})
}

// Heartbeats forget replicas gone for longer than their bound.
func TestIndexReplicasGoneLongAreForgotten(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		beat(ctx, t, db, at(0), "a")
		must(t, db.BeatIndexReplica(ctx, "b", at(0).Add(24*time.Hour), 24*time.Hour))
		live, gone, err := db.IndexReplicas(ctx, at(0).Add(24*time.Hour), goneAfter)
		must(t, err)
		wantEqual(t, "replicas", [][]string{live, gone}, [][]string{{"b"}, {"a"}})
		must(t, db.BeatIndexReplica(ctx, "b", at(1).Add(24*time.Hour), 24*time.Hour))
		live, gone, err = db.IndexReplicas(ctx, at(1).Add(24*time.Hour), goneAfter)
		must(t, err)
		wantEqual(t, "replicas a day after a's last heartbeat", [][]string{live, gone}, [][]string{{"b"}, nil})
	})
}

// Replicas taking over a gone replica's repositories at once claim each
// exactly once (on PostgreSQL, the UPDATE's condition is checked again on
// each row it locks, which by then names its new holder).
func TestIndexTakeoversAtOnceClaimEachRepositoryOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 40
		affinity(t, db, n)
		beat(ctx, t, db, at(0), "gone")
		claimed, err := claimAs(ctx, db, "gone", at(0), n)
		must(t, err)
		readAll(t, db, "gone", claimed, at(0), at(1))
		replicas := []string{"a", "b", "c", "d"}
		beat(ctx, t, db, at(5), replicas...)
		var (
			mu    sync.Mutex
			count = map[string]int{}
			wg    sync.WaitGroup
		)
		for _, r := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					got, err := claimAs(ctx, db, r, at(5), 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, s := range got {
						count[s.RepositoryID]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(count) != n {
			t.Errorf("%d of %d repositories were taken over", len(count), n)
		}
		for id, c := range count {
			if c != 1 {
				t.Errorf("repository %s was claimed %d times", id, c)
			}
		}
		for id, h := range holders(t, db) {
			if !slices.Contains(replicas, h) {
				t.Errorf("repository %s is held by %q, want one of the live replicas", id, h)
			}
		}
	})
}
