package store_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func TestSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		live := store.Session{TokenHash: directory.HashToken("live"), TenantID: "t1", UserID: "alice",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		must(t, db.CreateSession(ctx, live))

		t.Run("a session is found by its token hash with every field", func(t *testing.T) {
			got, err := db.Session(ctx, directory.HashToken("live"))
			must(t, err)
			wantEqual(t, "session", got, live)
		})

		t.Run("an unknown token is not found", func(t *testing.T) {
			_, err := db.Session(ctx, directory.HashToken("unknown"))
			wantCode(t, err, relay.ENotFound, "session not found")
		})

		t.Run("an expired session is not found and is swept", func(t *testing.T) {
			must(t, db.CreateSession(ctx, store.Session{TokenHash: directory.HashToken("old"), TenantID: "t1",
				UserID: "alice", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}))
			_, err := db.Session(ctx, directory.HashToken("old"))
			wantCode(t, err, relay.ENotFound, "session not found")
			n, err := db.DeleteExpiredSessions(ctx)
			must(t, err)
			if n != 1 {
				t.Fatalf("swept %d sessions, want 1", n)
			}
			if _, err := db.Session(ctx, directory.HashToken("live")); err != nil {
				t.Fatalf("the live session was swept too: %v", err)
			}
		})

		t.Run("the same token hash twice is a conflict", func(t *testing.T) {
			err := db.CreateSession(ctx, live)
			wantCode(t, err, relay.EConflict, "")
		})

		t.Run("signing out deletes only that session, and twice is harmless", func(t *testing.T) {
			must(t, db.CreateSession(ctx, store.Session{TokenHash: directory.HashToken("other"), TenantID: "t1",
				UserID: "alice", ExpiresAt: now.Add(time.Hour)}))
			must(t, db.DeleteSession(ctx, directory.HashToken("other")))
			must(t, db.DeleteSession(ctx, directory.HashToken("other")))
			if _, err := db.Session(ctx, directory.HashToken("live")); err != nil {
				t.Fatalf("another session was deleted: %v", err)
			}
		})

		t.Run("signing a user out everywhere keeps the named session and other users'", func(t *testing.T) {
			for _, tok := range []string{"a1", "a2"} {
				must(t, db.CreateSession(ctx, store.Session{TokenHash: directory.HashToken(tok), TenantID: "t1",
					UserID: "alice", ExpiresAt: now.Add(time.Hour)}))
			}
			must(t, db.CreateSession(ctx, store.Session{TokenHash: directory.HashToken("b1"), TenantID: "t1",
				UserID: "bob", ExpiresAt: now.Add(time.Hour)}))
			must(t, db.CreateSession(ctx, store.Session{TokenHash: directory.HashToken("t2alice"), TenantID: "t2",
				UserID: "alice", ExpiresAt: now.Add(time.Hour)}))
			must(t, db.DeleteUserSessions(ctx, "t1", "alice", directory.HashToken("a1")))
			for tok, want := range map[string]bool{"a1": true, "a2": false, "live": false, "b1": true, "t2alice": true} {
				got, err := db.Session(ctx, directory.HashToken(tok))
				if exists := err == nil; exists != want {
					t.Errorf("session %s exists = %v, want %v (%v)", tok, exists, want, err)
				}
				if err == nil && !bytes.Equal(got.TokenHash, directory.HashToken(tok)) {
					t.Errorf("session %s read back another hash", tok)
				}
			}
			must(t, db.DeleteUserSessions(ctx, "t1", "alice", nil))
			if _, err := db.Session(ctx, directory.HashToken("a1")); relay.ErrorCode(err) != relay.ENotFound {
				t.Errorf("after signing out everywhere, a1 gave %v, want not found", err)
			}
		})
	})
}

func TestRepoDefaults(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()

		t.Run("no default is not found", func(t *testing.T) {
			_, err := db.RepoDefault(ctx, "t1", "alice", "ABC")
			wantCode(t, err, relay.ENotFound, "")
		})

		d := store.RepoDefault{TenantID: "t1", UserID: "alice", ProjectKey: "ABC", IntegrationID: "i1",
			RepositoryID: "42", RepositoryName: "acme/widgets", BaseBranch: "develop", UpdatedAt: at(1)}
		t.Run("put then read returns every field", func(t *testing.T) {
			must(t, db.PutRepoDefault(ctx, d))
			got, err := db.RepoDefault(ctx, "t1", "alice", "ABC")
			must(t, err)
			wantEqual(t, "default", got, d)
		})

		t.Run("put again replaces the default", func(t *testing.T) {
			d2 := d
			d2.RepositoryID, d2.RepositoryName, d2.BaseBranch, d2.UpdatedAt = "43", "acme/gadgets", "main", at(2)
			must(t, db.PutRepoDefault(ctx, d2))
			got, err := db.RepoDefault(ctx, "t1", "alice", "ABC")
			must(t, err)
			wantEqual(t, "default", got, d2)
		})

		t.Run("defaults are per user, per project and per tenant", func(t *testing.T) {
			for _, k := range [][3]string{{"t1", "bob", "ABC"}, {"t1", "alice", "XYZ"}, {"t2", "alice", "ABC"}} {
				if _, err := db.RepoDefault(ctx, k[0], k[1], k[2]); relay.ErrorCode(err) != relay.ENotFound {
					t.Errorf("%v: got %v, want not found", k, err)
				}
			}
		})
	})
}
