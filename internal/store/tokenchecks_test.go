package store_test

import (
	"context"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func tokenKeys(toks []relay.UserToken) []string {
	out := []string{}
	for _, t := range toks {
		out = append(out, t.TenantID+"/"+t.UserID+"/"+t.IntegrationID)
	}
	return out
}

// The periodic check takes valid, bound tokens neither checked nor saved
// since the cut-off, the longest unchecked first, across tenants; a
// recorded check moves a token to the back, and a token saved again
// since it was read keeps its own save as its check.
func TestTokensAreDueForACheckLongestUncheckedFirst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, tenant := range []string{"t1", "t2"} {
			createUser(t, db, tenant, "alice", "alice")
			createUser(t, db, tenant, "bob", "bob")
			createIntegration(t, db, newIntegration(tenant, "i1"))
		}
		old := newToken("t2", "bob", "i1")
		old.UpdatedAt = at(-10)
		putToken(t, db, old)
		putToken(t, db, newToken("t1", "alice", "i1"))
		revoked := newToken("t1", "bob", "i1")
		revoked.Status = relay.TokenRevoked
		putToken(t, db, revoked)
		unbound := newToken("t2", "alice", "i1")
		unbound.Origin = ""
		putToken(t, db, unbound)

		due, err := db.DueTokenChecks(ctx, at(1), 10)
		must(t, err)
		wantEqual(t, "due at minute 1", tokenKeys(due), []string{"t2/bob/i1", "t1/alice/i1"})
		due, err = db.DueTokenChecks(ctx, at(1), 1)
		must(t, err)
		wantEqual(t, "due at minute 1, one at most", tokenKeys(due), []string{"t2/bob/i1"})
		due, err = db.DueTokenChecks(ctx, at(-10), 10)
		must(t, err)
		wantEqual(t, "due before the saves", tokenKeys(due), []string{})

		must(t, db.TokenChecked(ctx, due0(t, db), at(5)))
		due, err = db.DueTokenChecks(ctx, at(1), 10)
		must(t, err)
		wantEqual(t, "due at minute 1 after t2/bob was checked at 5", tokenKeys(due), []string{"t1/alice/i1"})

		// Read, then saved again: the check of the old value is not
		// recorded on the new one.
		stale := newToken("t1", "alice", "i1")
		resaved := stale
		resaved.Sealed, resaved.UpdatedAt = []byte("another sealed token"), at(2)
		putToken(t, db, resaved)
		must(t, db.TokenChecked(ctx, stale, at(30)))
		due, err = db.DueTokenChecks(ctx, at(3), 10)
		must(t, err)
		wantEqual(t, "due at minute 3 after alice saved again at 2", tokenKeys(due), []string{"t1/alice/i1"})
	})
}

// due0 is the first token due at minute 1.
func due0(t *testing.T, db *store.DB) relay.UserToken {
	t.Helper()
	due, err := db.DueTokenChecks(context.Background(), at(1), 1)
	must(t, err)
	if len(due) != 1 {
		t.Fatalf("due at minute 1: got %d, want 1", len(due))
	}
	return due[0]
}

// A token the check found refused is marked and audited in one
// transaction, naming its user; a token saved again since it was read, or
// no longer valid, is left alone and nothing is audited.
func TestACheckedTokenIsMarkedAndAuditedOnlyIfUnchanged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createUser(t, db, "t1", "alice", "alice")
		createIntegration(t, db, newIntegration("t1", "i1"))
		tok := newToken("t1", "alice", "i1")
		putToken(t, db, tok)
		ev := relay.AuditEvent{ID: "ev1", TenantID: "t1", At: at(10), Action: relay.ActionTokenChecked,
			Via: relay.ViaUserToken, Outcome: relay.OutcomeSuccess, Detail: "refused"}

		stale := tok
		stale.Sealed = []byte("what was read before a new save")
		marked, err := db.MarkCheckedToken(ctx, stale, relay.TokenRevoked, at(10), ev)
		must(t, err)
		if marked {
			t.Fatal("a token saved again since it was read was marked")
		}
		marked, err = db.MarkCheckedToken(ctx, tok, relay.TokenRevoked, at(10), ev)
		must(t, err)
		if !marked {
			t.Fatal("the token as read was not marked")
		}
		got, err := db.UserToken(ctx, "t1", "alice", "i1")
		must(t, err)
		if got.Status != relay.TokenRevoked || !got.ValidatedAt.Equal(at(10)) {
			t.Fatalf("marked token: status %q validated %v, want revoked at %v", got.Status, got.ValidatedAt, at(10))
		}
		ev.ID = "ev2"
		marked, err = db.MarkCheckedToken(ctx, tok, relay.TokenInsufficientScope, at(11), ev)
		must(t, err)
		if marked {
			t.Fatal("a token no longer valid was marked again")
		}
		events, err := db.Audit(ctx, "t1", relay.AuditFilter{Action: relay.ActionTokenChecked})
		must(t, err)
		if len(events) != 1 || events[0].UserID != "alice" || events[0].Username != "alice" || events[0].IntegrationID != "i1" {
			t.Fatalf("token.checked events: got %+v, want one naming alice and i1", events)
		}
	})
}

// The background refresh takes the cached lists of enabled integrations
// read before the cut-off, the oldest first; lists never read and
// disabled integrations are left alone.
func TestRepositoryListsDueAreTheOldestOfEnabledIntegrations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, id := range []string{"i1", "i2", "i3", "off"} {
			in := newIntegration("t1", id)
			in.Enabled = id != "off"
			createIntegration(t, db, in)
		}
		repos := []relay.Repository{{ID: "1", Name: "widgets", FullName: "acme/widgets", DefaultBranch: "main"}}
		must(t, db.ReplaceRepositories(ctx, "t1", "i1", repos, at(3)))
		must(t, db.ReplaceRepositories(ctx, "t1", "i2", repos, at(1)))
		must(t, db.ReplaceRepositories(ctx, "t1", "off", repos, at(0)))
		due, err := db.RepositoryListsDue(ctx, at(5), 10)
		must(t, err)
		var got []string
		for _, l := range due {
			got = append(got, l.IntegrationID)
		}
		wantEqual(t, "lists due at minute 5", got, []string{"i2", "i1"})
		due, err = db.RepositoryListsDue(ctx, at(2), 10)
		must(t, err)
		if len(due) != 1 || due[0].IntegrationID != "i2" || !due[0].SyncedAt.Equal(at(1)) {
			t.Fatalf("lists due at minute 2: got %+v, want i2 read at %v", due, at(1))
		}
	})
}
