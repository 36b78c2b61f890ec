package store_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func TestTenants(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t.Run("ensuring a tenant twice, renamed, is no error", func(t *testing.T) {
			must(t, db.EnsureTenant(ctx, relay.LocalTenant, "Local"))
			must(t, db.EnsureTenant(ctx, relay.LocalTenant, "Local, renamed"))
		})
	})
}

func TestUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		alice := relay.User{ID: "u1", TenantID: "t1", Username: "alice", DisplayName: "Alice", Email: "alice@example.com", Admin: true, CreatedAt: t0}
		must(t, db.CreateUser(ctx, alice, "hash-a"))
		bob := createUser(t, db, "t1", "u2", "bob")

		t.Run("read by id and by username", func(t *testing.T) {
			got, err := db.User(ctx, "t1", "u1")
			must(t, err)
			wantEqual(t, "by id", got, alice)
			got, err = db.UserByUsername(ctx, "t1", "alice")
			must(t, err)
			wantEqual(t, "by username", got, alice)
		})

		t.Run("unknown users are not found", func(t *testing.T) {
			_, err := db.User(ctx, "t1", "nope")
			wantCode(t, err, relay.ENotFound, "user not found")
			_, err = db.UserByUsername(ctx, "t1", "nope")
			wantCode(t, err, relay.ENotFound, "user not found")
			// Usernames are normalised by callers and compared exactly.
			_, err = db.UserByUsername(ctx, "t1", "Alice")
			wantCode(t, err, relay.ENotFound, "")
			_, err = db.PasswordHash(ctx, "t1", "nope")
			wantCode(t, err, relay.ENotFound, "")
		})

		t.Run("a taken username is a conflict on create and on update", func(t *testing.T) {
			dup := alice
			dup.ID = "u3"
			wantCode(t, db.CreateUser(ctx, dup, ""), relay.EConflict, "this username is already taken")
			renamed := bob
			renamed.Username = "alice"
			wantCode(t, db.UpdateUser(ctx, renamed), relay.EConflict, "")
		})

		t.Run("the same username in another tenant is fine", func(t *testing.T) {
			createUser(t, db, "t2", "u1", "alice")
		})

		t.Run("update replaces the profile", func(t *testing.T) {
			b := bob
			b.Username, b.DisplayName, b.Email, b.Admin = "robert", "Robert", "rob@example.com", true
			must(t, db.UpdateUser(ctx, b))
			got, err := db.User(ctx, "t1", "u2")
			must(t, err)
			wantEqual(t, "user", got, b)
			bob = b
		})

		t.Run("update and password of an unknown user are not found", func(t *testing.T) {
			wantCode(t, db.UpdateUser(ctx, relay.User{TenantID: "t1", ID: "nope", Username: "x"}), relay.ENotFound, "")
			wantCode(t, db.SetPassword(ctx, "t1", "nope", "h"), relay.ENotFound, "")
		})

		t.Run("password hashes are stored as given", func(t *testing.T) {
			got, err := db.PasswordHash(ctx, "t1", "u1")
			must(t, err)
			if got != "hash-a" {
				t.Fatalf("got %q, want %q", got, "hash-a")
			}
			must(t, db.SetPassword(ctx, "t1", "u1", "hash-b"))
			got, err = db.PasswordHash(ctx, "t1", "u1")
			must(t, err)
			if got != "hash-b" {
				t.Fatalf("got %q, want %q", got, "hash-b")
			}
		})

		t.Run("users are listed by username and counted", func(t *testing.T) {
			list, err := db.Users(ctx, "t1")
			must(t, err)
			wantEqual(t, "users", list, []relay.User{alice, bob})
			n, err := db.CountUsers(ctx, "t1")
			must(t, err)
			if n != 2 {
				t.Fatalf("got %d users, want 2", n)
			}
			n, err = db.CountUsers(ctx, "t-none")
			must(t, err)
			if n != 0 {
				t.Fatalf("got %d users, want 0", n)
			}
		})
	})
}

func TestDeleteUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createUser(t, db, "t1", "u1", "alice")
		createUser(t, db, "t1", "u2", "bob")
		createIntegration(t, db, newIntegration("t1", "i1"))
		putToken(t, db, newToken("t1", "u1", "i1"))
		putToken(t, db, newToken("t1", "u2", "i1"))
		hash := sha256.Sum256([]byte("alice's api token"))
		must(t, db.CreateAPIToken(ctx, relay.APIToken{ID: "a1", TenantID: "t1", UserID: "u1", Name: "ci", Hash: hash[:], CreatedAt: t0}, relay.AuditEvent{Action: relay.ActionAPITokenCreate, Outcome: relay.OutcomeSuccess}))
		must(t, db.CreateProject(ctx, relay.Project{TenantID: "t1", Key: "ABC", Name: "Abc"}))
		must(t, db.PutGrant(ctx, relay.Grant{TenantID: "t1", ProjectKey: "ABC", UserID: "u1"}))
		must(t, db.PutGrant(ctx, relay.Grant{TenantID: "t1", ProjectKey: "ABC", UserID: "u2"}))

		must(t, db.DeleteUser(ctx, "t1", "u1"))

		t.Run("the user is gone", func(t *testing.T) {
			_, err := db.User(ctx, "t1", "u1")
			wantCode(t, err, relay.ENotFound, "")
		})
		t.Run("their PATs are gone, others' stay", func(t *testing.T) {
			_, err := db.UserToken(ctx, "t1", "u1", "i1")
			wantCode(t, err, relay.ENotFound, "")
			_, err = db.UserToken(ctx, "t1", "u2", "i1")
			must(t, err)
		})
		t.Run("their API tokens are gone", func(t *testing.T) {
			_, _, err := db.APITokenUser(ctx, hash[:])
			wantCode(t, err, relay.ENotFound, "")
		})
		t.Run("their grants are gone, others' stay", func(t *testing.T) {
			grants, err := db.Grants(ctx, "t1")
			must(t, err)
			wantEqual(t, "grants", grants, []relay.Grant{{TenantID: "t1", ProjectKey: "ABC", UserID: "u2", Username: "bob"}})
		})
		t.Run("deleting again is not found", func(t *testing.T) {
			wantCode(t, db.DeleteUser(ctx, "t1", "u1"), relay.ENotFound, "user not found")
		})
	})
}

func TestAPITokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		alice := createUser(t, db, "t1", "u1", "alice")
		hash := sha256.Sum256([]byte("token-1"))
		must(t, db.CreateAPIToken(ctx, relay.APIToken{ID: "a1", TenantID: "t1", UserID: "u1", Name: "ci", Hash: hash[:]}, relay.AuditEvent{Action: relay.ActionAPITokenCreate, Outcome: relay.OutcomeSuccess}))

		t.Run("the hash finds its user", func(t *testing.T) {
			got, tok, err := db.APITokenUser(ctx, hash[:])
			must(t, err)
			wantEqual(t, "user", got, alice)
			if tok.ID != "a1" || tok.Name != "ci" || tok.Hash != nil || !tok.ExpiresAt.IsZero() {
				t.Fatalf("token: got %+v", tok)
			}
		})
		t.Run("an unknown hash is not found", func(t *testing.T) {
			other := sha256.Sum256([]byte("token-2"))
			_, _, err := db.APITokenUser(ctx, other[:])
			wantCode(t, err, relay.ENotFound, "API token not found")
		})
		t.Run("a stored hash is a conflict, even in another tenant", func(t *testing.T) {
			createUser(t, db, "t2", "u9", "zed")
			err := db.CreateAPIToken(ctx, relay.APIToken{ID: "a2", TenantID: "t2", UserID: "u9", Name: "x", Hash: hash[:]}, relay.AuditEvent{Action: relay.ActionAPITokenCreate, Outcome: relay.OutcomeSuccess})
			wantCode(t, err, relay.EConflict, "")
		})
		t.Run("a token for an unknown user is not found", func(t *testing.T) {
			h := sha256.Sum256([]byte("token-3"))
			err := db.CreateAPIToken(ctx, relay.APIToken{ID: "a3", TenantID: "t1", UserID: "nope", Name: "x", Hash: h[:]}, relay.AuditEvent{Action: relay.ActionAPITokenCreate, Outcome: relay.OutcomeSuccess})
			wantCode(t, err, relay.ENotFound, "user not found")
		})
		t.Run("a token of a user of another tenant is not found", func(t *testing.T) {
			h := sha256.Sum256([]byte("token-4"))
			err := db.CreateAPIToken(ctx, relay.APIToken{ID: "a4", TenantID: "t2", UserID: "u1", Name: "x", Hash: h[:]}, relay.AuditEvent{Action: relay.ActionAPITokenCreate, Outcome: relay.OutcomeSuccess})
			wantCode(t, err, relay.ENotFound, "user not found")
		})
	})
}

func TestAPITokensAreListedTouchedAndRevoked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createUser(t, db, "t1", "u1", "alice")
		createUser(t, db, "t1", "u2", "bob")
		h1, h2, h3 := sha256.Sum256([]byte("t-1")), sha256.Sum256([]byte("t-2")), sha256.Sum256([]byte("t-3"))
		must(t, db.CreateAPIToken(ctx, relay.APIToken{ID: "a1", TenantID: "t1", UserID: "u1", Name: "ci", Hash: h1[:], CreatedAt: at(1)}, relay.AuditEvent{Action: relay.ActionAPITokenCreate, Outcome: relay.OutcomeSuccess}))
		must(t, db.CreateAPIToken(ctx, relay.APIToken{ID: "a2", TenantID: "t1", UserID: "u1", Name: "deploy", Hash: h2[:],
			CreatedAt: at(2), ExpiresAt: at(60 * 24)}, relay.AuditEvent{Action: relay.ActionAPITokenCreate, Outcome: relay.OutcomeSuccess}))
		must(t, db.CreateAPIToken(ctx, relay.APIToken{ID: "b1", TenantID: "t1", UserID: "u2", Name: "bob's", Hash: h3[:], CreatedAt: at(3)}, relay.AuditEvent{Action: relay.ActionAPITokenCreate, Outcome: relay.OutcomeSuccess}))

		t.Run("a user's tokens are listed oldest first, without hashes", func(t *testing.T) {
			got, err := db.APITokens(ctx, "t1", "u1")
			must(t, err)
			wantEqual(t, "tokens", got, []relay.APIToken{
				{ID: "a1", TenantID: "t1", UserID: "u1", Name: "ci", CreatedAt: at(1)},
				{ID: "a2", TenantID: "t1", UserID: "u1", Name: "deploy", CreatedAt: at(2), ExpiresAt: at(60 * 24)},
			})
		})
		t.Run("the expiry is read with the token", func(t *testing.T) {
			_, tok, err := db.APITokenUser(ctx, h2[:])
			must(t, err)
			if !tok.ExpiresAt.Equal(at(60 * 24)) {
				t.Fatalf("expires: got %v", tok.ExpiresAt)
			}
		})
		t.Run("last use is written at most once per interval", func(t *testing.T) {
			must(t, db.TouchAPIToken(ctx, "t1", "a1", at(10), time.Minute))
			must(t, db.TouchAPIToken(ctx, "t1", "a1", at(10).Add(30*time.Second), time.Minute))
			_, tok, err := db.APITokenUser(ctx, h1[:])
			must(t, err)
			if !tok.LastUsedAt.Equal(at(10)) {
				t.Fatalf("last used after a touch within the minute: got %v, want %v", tok.LastUsedAt, at(10))
			}
			must(t, db.TouchAPIToken(ctx, "t1", "a1", at(11), time.Minute))
			_, tok, err = db.APITokenUser(ctx, h1[:])
			must(t, err)
			if !tok.LastUsedAt.Equal(at(11)) {
				t.Fatalf("last used a minute later: got %v, want %v", tok.LastUsedAt, at(11))
			}
		})
		t.Run("a token is revoked only by its own user", func(t *testing.T) {
			wantCode(t, db.DeleteAPIToken(ctx, "t1", "u2", "a1", relay.AuditEvent{Action: relay.ActionAPITokenRevoke, Outcome: relay.OutcomeSuccess}), relay.ENotFound, "API token not found")
			must(t, db.DeleteAPIToken(ctx, "t1", "u1", "a1", relay.AuditEvent{Action: relay.ActionAPITokenRevoke, Outcome: relay.OutcomeSuccess}))
			_, _, err := db.APITokenUser(ctx, h1[:])
			wantCode(t, err, relay.ENotFound, "")
			wantCode(t, db.DeleteAPIToken(ctx, "t1", "u1", "a1", relay.AuditEvent{Action: relay.ActionAPITokenRevoke, Outcome: relay.OutcomeSuccess}), relay.ENotFound, "")
			if _, _, err := db.APITokenUser(ctx, h3[:]); err != nil {
				t.Fatalf("bob's token after alice's revocation: %v", err)
			}
		})
	})
}

func TestProjectsAndGrants(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createUser(t, db, "t1", "u1", "alice")
		createUser(t, db, "t1", "u2", "bob")
		for _, p := range []relay.Project{{TenantID: "t1", Key: "XYZ", Name: "Xyz"}, {TenantID: "t1", Key: "ABC", Name: "Abc"}, {TenantID: "t1", Key: "OPS", Name: "Ops"}} {
			must(t, db.CreateProject(ctx, p))
		}

		t.Run("a taken key is a conflict", func(t *testing.T) {
			err := db.CreateProject(ctx, relay.Project{TenantID: "t1", Key: "ABC", Name: "Again"})
			wantCode(t, err, relay.EConflict, "a project with this key already exists")
		})
		t.Run("projects are listed by key", func(t *testing.T) {
			got, err := db.Projects(ctx, "t1")
			must(t, err)
			wantEqual(t, "projects", got, []relay.Project{
				{TenantID: "t1", Key: "ABC", Name: "Abc"},
				{TenantID: "t1", Key: "OPS", Name: "Ops"},
				{TenantID: "t1", Key: "XYZ", Name: "Xyz"},
			})
		})

		must(t, db.PutGrant(ctx, relay.Grant{TenantID: "t1", ProjectKey: "ABC", UserID: "u1"}))
		must(t, db.PutGrant(ctx, relay.Grant{TenantID: "t1", ProjectKey: "OPS"})) // everyone

		t.Run("granting twice is not an error", func(t *testing.T) {
			must(t, db.PutGrant(ctx, relay.Grant{TenantID: "t1", ProjectKey: "ABC", UserID: "u1"}))
			must(t, db.PutGrant(ctx, relay.Grant{TenantID: "t1", ProjectKey: "OPS"}))
		})
		t.Run("grants on unknown projects or to unknown users are not found", func(t *testing.T) {
			wantCode(t, db.PutGrant(ctx, relay.Grant{TenantID: "t1", ProjectKey: "NOPE", UserID: "u1"}), relay.ENotFound, "project not found")
			wantCode(t, db.PutGrant(ctx, relay.Grant{TenantID: "t1", ProjectKey: "ABC", UserID: "nope"}), relay.ENotFound, "user not found")
		})
		t.Run("grants list with usernames, everyone has none", func(t *testing.T) {
			got, err := db.Grants(ctx, "t1")
			must(t, err)
			wantEqual(t, "grants", got, []relay.Grant{
				{TenantID: "t1", ProjectKey: "ABC", UserID: "u1", Username: "alice"},
				{TenantID: "t1", ProjectKey: "OPS"},
			})
		})

		hasGrant := []struct {
			name, project, user string
			want                bool
		}{
			{"the user's own grant", "ABC", "u1", true},
			{"someone else's grant does not count", "ABC", "u2", false},
			{"a grant to everyone counts for anyone", "OPS", "u2", true},
			{"no grant at all", "XYZ", "u1", false},
		}
		for _, tt := range hasGrant {
			t.Run("has grant: "+tt.name, func(t *testing.T) {
				got, err := db.HasGrant(ctx, "t1", tt.project, tt.user)
				must(t, err)
				if got != tt.want {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			})
		}

		t.Run("granted projects include everyone's grants", func(t *testing.T) {
			got, err := db.GrantedProjects(ctx, "t1", "u1")
			must(t, err)
			wantEqual(t, "u1", got, []string{"ABC", "OPS"})
			got, err = db.GrantedProjects(ctx, "t1", "u2")
			must(t, err)
			wantEqual(t, "u2", got, []string{"OPS"})
		})

		t.Run("deleting a grant, then deleting it again", func(t *testing.T) {
			g := relay.Grant{TenantID: "t1", ProjectKey: "ABC", UserID: "u1"}
			must(t, db.DeleteGrant(ctx, g))
			ok, err := db.HasGrant(ctx, "t1", "ABC", "u1")
			must(t, err)
			if ok {
				t.Fatal("the grant survived")
			}
			wantCode(t, db.DeleteGrant(ctx, g), relay.ENotFound, "grant not found")
		})

		t.Run("deleting a project deletes its grants", func(t *testing.T) {
			must(t, db.DeleteProject(ctx, "t1", "OPS"))
			got, err := db.GrantedProjects(ctx, "t1", "u2")
			must(t, err)
			if len(got) != 0 {
				t.Fatalf("got %v, want no projects", got)
			}
			wantCode(t, db.DeleteProject(ctx, "t1", "OPS"), relay.ENotFound, "project not found")
		})
	})
}
