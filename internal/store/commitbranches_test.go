package store_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// claimOne indexes one repository of a new integration and claims it.
func claimOne(t *testing.T, db *store.DB) relay.IndexKey {
	t.Helper()
	ctx := context.Background()
	in := newIntegration("t1", "i1")
	must(t, db.CreateIntegration(ctx, in, credential(in), auditFor(relay.ActionIntegrationCreate)))
	_, err := db.SyncIndexRepositories(ctx, "t1", "i1", []relay.Repository{repo("1", "acme/api")}, at(0))
	must(t, err)
	return claimAgain(t, db, 0)
}

func claimAgain(t *testing.T, db *store.DB, minute int) relay.IndexKey {
	t.Helper()
	claimed, err := claimAs(context.Background(), db, "replica-a", at(minute), 1)
	must(t, err)
	if len(claimed) != 1 {
		t.Fatalf("claimed %d repositories, want 1", len(claimed))
	}
	return claimed[0].IndexKey
}

func commitOn(sha string, branches ...string) relay.IndexedCommit {
	return relay.IndexedCommit{SHA: sha, Message: "ABC-1 " + sha, AuthorName: "Bob", AuthorEmail: "bob@example.com", At: at(-5),
		Branches: branches, IssueKeys: []string{"ABC-1"}}
}

func TestSaveIndexKeepsTheBranchesOfIndexedCommits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		k := claimOne(t, db)
		save := func(minute int, u relay.IndexUpdate) {
			t.Helper()
			u.IndexKey, u.Owner, u.Tips, u.CheckedAt, u.NextPollAt = k, "replica-a", map[string]string{}, at(minute), at(minute)
			ok, err := db.SaveIndex(ctx, u)
			must(t, err)
			if !ok {
				t.Fatal("the lease holder's save was refused")
			}
		}
		save(0, relay.IndexUpdate{Commits: []relay.IndexedCommit{commitOn("aaa", "main"), commitOn("bbb", "feature", "main"), commitOn("ccc")}})
		got, err := db.CommitBranches(ctx, k, nil)
		must(t, err)
		want := map[string][]string{"aaa": {"main"}, "bbb": {"feature", "main"}, "ccc": {}}
		if !equalBranches(got, want) {
			t.Fatalf("got branches %v, want %v", got, want)
		}

		claimAgain(t, db, 1)
		// Commits indexed before move; one walked again takes the branches
		// found now.
		save(1, relay.IndexUpdate{Commits: []relay.IndexedCommit{commitOn("ccc", "release")},
			Rebranched: []relay.CommitBranches{{SHA: "aaa", Branches: []string{"main", "release"}}, {SHA: "bbb", Branches: nil}, {SHA: "zzz", Branches: []string{"main"}}}})
		got, err = db.CommitBranches(ctx, k, []string{"aaa", "bbb", "ccc", "zzz"})
		must(t, err)
		want = map[string][]string{"aaa": {"main", "release"}, "bbb": {}, "ccc": {"release"}}
		if !equalBranches(got, want) {
			t.Fatalf("got branches %v, want %v (a commit not indexed is left out)", got, want)
		}
		idx, err := db.IssueIndex(ctx, "t1", "ABC-1", []string{"i1"})
		must(t, err)
		for _, c := range idx.Commits {
			if !slices.Equal(c.Branches, want[c.SHA]) && len(c.Branches)+len(want[c.SHA]) > 0 {
				t.Errorf("the panel shows %s on %q, want %q", c.SHA, c.Branches, want[c.SHA])
			}
		}
	})
}

func equalBranches(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for sha, list := range a {
		other, ok := b[sha]
		if !ok || !slices.Equal(list, other) && len(list)+len(other) > 0 {
			return false
		}
	}
	return true
}

// The hooks given to SaveIndex run in its transaction: when one fails,
// nothing of the read is saved.
func TestSaveIndexSavesNothingWhenAHookFails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		k := claimOne(t, db)
		down := errors.New("down")
		u := relay.IndexUpdate{IndexKey: k, Owner: "replica-a", Tips: map[string]string{"refs/heads/main": "aaa"}, TipsDigest: "d1",
			Walked: 1, Commits: []relay.IndexedCommit{commitOn("aaa", "main")}, CheckedAt: at(0), NextPollAt: at(1)}
		ran := false
		ok, err := db.SaveIndex(ctx, u, func(ctx context.Context, tx *sql.Tx) error {
			ran = true
			if _, err := db.EnqueueDevinfoTx(ctx, tx, store.DevinfoOp{TenantID: "t1", Op: "upsert_indexed", Payload: []byte(`{}`)}, 0); err != nil {
				return err
			}
			return down
		})
		if !errors.Is(err, down) || ok || !ran {
			t.Fatalf("a failing hook: got saved %v, %v (ran: %v), want the hook's error and nothing saved", ok, err, ran)
		}
		states, err := db.IndexStates(ctx, "t1", "i1", at(0))
		must(t, err)
		if len(states) != 1 || states[0].TipsDigest != "" || states[0].Commits != 0 {
			t.Errorf("got state %+v, want the read unsaved", states)
		}
		if got, err := db.CommitBranches(ctx, k, nil); err != nil || len(got) != 0 {
			t.Errorf("got commits %v, %v, want none saved", got, err)
		}
		if ops, err := db.QueuedDevinfo(ctx, "t1", 10); err != nil || len(ops) != 0 {
			t.Errorf("the hook's op is queued (%v, %v), want it rolled back", ops, err)
		}

		// The same read saved again, the hook succeeding, saves once.
		ok, err = db.SaveIndex(ctx, u, func(ctx context.Context, tx *sql.Tx) error {
			_, err := db.EnqueueDevinfoTx(ctx, tx, store.DevinfoOp{TenantID: "t1", Op: "upsert_indexed", Payload: []byte(`{}`)}, 0)
			return err
		})
		must(t, err)
		if !ok {
			t.Fatal("the save was refused")
		}
		if ops, err := db.QueuedDevinfo(ctx, "t1", 10); err != nil || len(ops) != 1 {
			t.Errorf("got %d ops queued (%v), want 1", len(ops), err)
		}
	})
}

// Migration 0020 makes every indexed repository read again in full, so
// that the commits indexed before list every branch they are on.
func TestMigrationCommitBranchesReadsEveryRepositoryAgain(t *testing.T) {
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, emptyConfigs(t)[dialect](t))
			must(t, err)
			defer db.Close()
			must(t, store.MigrateBefore(ctx, db, "0020_commit_branches"))
			// A repository read before, as that release left it: its tips
			// known, due in an hour.
			in := newIntegration("t1", "i1")
			must(t, db.CreateIntegration(ctx, in, credential(in), auditFor(relay.ActionIntegrationCreate)))
			_, err = db.SyncIndexRepositories(ctx, "t1", "i1", []relay.Repository{repo("1", "acme/api")}, at(0))
			must(t, err)
			must(t, store.ExecRaw(ctx, db, `UPDATE index_repositories SET tips = ?, tips_digest = ?, next_poll_at = ?`,
				`{"refs/heads/main":"aaa"}`, "d1", at(60).UnixMicro()))

			applied, err := db.Migrate(ctx)
			must(t, err)
			if len(applied) == 0 || applied[0] != "0020_commit_branches" {
				t.Fatalf("applied %v, want 0020_commit_branches first", applied)
			}
			states, err := db.IndexStates(ctx, "t1", "i1", at(1))
			must(t, err)
			if len(states) != 1 || len(states[0].Tips) != 0 || states[0].TipsDigest != "" || states[0].NextPollAt.After(at(1)) {
				t.Fatalf("got state %+v, want its tips forgotten and due at once", states)
			}
			claimed, err := claimAs(ctx, db, "replica-a", at(1), 1)
			must(t, err)
			if len(claimed) != 1 {
				t.Errorf("the migrated repository is not due")
			}
		})
	}
}
