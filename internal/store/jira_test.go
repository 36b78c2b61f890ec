package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

const (
	jiraTenantA = "ari:cloud:ecosystem::installation/a"
	jiraTenantB = "ari:cloud:ecosystem::installation/b"
)

func TestJiraInstallationKeepsWhatLaterCallsLeaveOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		_, err := db.JiraInstallation(ctx, jiraTenantA)
		wantCode(t, err, relay.ENotFound, "")
		must(t, db.PutJiraInstallation(ctx, store.JiraInstallation{TenantID: jiraTenantA, AppID: "app", CloudID: "c1",
			SiteURL: "https://a.atlassian.net", APIBaseURL: "https://api/ex/jira/c1"}, []byte("sealed-1")))
		// A backend call knows no site URL: the stored one stays.
		must(t, db.PutJiraInstallation(ctx, store.JiraInstallation{TenantID: jiraTenantA, AppID: "app", CloudID: "c1",
			APIBaseURL: "https://api/ex/jira/c1", SystemTokenAt: at(5)}, []byte("sealed-2")))
		got, err := db.JiraInstallation(ctx, jiraTenantA)
		must(t, err)
		if got.SiteURL != "https://a.atlassian.net" || got.CloudID != "c1" || !got.SystemTokenAt.Equal(at(5)) {
			t.Fatalf("installation: got %+v, want the site URL kept and the token time updated", got)
		}
		sealed, when, err := db.JiraSystemToken(ctx, jiraTenantA)
		must(t, err)
		if string(sealed) != "sealed-2" || !when.Equal(at(5)) {
			t.Fatalf("system token: got %q at %v, want the latest", sealed, when)
		}
		// nil keeps the stored token.
		must(t, db.PutJiraInstallation(ctx, store.JiraInstallation{TenantID: jiraTenantA}, nil))
		sealed, _, err = db.JiraSystemToken(ctx, jiraTenantA)
		must(t, err)
		if string(sealed) != "sealed-2" {
			t.Fatalf("system token after an update without one: got %q, want kept", sealed)
		}
		byCloud, err := db.JiraInstallationsByCloud(ctx, "c1")
		must(t, err)
		if len(byCloud) != 1 || byCloud[0].TenantID != jiraTenantA {
			t.Fatalf("by cloud: got %+v", byCloud)
		}
	})
}

func TestDevinfoQueueOrderSequencesAndRetries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var seqs []int64
		for i := 0; i < 3; i++ {
			op, err := db.EnqueueDevinfo(ctx, store.DevinfoOp{TenantID: jiraTenantA, Op: "upsert_branch",
				Payload: json.RawMessage(`{"n":1}`), CreatedAt: at(i)}, 100)
			must(t, err)
			seqs = append(seqs, op.Sequence)
		}
		if !(seqs[0] >= 100 && seqs[0] < seqs[1] && seqs[1] < seqs[2]) {
			t.Fatalf("sequences: got %v, want increasing from at least 100", seqs)
		}
		// A clock-based minimum ahead of the counter wins.
		op, err := db.EnqueueDevinfo(ctx, store.DevinfoOp{TenantID: jiraTenantA, Op: "delete_branch", Payload: json.RawMessage(`{}`), CreatedAt: at(3)}, 5000)
		must(t, err)
		if op.Sequence != 5000 {
			t.Fatalf("sequence with a higher minimum: got %d, want 5000", op.Sequence)
		}
		_, err = db.EnqueueDevinfo(ctx, store.DevinfoOp{TenantID: jiraTenantB, Op: "upsert_branch", Payload: json.RawMessage(`{}`), CreatedAt: at(10)}, 1)
		must(t, err)

		due, err := db.DueDevinfo(ctx, at(3), 10)
		must(t, err)
		if len(due) != 4 || due[0].TenantID != jiraTenantA || string(due[0].Payload) != `{"n":1}` {
			t.Fatalf("due at minute 3: got %+v, want site A's four ops", due)
		}
		must(t, db.RetryDevinfo(ctx, jiraTenantA, []string{due[0].ID}, at(60), "Jira answered 429"))
		must(t, db.CompleteDevinfo(ctx, jiraTenantA, []string{due[1].ID, due[2].ID, due[3].ID},
			[]store.DevinfoFailure{{EntityType: "branch", EntityID: "x", RepositoryID: "r", IssueKeys: []string{"ABC-1"}, Reason: "rejected", At: at(4)}}))
		due, err = db.DueDevinfo(ctx, at(30), 10)
		must(t, err)
		if len(due) != 1 || due[0].TenantID != jiraTenantB {
			t.Fatalf("due at minute 30: got %+v, want only site B's op", due)
		}
		queued, err := db.QueuedDevinfo(ctx, jiraTenantA, 10)
		must(t, err)
		if len(queued) != 1 || queued[0].Attempts != 1 || queued[0].LastError != "Jira answered 429" || !queued[0].NextAttemptAt.Equal(at(60)) {
			t.Fatalf("site A's queue: got %+v", queued)
		}
		fs, err := db.DevinfoFailures(ctx, jiraTenantA, 10)
		must(t, err)
		wantEqual(t, "failures", fs, []store.DevinfoFailure{{TenantID: jiraTenantA, ID: fs[0].ID, At: at(4), EntityType: "branch",
			EntityID: "x", RepositoryID: "r", IssueKeys: []string{"ABC-1"}, Reason: "rejected"}})
		if fs, _ := db.DevinfoFailures(ctx, jiraTenantB, 10); len(fs) != 0 {
			t.Fatalf("site B's failures: got %+v, want none", fs)
		}
	})
}

func TestDevinfoClaimsGiveEachOpToOnePushOfItsTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for i := 0; i < 5; i++ {
			_, err := db.EnqueueDevinfo(ctx, store.DevinfoOp{TenantID: jiraTenantA, Op: "upsert_branch",
				Payload: json.RawMessage(`{}`), CreatedAt: at(i)}, 1)
			must(t, err)
		}
		_, err := db.EnqueueDevinfo(ctx, store.DevinfoOp{TenantID: jiraTenantB, Op: "upsert_branch",
			Payload: json.RawMessage(`{}`), CreatedAt: at(0)}, 1)
		must(t, err)

		// Pushes of site A on several connections at once: one gets every
		// due op, the others nothing.
		const pushers = 6
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			got [][]store.DevinfoOp
		)
		for range pushers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ops, err := db.ClaimDevinfo(ctx, jiraTenantA, at(10), time.Minute, 100)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				got = append(got, ops)
				mu.Unlock()
			}()
		}
		wg.Wait()
		var winners, claimed int
		for _, ops := range got {
			if len(ops) > 0 {
				winners++
				claimed = len(ops)
				for i := 1; i < len(ops); i++ {
					if ops[i-1].Sequence >= ops[i].Sequence {
						t.Fatalf("claimed ops out of order: %d before %d", ops[i-1].Sequence, ops[i].Sequence)
					}
				}
			}
		}
		if winners != 1 || claimed != 5 {
			t.Fatalf("%d of %d pushes got ops (the winner %d); want one push with all 5", winners, pushers, claimed)
		}
		// Claimed ops are not due for anyone else; site B is unaffected.
		tenants, err := db.DueDevinfoTenants(ctx, at(10))
		must(t, err)
		wantEqual(t, "tenants due while A is claimed", tenants, []string{jiraTenantB})

		// A released claim gives the ops back at once; an expired one too.
		queued, err := db.QueuedDevinfo(ctx, jiraTenantA, 10)
		must(t, err)
		must(t, db.ReleaseDevinfo(ctx, jiraTenantA, []string{queued[0].ID}))
		if ops, err := db.ClaimDevinfo(ctx, jiraTenantA, at(10), time.Minute, 100); err != nil || len(ops) != 0 {
			t.Fatalf("claim while the rest of A's claim lasts: got %d ops, %v; want none", len(ops), err)
		}
		ops, err := db.ClaimDevinfo(ctx, jiraTenantA, at(10).Add(time.Minute), time.Minute, 100)
		must(t, err)
		if len(ops) != 5 {
			t.Fatalf("claim after the first claim ended: got %d ops, want 5", len(ops))
		}
		// Postponing ends the claim of those ops; they come due at their
		// new time.
		must(t, db.RetryDevinfo(ctx, jiraTenantA, []string{ops[0].ID, ops[1].ID, ops[2].ID, ops[3].ID, ops[4].ID}, at(20), "Jira answered 503"))
		if ops, _ := db.ClaimDevinfo(ctx, jiraTenantA, at(19), time.Minute, 100); len(ops) != 0 {
			t.Fatalf("claim before the retry time: got %d ops, want none", len(ops))
		}
		if ops, _ := db.ClaimDevinfo(ctx, jiraTenantA, at(20), time.Minute, 100); len(ops) != 5 {
			t.Fatalf("claim at the retry time: got %d ops, want 5", len(ops))
		}
	})
}

func TestDeleteJiraTenantRemovesOnlyThatTenantsSecrets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, tenant := range []string{jiraTenantA, jiraTenantB} {
			must(t, db.PutJiraInstallation(ctx, store.JiraInstallation{TenantID: tenant, CloudID: tenant}, []byte("s")))
			in := newIntegration(tenant, "int-1")
			must(t, db.CreateIntegration(ctx, in, []byte("cred"), relay.AuditEvent{ID: relay.NewID(), TenantID: tenant, At: t0, Action: relay.ActionIntegrationCreate}))
			must(t, db.PutUserToken(ctx, relay.UserToken{TenantID: tenant, UserID: "acc", IntegrationID: "int-1", Status: relay.TokenValid,
				UpdatedAt: t0, Sealed: []byte("pat")}, relay.AuditEvent{ID: relay.NewID(), TenantID: tenant, At: t0, Action: relay.ActionTokenSave}))
			must(t, db.PutJiraGrant(ctx, store.JiraGrant{TenantID: tenant, AccountID: "acc", DisplayName: "A", Sealed: []byte("rt")}))
			_, err := db.EnqueueDevinfo(ctx, store.DevinfoOp{TenantID: tenant, Op: "upsert_branch", Payload: json.RawMessage(`{}`)}, 1)
			must(t, err)
		}
		wantCode(t, db.DeleteJiraTenant(ctx, relay.LocalTenant), relay.EInvalid, "")
		must(t, db.DeleteJiraTenant(ctx, jiraTenantA))

		_, err := db.Integration(ctx, jiraTenantA, "int-1")
		wantCode(t, err, relay.ENotFound, "")
		_, err = db.UserToken(ctx, jiraTenantA, "acc", "int-1")
		wantCode(t, err, relay.ENotFound, "")
		_, err = db.JiraGrant(ctx, jiraTenantA, "acc")
		wantCode(t, err, relay.ENotFound, "")
		_, _, err = db.JiraSystemToken(ctx, jiraTenantA)
		wantCode(t, err, relay.ENotFound, "")
		if q, _ := db.QueuedDevinfo(ctx, jiraTenantA, 10); len(q) != 0 {
			t.Fatalf("site A's queue: got %d ops, want none", len(q))
		}
		// The audit trail stays, as history.
		ev, err := db.Audit(ctx, jiraTenantA, relay.AuditFilter{})
		must(t, err)
		if len(ev) != 2 {
			t.Fatalf("site A's audit: got %d events, want 2 kept", len(ev))
		}

		_, err = db.Integration(ctx, jiraTenantB, "int-1")
		must(t, err)
		_, err = db.UserToken(ctx, jiraTenantB, "acc", "int-1")
		must(t, err)
		g, err := db.JiraGrant(ctx, jiraTenantB, "acc")
		must(t, err)
		if string(g.Sealed) != "rt" {
			t.Fatalf("site B's grant: got %q", g.Sealed)
		}
		if q, _ := db.QueuedDevinfo(ctx, jiraTenantB, 10); len(q) != 1 {
			t.Fatalf("site B's queue: got %d ops, want 1", len(q))
		}
	})
}

func TestDeleteJiraTenantRemovesEveryCredentialOfTheTenantInOneGo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// What a tenant may have collected, whatever let it in: users with
		// an admin flag, API tokens, sessions, projects, grants, a cached
		// repository list.
		for _, tenant := range []string{jiraTenantA, jiraTenantB} {
			must(t, db.PutJiraInstallation(ctx, store.JiraInstallation{TenantID: tenant, AppID: "app", CloudID: tenant}, []byte("s")))
			createIntegration(t, db, newIntegration(tenant, "int-1"))
			must(t, db.ReplaceRepositories(ctx, tenant, "int-1", []relay.Repository{{ID: "r1", Name: "r", FullName: "o/r"}}, t0))
			must(t, db.CreateUser(ctx, relay.User{ID: "u1", TenantID: tenant, Username: "mallory", Admin: true, CreatedAt: t0}, "h"))
			h := sha256.Sum256([]byte("api token of " + tenant))
			must(t, db.CreateAPIToken(ctx, relay.APIToken{ID: "a1", TenantID: tenant, UserID: "u1", Name: "x", Hash: h[:]}, relay.AuditEvent{Action: relay.ActionAPITokenCreate, Outcome: relay.OutcomeSuccess}))
			must(t, db.CreateProject(ctx, relay.Project{TenantID: tenant, Key: "ABC", Name: "Abc"}))
			must(t, db.PutGrant(ctx, relay.Grant{TenantID: tenant, ProjectKey: "ABC", UserID: "u1"}))
			sh := sha256.Sum256([]byte("session of " + tenant))
			must(t, db.CreateSession(ctx, store.Session{TokenHash: sh[:], TenantID: tenant, UserID: "acc", ExpiresAt: t0.Add(24 * 365 * time.Hour * 100)}))
		}
		must(t, db.DeleteJiraTenant(ctx, jiraTenantA))

		sh := sha256.Sum256([]byte("session of " + jiraTenantA))
		_, err := db.Session(ctx, sh[:])
		wantCode(t, err, relay.ENotFound, "")
		h := sha256.Sum256([]byte("api token of " + jiraTenantA))
		_, _, err = db.APITokenUser(ctx, h[:])
		wantCode(t, err, relay.ENotFound, "")
		if users, err := db.Users(ctx, jiraTenantA); err != nil || len(users) != 0 {
			t.Fatalf("site A's users: got %+v (%v), want none", users, err)
		}
		if grants, err := db.Grants(ctx, jiraTenantA); err != nil || len(grants) != 0 {
			t.Fatalf("site A's grants: got %+v (%v), want none", grants, err)
		}
		if projects, err := db.Projects(ctx, jiraTenantA); err != nil || len(projects) != 0 {
			t.Fatalf("site A's projects: got %+v (%v), want none", projects, err)
		}

		t.Run("the removed installation is not found and cannot come back", func(t *testing.T) {
			_, err := db.JiraInstallation(ctx, jiraTenantA)
			wantCode(t, err, relay.ENotFound, "")
			err = db.PutJiraInstallation(ctx, store.JiraInstallation{TenantID: jiraTenantA, AppID: "app", CloudID: jiraTenantA}, []byte("s"))
			wantCode(t, err, relay.EUnauthenticated, "")
			if ins, err := db.JiraInstallationsByCloud(ctx, jiraTenantA); err != nil || len(ins) != 0 {
				t.Fatalf("installations of site A's cloud: got %+v (%v), want none", ins, err)
			}
		})
		t.Run("the tenant stays listed as removed, for its audit trail", func(t *testing.T) {
			tenants, err := db.Tenants(ctx)
			must(t, err)
			found := false
			for _, tn := range tenants {
				switch tn.ID {
				case jiraTenantA:
					found = !tn.RemovedAt.IsZero()
				case jiraTenantB:
					if !tn.RemovedAt.IsZero() {
						t.Fatalf("site B is marked removed: %+v", tn)
					}
				}
			}
			if !found {
				t.Fatalf("site A is not listed as removed: %+v", tenants)
			}
		})
		t.Run("the other site keeps everything", func(t *testing.T) {
			sh := sha256.Sum256([]byte("session of " + jiraTenantB))
			_, err := db.Session(ctx, sh[:])
			must(t, err)
			h := sha256.Sum256([]byte("api token of " + jiraTenantB))
			_, _, err = db.APITokenUser(ctx, h[:])
			must(t, err)
			_, err = db.JiraInstallation(ctx, jiraTenantB)
			must(t, err)
			if repos, _ := db.SearchRepositories(ctx, jiraTenantB, "int-1", "", 10); len(repos) != 1 {
				t.Fatalf("site B's repositories: got %+v", repos)
			}
		})
	})
}

func TestJiraGrantsAreReplacedAndDeleted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		must(t, db.PutJiraGrant(ctx, store.JiraGrant{TenantID: jiraTenantA, AccountID: "acc", DisplayName: "Old", Sealed: []byte("1"), UpdatedAt: at(1)}))
		must(t, db.PutJiraGrant(ctx, store.JiraGrant{TenantID: jiraTenantA, AccountID: "acc", DisplayName: "New", Sealed: []byte("2"), UpdatedAt: at(2)}))
		g, err := db.JiraGrant(ctx, jiraTenantA, "acc")
		must(t, err)
		wantEqual(t, "grant", g, store.JiraGrant{TenantID: jiraTenantA, AccountID: "acc", DisplayName: "New", Sealed: []byte("2"), UpdatedAt: at(2)})
		_, err = db.JiraGrant(ctx, jiraTenantB, "acc")
		wantCode(t, err, relay.ENotFound, "")
		must(t, db.DeleteJiraGrant(ctx, jiraTenantA, "acc"))
		must(t, db.DeleteJiraGrant(ctx, jiraTenantA, "acc"))
		_, err = db.JiraGrant(ctx, jiraTenantA, "acc")
		wantCode(t, err, relay.ENotFound, "")
	})
}

// Key rotation re-seals the Jira secrets too: the system token and the
// refresh tokens.
func TestResealCoversJiraSecrets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.PutJiraInstallation(ctx, store.JiraInstallation{TenantID: "ari:inst-1", AppID: "app", CloudID: "c1"}, []byte("sealed-system")); err != nil {
			t.Fatal(err)
		}
		if err := db.PutJiraGrant(ctx, store.JiraGrant{TenantID: "ari:inst-1", AccountID: "acc-1", Sealed: []byte("sealed-refresh")}); err != nil {
			t.Fatal(err)
		}
		owners := map[string]string{}
		_, updated, err := db.ResealSecrets(ctx, 10, func(s relay.SealedSecret) ([]byte, error) {
			owners[s.Owner] = string(s.Sealed)
			return append([]byte("new-"), s.Sealed...), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if owners[store.JiraSystemTokenOwner("ari:inst-1")] != "sealed-system" || owners[store.JiraRefreshTokenOwner("ari:inst-1", "acc-1")] != "sealed-refresh" || updated < 2 {
			t.Fatalf("rotation saw %v (updated %d)", owners, updated)
		}
		g, err := db.JiraGrant(ctx, "ari:inst-1", "acc-1")
		if err != nil || string(g.Sealed) != "new-sealed-refresh" {
			t.Fatalf("refresh token after rotation: %q %v", g.Sealed, err)
		}
	})
}

// Every table holding tenant rows is either removed with a disconnected
// Jira site or kept as its history: a table added later without a decision
// fails here instead of keeping a removed site's data (or credentials).
func TestEveryTenantTableIsRemovedOrKeptWithAJiraSite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tables, err := store.TablesWithTenants(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		if len(tables) == 0 {
			t.Fatal("found no table with a tenant_id column")
		}
		decided := map[string]int{}
		for _, name := range append(slices.Clone(store.JiraTenantTables), store.JiraTenantHistory...) {
			decided[name]++
		}
		for _, name := range tables {
			if decided[name] != 1 {
				t.Errorf("table %s has tenant rows: list it in exactly one of jiraTenantTables (removed with a Jira site) or jiraTenantHistory (kept)", name)
			}
		}
	})
}
