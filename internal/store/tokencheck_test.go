package store_test

import (
	"context"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// tokenCheckFixture is a user with an API token (hash "hash-alice",
// expiring at(60)) and View Development Tools on project ABC, and an
// integration with the user's saved token.
func tokenCheckFixture(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	createUser(t, db, "t1", "alice", "alice")
	createUser(t, db, "t1", "bob", "bob")
	must(t, db.CreateAPIToken(ctx, relay.APIToken{ID: "k1", TenantID: "t1", UserID: "alice", Name: "ci",
		Hash: []byte("hash-alice"), CreatedAt: t0, ExpiresAt: at(60)}, relay.AuditEvent{Action: relay.ActionAPITokenCreate, Outcome: relay.OutcomeSuccess}))
	must(t, db.CreateProject(ctx, relay.Project{TenantID: "t1", Key: "ABC", Name: "ABC"}))
	must(t, db.CreateProject(ctx, relay.Project{TenantID: "t1", Key: "XYZ", Name: "XYZ"}))
	must(t, db.PutGrant(ctx, relay.Grant{TenantID: "t1", ProjectKey: "ABC", UserID: "alice"}))
	createIntegration(t, db, newIntegration("t1", "i1"))
	putToken(t, db, newToken("t1", "alice", "i1"))
}

// checkFor is alice's token check for a request on project ABC at minute
// minute.
func checkFor(hash string, minute int) *relay.TokenCheck {
	return &relay.TokenCheck{Hash: []byte(hash), TenantID: "t1", UserID: "alice", Project: "ABC", Now: at(minute)}
}

// An action's prologue and the development panel make the request's API
// token check and read the grant on its project in their own statement:
// no round trip is added, and the grant is then answered without one.
func TestHotReadsMakeTheTokenCheckInTheirOwnStatement(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tokenCheckFixture(t, db)
		for _, tt := range []struct {
			name string
			read func(ctx context.Context) error
		}{
			{"action reads", func(ctx context.Context) error {
				got, err := db.ActionReads(ctx, "t1", "alice", "i1")
				if err == nil && (!got.Found || got.Token == nil) {
					t.Fatalf("action reads: found %v, token %v; want the integration and the user's token", got.Found, got.Token)
				}
				return err
			}},
			{"panel reads", func(ctx context.Context) error {
				got, err := db.PanelReads(ctx, "t1", "alice", "ABC-1")
				if err == nil && (len(got.Integrations) != 1 || len(got.Tokens) != 1) {
					t.Fatalf("panel reads: %d integrations, %d tokens; want 1 and 1", len(got.Integrations), len(got.Tokens))
				}
				return err
			}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				check := checkFor("hash-alice", 1)
				ctx := relay.WithTokenCheck(context.Background(), check)
				// Warm what is kept (the panel's integrations) first.
				must(t, tt.read(context.Background()))
				before := db.RoundTrips()
				must(t, tt.read(ctx))
				afterRead := db.RoundTrips()
				if check.Pending() {
					t.Fatal("the check is still pending after the read")
				}
				granted, err := db.HasGrant(ctx, "t1", "ABC", "alice")
				must(t, err)
				if !granted {
					t.Fatal("HasGrant(ABC) = false, want true")
				}
				if got := db.RoundTrips() - afterRead; got != 0 {
					t.Fatalf("HasGrant on the checked project took %d round trips, want 0", got)
				}
				// Another project's grant is read from the database.
				granted, err = db.HasGrant(ctx, "t1", "XYZ", "alice")
				must(t, err)
				if granted {
					t.Fatal("HasGrant(XYZ) = true, want false")
				}
				noCheck := db.RoundTrips()
				must(t, tt.read(context.Background()))
				if with, without := afterRead-before, db.RoundTrips()-noCheck; with != without {
					t.Fatalf("the read took %d round trips with the check, %d without; want the same", with, without)
				}
			})
		}
	})
}

// A request whose token was revoked, has expired or is another user's is
// refused by its first statement, whichever it is, and by every one after
// it: nothing is read or written for it.
func TestRequestsWhoseTokenFailsTheCheckAreRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tokenCheckFixture(t, db)
		ctx := context.Background()
		reads := map[string]func(ctx context.Context) error{
			"action reads": func(ctx context.Context) error {
				_, err := db.ActionReads(ctx, "t1", "alice", "i1")
				return err
			},
			"action reads of a missing integration": func(ctx context.Context) error {
				_, err := db.ActionReads(ctx, "t1", "alice", "nope")
				return err
			},
			"panel reads": func(ctx context.Context) error {
				_, err := db.PanelReads(ctx, "t1", "alice", "ABC-1")
				return err
			},
			"grant": func(ctx context.Context) error {
				_, err := db.HasGrant(ctx, "t1", "ABC", "alice")
				return err
			},
			"settings": func(ctx context.Context) error {
				_, err := db.Settings(ctx, "t1")
				return err
			},
			"audit row": func(ctx context.Context) error {
				return db.AppendAudit(ctx, relay.AuditEvent{ID: relay.NewID(), TenantID: "t1", Action: relay.ActionBranchCreate,
					UserID: "alice", Username: "alice", Outcome: relay.OutcomeRefused, At: t0})
			},
		}
		for _, bad := range []struct {
			name  string
			check func() *relay.TokenCheck
		}{
			{"expired", func() *relay.TokenCheck { return checkFor("hash-alice", 60) }},
			{"unknown", func() *relay.TokenCheck { return checkFor("hash-nobody", 1) }},
			{"another user's", func() *relay.TokenCheck {
				return &relay.TokenCheck{Hash: []byte("hash-alice"), TenantID: "t1", UserID: "bob", Project: "ABC", Now: at(1)}
			}},
		} {
			for name, read := range reads {
				t.Run(bad.name+"/"+name, func(t *testing.T) {
					audits := auditCount(t, db, "t1")
					rctx := relay.WithTokenCheck(ctx, bad.check())
					wantCode(t, read(rctx), relay.EUnauthenticated, relay.MsgAPITokenInvalid)
					// Every later statement of the request is refused too.
					for later, again := range reads {
						if err := again(rctx); relay.ErrorCode(err) != relay.EUnauthenticated {
							t.Fatalf("%s after the failed check: got %v, want unauthenticated", later, err)
						}
					}
					if got := auditCount(t, db, "t1"); got != audits {
						t.Fatalf("%d audit rows written for the request, want 0", got-audits)
					}
				})
			}
		}

		// Revoked: the same token checks before its deletion, not after.
		must(t, reads["panel reads"](relay.WithTokenCheck(ctx, checkFor("hash-alice", 1))))
		must(t, db.DeleteAPIToken(ctx, "t1", "alice", "k1", relay.AuditEvent{Action: relay.ActionAPITokenRevoke, Outcome: relay.OutcomeSuccess}))
		wantCode(t, reads["panel reads"](relay.WithTokenCheck(ctx, checkFor("hash-alice", 1))), relay.EUnauthenticated, "")
		wantCode(t, reads["action reads"](relay.WithTokenCheck(ctx, checkFor("hash-alice", 1))), relay.EUnauthenticated, "")
	})
}
