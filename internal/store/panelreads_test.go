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

// Once the tenant's integrations and the issue's records and index are
// kept, a panel read is one statement: the user's tokens with the
// versions of what is kept. A part changed since is read in a second
// round trip (both parts together on PostgreSQL, one after the other on
// SQLite), and kept again.
func TestPanelReadsOfAnUnchangedIssueTakeOneStatement(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createIntegration(t, db, newIntegration("t1", "i1"))
		createIntegration(t, db, newIntegration("t1", "i2"))
		_, err := db.PanelReads(ctx, "t1", "alice", "ABC-1")
		must(t, err)

		trips := func(what string, want int64) relay.PanelReads {
			t.Helper()
			before := db.RoundTrips()
			got, err := db.PanelReads(ctx, "t1", "alice", "ABC-1")
			must(t, err)
			wantEqual(t, "round trips "+what, db.RoundTrips()-before, want)
			return got
		}
		got := trips("unchanged", 1)
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
		got = trips("with records changed", 2)
		wantEqual(t, "branches", got.Branches, []relay.BranchRecord{b})
		wantEqual(t, "pull requests", got.PullRequests, []relay.PullRequestRecord{pr})
		got = trips("with records kept", 1)
		wantEqual(t, "kept branches", got.Branches, []relay.BranchRecord{b})
		wantEqual(t, "kept pull requests", got.PullRequests, []relay.PullRequestRecord{pr})

		// What the index holds for the issue, from every integration of
		// the tenant, is kept the same way.
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
		commits := func(got relay.PanelReads) []string {
			var shas []string
			for _, c := range got.Index.Commits {
				shas = append(shas, c.IntegrationID+":"+c.SHA)
			}
			slices.Sort(shas)
			return shas
		}
		wantEqual(t, "indexed commits", commits(trips("with the index changed", 2)), []string{"i1:c-i1", "i2:c-i2"})
		wantEqual(t, "kept indexed commits", commits(trips("with the index kept", 1)), []string{"i1:c-i1", "i2:c-i2"})
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

// Every change another replica makes to an issue's records, or to what the
// index holds, shows at the next panel read of a replica that keeps them:
// a record written, moved to another issue or forgotten; commits and
// pull requests indexed; a repository renamed or taken out of the index;
// the integration deleted. A read that found nothing new leaves what is
// kept alone.
func TestPanelReadsSeeRecordAndIndexChangesOfAnotherReplica(t *testing.T) {
	twoReplicas(t, func(t *testing.T, a, b *store.DB) {
		ctx := context.Background()
		createIntegration(t, b, newIntegration("t1", "i1"))
		panel := func(issue string) relay.PanelReads {
			t.Helper()
			got, err := a.PanelReads(ctx, "t1", "alice", issue)
			must(t, err)
			return got
		}
		records := func(issue string) []string {
			t.Helper()
			got := panel(issue)
			out := []string{}
			for _, r := range got.Branches {
				out = append(out, "branch "+r.Name)
			}
			for _, r := range got.PullRequests {
				out = append(out, "pull request "+r.Title)
			}
			return out
		}
		indexed := func(issue string) []string {
			t.Helper()
			got := panel(issue)
			out := []string{}
			for _, c := range got.Index.Commits {
				out = append(out, c.Repository+" commit "+c.SHA)
			}
			for _, p := range got.Index.PullRequests {
				out = append(out, p.Repository+" pull request "+p.Title)
			}
			return out
		}
		by := relay.ActedAs{Via: relay.ViaIntegration, Login: "relay-bot"}
		branch := func(id, issue string) relay.BranchRecord {
			return relay.BranchRecord{ID: id, TenantID: "t1", IssueKey: issue, IntegrationID: "i1", RepositoryID: "7",
				Repository: "acme/api", Name: "fix-login", ActedAs: by, CreatedAt: at(1)}
		}
		pull := func(id, issue, title string) relay.PullRequestRecord {
			return relay.PullRequestRecord{ID: id, TenantID: "t1", IssueKey: issue, IntegrationID: "i1", RepositoryID: "7",
				Repository: "acme/api", Number: 12, Title: title, Source: "fix-login", Target: "main", ActedAs: by, CreatedAt: at(2)}
		}
		wantEqual(t, "no records", records("ABC-1"), []string{})
		wantEqual(t, "no records on the other issue", records("ABC-2"), []string{})

		must(t, b.RecordBranch(ctx, branch("b1", "ABC-1"), auditFor(relay.ActionBranchCreate)))
		wantEqual(t, "branch recorded", records("ABC-1"), []string{"branch fix-login"})
		wantEqual(t, "other issue untouched", records("ABC-2"), []string{})
		must(t, b.RecordPullRequest(ctx, pull("p1", "ABC-1", "Fix login"), auditFor(relay.ActionPullRequestCreate)))
		wantEqual(t, "pull request recorded", records("ABC-1"), []string{"branch fix-login", "pull request Fix login"})

		// The same branch and pull request recorded again from another
		// issue move there: both issues show it.
		must(t, b.RecordBranch(ctx, branch("b2", "ABC-2"), auditFor(relay.ActionBranchCreate)))
		must(t, b.RecordPullRequest(ctx, pull("p2", "ABC-2", "Fix login again"), auditFor(relay.ActionPullRequestCreate)))
		wantEqual(t, "moved away", records("ABC-1"), []string{})
		wantEqual(t, "moved here", records("ABC-2"), []string{"branch fix-login", "pull request Fix login again"})

		// Deleted from a third issue's panel: forgotten from the issue it
		// belonged to.
		del := auditFor(relay.ActionBranchDelete)
		del.IssueKey = "ABC-3"
		must(t, b.ForgetBranch(ctx, "t1", "i1", "7", "fix-login", del))
		wantEqual(t, "forgotten", records("ABC-2"), []string{"pull request Fix login again"})

		// The index.
		_, err := b.SyncIndexRepositories(ctx, "t1", "i1", []relay.Repository{repo("7", "acme/api")}, at(0))
		must(t, err)
		wantEqual(t, "nothing indexed", indexed("ABC-1"), []string{})
		save := func(when int, commits ...relay.IndexedCommit) {
			t.Helper()
			claimed, err := claimAs(ctx, b, "replica-b", at(when), 10)
			must(t, err)
			wantEqual(t, "claimed", len(claimed), 1)
			_, err = b.SaveIndex(ctx, relay.IndexUpdate{IndexKey: claimed[0].IndexKey, Owner: "replica-b",
				Tips: map[string]string{"refs/heads/main": "c1"}, TipsDigest: "c1", Changed: len(commits) > 0, Walked: int64(len(commits)),
				Commits: commits, CheckedAt: at(when), NextPollAt: at(when + 1)})
			must(t, err)
		}
		save(1, relay.IndexedCommit{SHA: "c1", Message: "ABC-1 Log in", At: at(1), Branches: []string{"main"}, IssueKeys: []string{"ABC-1"}})
		wantEqual(t, "commit indexed", indexed("ABC-1"), []string{"acme/api commit c1"})

		before := a.RoundTrips()
		save(2)
		wantEqual(t, "after a read that found nothing", indexed("ABC-1"), []string{"acme/api commit c1"})
		wantEqual(t, "round trips after a read that found nothing", a.RoundTrips()-before, int64(1))

		k := relay.IndexKey{TenantID: "t1", IntegrationID: "i1", RepositoryID: "7"}
		must(t, b.PutIndexedPullRequests(ctx, k, []relay.IndexedPullRequest{{Number: 3, Title: "ABC-1 Log in", State: "open",
			Source: "login", Target: "main", UpdatedAt: at(3), IssueKeys: []string{"ABC-1"}}}))
		wantEqual(t, "pull request indexed", indexed("ABC-1"), []string{"acme/api commit c1", "acme/api pull request ABC-1 Log in"})

		_, err = b.SyncIndexRepositories(ctx, "t1", "i1", []relay.Repository{repo("7", "acme/backend")}, at(4))
		must(t, err)
		wantEqual(t, "repository renamed", indexed("ABC-1"), []string{"acme/backend commit c1", "acme/backend pull request ABC-1 Log in"})

		_, err = b.SyncIndexRepositories(ctx, "t1", "i1", nil, at(5))
		must(t, err)
		wantEqual(t, "repository taken out", indexed("ABC-1"), []string{})

		_, err = b.SyncIndexRepositories(ctx, "t1", "i1", []relay.Repository{repo("7", "acme/api")}, at(6))
		must(t, err)
		save(6, relay.IndexedCommit{SHA: "c1", Message: "ABC-1 Log in", At: at(1), Branches: []string{"main"}, IssueKeys: []string{"ABC-1"}})
		wantEqual(t, "indexed again", indexed("ABC-1"), []string{"acme/api commit c1"})
		must(t, b.DeleteIntegration(ctx, "t1", "i1", auditFor(relay.ActionIntegrationDelete)))
		wantEqual(t, "integration deleted", indexed("ABC-1"), []string{})
	})
}
