package store_test

import (
	"context"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func TestUserTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createIntegration(t, db, newIntegration("t1", "i1"))
		createIntegration(t, db, newIntegration("t1", "i2"))

		t.Run("a user with no token is not found", func(t *testing.T) {
			_, err := db.UserToken(ctx, "t1", "alice", "i1")
			wantCode(t, err, relay.ENotFound, "no personal access token is saved for this integration")
		})

		t.Run("put then read returns every field", func(t *testing.T) {
			tok := newToken("t1", "alice", "i1")
			putToken(t, db, tok)
			got, err := db.UserToken(ctx, "t1", "alice", "i1")
			must(t, err)
			wantEqual(t, "token", got, tok)
		})

		t.Run("put again replaces the token", func(t *testing.T) {
			tok := newToken("t1", "alice", "i1")
			tok.Sealed = []byte("replacement")
			tok.Account = relay.Account{Login: "alice2"} // no scopes known, no expiry
			tok.Status = relay.TokenInsufficientScope
			tok.ValidatedAt = at(3)
			tok.UpdatedAt = at(3)
			putToken(t, db, tok)
			got, err := db.UserToken(ctx, "t1", "alice", "i1")
			must(t, err)
			wantEqual(t, "token", got, tok)
		})

		t.Run("put records its audit event", func(t *testing.T) {
			events, err := db.Audit(ctx, "t1", relay.AuditFilter{Action: relay.ActionTokenSave})
			must(t, err)
			if len(events) != 2 {
				t.Fatalf("got %d token.save events, want 2", len(events))
			}
		})

		t.Run("a token for an unknown integration is refused as not found", func(t *testing.T) {
			err := db.PutUserToken(ctx, newToken("t1", "alice", "nope"), auditFor(relay.ActionTokenSave))
			wantCode(t, err, relay.ENotFound, relay.MsgIntegrationNotFound)
		})

		t.Run("the user's tokens are listed by integration", func(t *testing.T) {
			putToken(t, db, newToken("t1", "alice", "i2"))
			putToken(t, db, newToken("t1", "bob", "i1"))
			list, err := db.UserTokens(ctx, "t1", "alice")
			must(t, err)
			var ids []string
			for _, tok := range list {
				if tok.UserID != "alice" {
					t.Fatalf("got a token of %q", tok.UserID)
				}
				ids = append(ids, tok.IntegrationID)
			}
			wantEqual(t, "integration ids", ids, []string{"i1", "i2"})
			none, err := db.UserTokens(ctx, "t1", "carol")
			must(t, err)
			if none == nil || len(none) != 0 {
				t.Fatalf("got %#v, want an empty, non-nil list", none)
			}
		})

		t.Run("status is recorded with the time it was learnt", func(t *testing.T) {
			must(t, db.SetUserTokenStatus(ctx, "t1", "bob", "i1", relay.TokenRevoked, at(20)))
			got, err := db.UserToken(ctx, "t1", "bob", "i1")
			must(t, err)
			if got.Status != relay.TokenRevoked || !got.ValidatedAt.Equal(at(20)) {
				t.Fatalf("got status %q at %v, want %q at %v", got.Status, got.ValidatedAt, relay.TokenRevoked, at(20))
			}
		})

		t.Run("status of a missing token is not found", func(t *testing.T) {
			err := db.SetUserTokenStatus(ctx, "t1", "carol", "i1", relay.TokenValid, at(1))
			wantCode(t, err, relay.ENotFound, "")
		})

		t.Run("delete removes the token and records the event", func(t *testing.T) {
			before := auditCount(t, db, "t1")
			must(t, db.DeleteUserToken(ctx, "t1", "bob", "i1", auditFor(relay.ActionTokenRemove)))
			_, err := db.UserToken(ctx, "t1", "bob", "i1")
			wantCode(t, err, relay.ENotFound, "")
			if n := auditCount(t, db, "t1"); n != before+1 {
				t.Fatalf("got %d audit events, want %d", n, before+1)
			}
		})

		t.Run("delete of a missing token is not found", func(t *testing.T) {
			err := db.DeleteUserToken(ctx, "t1", "bob", "i1", auditFor(relay.ActionTokenRemove))
			wantCode(t, err, relay.ENotFound, "")
		})
	})
}
