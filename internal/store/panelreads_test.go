package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// twoReplicas opens the same database twice, as two gitrelay processes
// would, on each dialect.
func twoReplicas(t *testing.T, f func(t *testing.T, a, b *store.DB)) {
	open := func(t *testing.T, cfg store.Config) *store.DB {
		db, err := store.Open(context.Background(), cfg)
		must(t, err)
		t.Cleanup(func() { _ = db.Close() })
		_, err = db.Migrate(context.Background())
		must(t, err)
		return db
	}
	t.Run(store.DialectSQLite, func(t *testing.T) {
		cfg := store.Config{DataDir: t.TempDir()}
		f(t, open(t, cfg), open(t, cfg))
	})
	t.Run(store.DialectPostgres, func(t *testing.T) {
		cfg := store.Config{DatabaseURL: storetest.EmptyPostgresURL(t)}
		f(t, open(t, cfg), open(t, cfg))
	})
}

func panelNames(t *testing.T, db *store.DB, tenant string) []string {
	t.Helper()
	got, err := db.PanelReads(context.Background(), tenant, "alice", "ABC-1")
	must(t, err)
	names := []string{}
	for _, in := range got.Integrations {
		names = append(names, in.ID+":"+in.Name)
	}
	return names
}

// The panel keeps integrations in memory, yet every replica sees every
// change another replica made, at the next read.
func TestPanelReadsSeeIntegrationChangesOfAnotherReplica(t *testing.T) {
	twoReplicas(t, func(t *testing.T, a, b *store.DB) {
		ctx := context.Background()
		in := newIntegration("t1", "i1")
		in.Name = "first"
		createIntegration(t, b, in)
		wantEqual(t, "after create", panelNames(t, a, "t1"), []string{"i1:first"})
		wantEqual(t, "read again", panelNames(t, a, "t1"), []string{"i1:first"})

		in.Name = "renamed"
		must(t, b.UpdateIntegration(ctx, in, nil, auditFor(relay.ActionIntegrationUpdate)))
		wantEqual(t, "after rename", panelNames(t, a, "t1"), []string{"i1:renamed"})

		createIntegration(t, b, newIntegration("t1", "i2"))
		wantEqual(t, "after a second create", panelNames(t, a, "t1"), []string{"i1:renamed", "i2:" + newIntegration("t1", "i2").Name})

		must(t, b.DeleteIntegration(ctx, "t1", "i2", auditFor(relay.ActionIntegrationDelete)))
		wantEqual(t, "after delete", panelNames(t, a, "t1"), []string{"i1:renamed"})

		must(t, b.DeleteIntegration(ctx, "t1", "i1", auditFor(relay.ActionIntegrationDelete)))
		wantEqual(t, "after deleting the last", panelNames(t, a, "t1"), []string{})

		// Another tenant's integrations never show.
		createIntegration(t, b, newIntegration("t2", "i1"))
		wantEqual(t, "other tenant", panelNames(t, a, "t1"), []string{})
	})
}

// A removed Jira site's integrations do not linger in another replica's
// memory.
func TestPanelReadsForgetARemovedJiraTenantOfAnotherReplica(t *testing.T) {
	twoReplicas(t, func(t *testing.T, a, b *store.DB) {
		const tenant = "ari:cloud:ecosystem::installation/removed"
		createIntegration(t, b, newIntegration(tenant, "i1"))
		wantEqual(t, "before", len(panelNames(t, a, tenant)), 1)
		must(t, b.DeleteJiraTenant(context.Background(), tenant))
		wantEqual(t, "after removal", panelNames(t, a, tenant), []string{})
	})
}

// Once the tenant's integrations are kept, a panel read is the user's
// tokens with the integrations' version, the issue's records and what the
// index holds for it: sent together on PostgreSQL (one round trip), one
// after the other on SQLite (three, in process). They are read every
// time.
func TestPanelReadsTakeOneRoundTripOnPostgreSQL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createIntegration(t, db, newIntegration("t1", "i1"))
		createIntegration(t, db, newIntegration("t1", "i2"))
		_, err := db.PanelReads(ctx, "t1", "alice", "ABC-1")
		must(t, err)

		want := map[string]int64{store.DialectPostgres: 1, store.DialectSQLite: 3}[db.Dialect()]
		before := db.RoundTrips()
		got, err := db.PanelReads(ctx, "t1", "alice", "ABC-1")
		must(t, err)
		wantEqual(t, "round trips", db.RoundTrips()-before, want)
		wantEqual(t, "integrations", len(got.Integrations), 2)
		wantEqual(t, "tokens", len(got.Tokens), 0)
		wantEqual(t, "branches", got.Branches, []relay.BranchRecord{})
		wantEqual(t, "pull requests", got.PullRequests, []relay.PullRequestRecord{})

		by := relay.ActedAs{Via: relay.ViaIntegration, Login: "relay-bot"}
		b := relay.BranchRecord{ID: "b1", TenantID: "t1", IssueKey: "ABC-1", IntegrationID: "i1", RepositoryID: "7",
			Repository: "acme/api", Name: "ABC-1-fix", URL: "https://example.com/acme/api/tree/ABC-1-fix",
			ActedAs: by, CreatedBy: "alice", CreatedAt: at(1)}
		must(t, db.RecordBranch(ctx, b, auditFor(relay.ActionBranchCreate)))
		pr := relay.PullRequestRecord{ID: "p1", TenantID: "t1", IssueKey: "ABC-1", IntegrationID: "i2", RepositoryID: "7",
			Repository: "acme/api", Number: 12, Title: "ABC-1 fix", URL: "https://example.com/acme/api/pull/12",
			Source: "ABC-1-fix", Target: "main", Draft: true, ActedAs: by, CreatedBy: "alice", CreatedAt: at(2)}
		must(t, db.RecordPullRequest(ctx, pr, auditFor(relay.ActionPullRequestCreate)))
		must(t, db.RecordBranch(ctx, relay.BranchRecord{ID: "b2", TenantID: "t1", IssueKey: "ABC-2", IntegrationID: "i1",
			RepositoryID: "7", Repository: "acme/api", Name: "ABC-2-other", ActedAs: by, CreatedAt: at(3)},
			auditFor(relay.ActionBranchCreate)))
		before = db.RoundTrips()
		got, err = db.PanelReads(ctx, "t1", "alice", "ABC-1")
		must(t, err)
		wantEqual(t, "round trips with records", db.RoundTrips()-before, want)
		wantEqual(t, "branches", got.Branches, []relay.BranchRecord{b})
		wantEqual(t, "pull requests", got.PullRequests, []relay.PullRequestRecord{pr})

		// What the index holds for the issue comes in the same reads, from
		// every integration of the tenant.
		for _, id := range []string{"i1", "i2"} {
			_, err := db.SyncIndexRepositories(ctx, "t1", id, []relay.Repository{repo("7", "acme/api")}, at(0))
			must(t, err)
		}
		claimed, err := claimAs(ctx, db, "replica-a", at(0), 10)
		must(t, err)
		wantEqual(t, "claimed", len(claimed), 2)
		for _, c := range claimed {
			sha := "c-" + c.IntegrationID
			_, err := db.SaveIndex(ctx, relay.IndexUpdate{IndexKey: c.IndexKey, Owner: "replica-a",
				Tips: map[string]string{"refs/heads/main": sha}, TipsDigest: sha, Changed: true, Walked: 1,
				Commits:   []relay.IndexedCommit{{SHA: sha, Message: "ABC-1 Log in", At: at(4), Branches: []string{"main"}, IssueKeys: []string{"ABC-1"}}},
				CheckedAt: at(4), NextPollAt: at(5)})
			must(t, err)
		}
		before = db.RoundTrips()
		got, err = db.PanelReads(ctx, "t1", "alice", "ABC-1")
		must(t, err)
		wantEqual(t, "round trips with the index", db.RoundTrips()-before, want)
		var shas []string
		for _, c := range got.Index.Commits {
			shas = append(shas, c.IntegrationID+":"+c.SHA)
		}
		slices.Sort(shas)
		wantEqual(t, "indexed commits", shas, []string{"i1:c-i1", "i2:c-i2"})
		other, err := db.PanelReads(ctx, "t1", "alice", "ABC-2")
		must(t, err)
		wantEqual(t, "indexed commits of another issue", len(other.Index.Commits), 0)

		tok := newToken("t1", "alice", "i2")
		putToken(t, db, tok)
		got, err = db.PanelReads(ctx, "t1", "alice", "ABC-1")
		must(t, err)
		wantEqual(t, "tokens", got.Tokens, []relay.UserToken{tok})
		must(t, db.DeleteUserToken(ctx, "t1", "alice", "i2", auditFor(relay.ActionTokenRemove)))
		got, err = db.PanelReads(ctx, "t1", "alice", "ABC-1")
		must(t, err)
		wantEqual(t, "tokens after delete", len(got.Tokens), 0)
	})
}

// Concurrent panel reads reuse the pool's connections rather than closing
// them when fewer are busy and opening new ones: each new PostgreSQL
// connection costs the server a process and its prepared statements.
func TestConcurrentReadsKeepTheirConnections(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createIntegration(t, db, newIntegration("t1", "i1"))
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					if _, err := db.PanelReads(ctx, "t1", "alice", "ABC-1"); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for _, p := range db.Pools() {
			if p.Stats.MaxIdleClosed != 0 {
				t.Errorf("pool %s closed %d connections for having too many idle, want none (%d open)",
					p.Name, p.Stats.MaxIdleClosed, p.Stats.OpenConnections)
			}
		}
	})
}
