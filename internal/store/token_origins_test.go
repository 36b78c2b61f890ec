package store_test

import (
	"context"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func dropFor(reason string) relay.TokenDrop {
	return relay.TokenDrop{Reason: reason, Event: relay.AuditEvent{Action: relay.ActionTokenDropped,
		Outcome: relay.OutcomeSuccess, At: t0, Detail: "alice moved the integration"}}
}

// Moving an integration to another host deletes every user's token for it
// in the same transaction as the update, with one token.dropped audit row
// per token naming its user, and keeps the reason for each user until they
// save a new token.
func TestMoveIntegrationDropsEveryTokenInTheSameTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createIntegration(t, db, newIntegration("t1", "i1"))
		createIntegration(t, db, newIntegration("t1", "i2"))
		createUser(t, db, "t1", "u-bob", "bob")
		putToken(t, db, newToken("t1", "u-bob", "i1"))
		putToken(t, db, newToken("t1", "acc-carol", "i1")) // a user with no directory entry (Jira)
		putToken(t, db, newToken("t1", "u-bob", "i2"))

		t.Run("a failed update drops nothing", func(t *testing.T) {
			in := newIntegration("t1", "i1")
			e := auditFor(relay.ActionIntegrationUpdate)
			e.TenantID = "t2" // fails the write
			if _, err := db.MoveIntegration(ctx, in, []byte("new"), e, dropFor("moved")); err == nil {
				t.Fatal("got nil error, want one")
			}
			if _, err := db.UserToken(ctx, "t1", "u-bob", "i1"); err != nil {
				t.Fatalf("bob's token after a failed move: %v", err)
			}
			if n, err := db.TokenNotices(ctx, "t1", "u-bob"); err != nil || len(n) != 0 {
				t.Fatalf("notices after a failed move: %v %v", n, err)
			}
		})

		t.Run("a move drops every token of the integration", func(t *testing.T) {
			in := newIntegration("t1", "i1")
			in.BaseURL = "https://other.example.com"
			n, err := db.MoveIntegration(ctx, in, []byte("new"), auditFor(relay.ActionIntegrationUpdate), dropFor("The integration now points at another server."))
			must(t, err)
			if n != 2 {
				t.Fatalf("dropped %d tokens, want 2", n)
			}
			for _, user := range []string{"u-bob", "acc-carol"} {
				_, err := db.UserToken(ctx, "t1", user, "i1")
				wantCode(t, err, relay.ENotFound, "")
			}
			if _, err := db.UserToken(ctx, "t1", "u-bob", "i2"); err != nil {
				t.Fatalf("bob's token for another integration: %v", err)
			}
			got, err := db.Integration(ctx, "t1", "i1")
			must(t, err)
			if got.BaseURL != in.BaseURL {
				t.Fatalf("base URL = %q, want %q", got.BaseURL, in.BaseURL)
			}
			events, err := db.Audit(ctx, "t1", relay.AuditFilter{Action: relay.ActionTokenDropped})
			must(t, err)
			users := map[string]string{}
			for _, e := range events {
				if e.IntegrationID != "i1" || e.Via != relay.ViaUserToken || e.Detail != "alice moved the integration" {
					t.Errorf("audit event %+v", e)
				}
				users[e.UserID] = e.Username + " as " + e.Login
			}
			wantEqual(t, "dropped tokens' users", users, map[string]string{
				"u-bob": "bob as u-bob-gh", "acc-carol": "acc-carol as acc-carol-gh"})
			notices, err := db.TokenNotices(ctx, "t1", "u-bob")
			must(t, err)
			if len(notices) != 1 || notices[0].IntegrationID != "i1" || notices[0].Reason != "The integration now points at another server." || !notices[0].At.Equal(t0) {
				t.Fatalf("bob's notices: %+v", notices)
			}
		})

		t.Run("saving a new token clears the notice", func(t *testing.T) {
			putToken(t, db, newToken("t1", "u-bob", "i1"))
			if n, err := db.TokenNotices(ctx, "t1", "u-bob"); err != nil || len(n) != 0 {
				t.Fatalf("notices after saving: %v %v", n, err)
			}
			if n, err := db.TokenNotices(ctx, "t1", "acc-carol"); err != nil || len(n) != 1 {
				t.Fatalf("carol's notices: %v %v", n, err)
			}
		})

		t.Run("deleting the integration deletes its notices", func(t *testing.T) {
			must(t, db.DeleteIntegration(ctx, "t1", "i1", auditFor(relay.ActionIntegrationDelete)))
			if n, err := db.TokenNotices(ctx, "t1", "acc-carol"); err != nil || len(n) != 0 {
				t.Fatalf("carol's notices: %v %v", n, err)
			}
		})
	})
}

// Tokens saved before tokens were bound to origins read back unbound; they
// are listed with their integration's last change, and bound or dropped
// only while unchanged.
func TestUnboundTokensAreBoundOrDropped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := newIntegration("t1", "i1")
		in.UpdatedAt = at(5)
		createIntegration(t, db, in)
		createUser(t, db, "t1", "u-bob", "bob")
		for _, user := range []string{"u-alice", "u-bob", "u-carol"} {
			tok := newToken("t1", user, "i1")
			tok.Origin = ""
			putToken(t, db, tok)
		}
		putToken(t, db, newToken("t1", "u-dave", "i1")) // bound already

		list, err := db.UnboundUserTokens(ctx, nil, 2)
		must(t, err)
		if len(list) != 2 || list[0].UserID != "u-alice" || list[1].UserID != "u-bob" || !list[0].IntegrationUpdatedAt.Equal(at(5)) {
			t.Fatalf("first page: %+v", list)
		}
		rest, err := db.UnboundUserTokens(ctx, &list[1].UserToken, 2)
		must(t, err)
		if len(rest) != 1 || rest[0].UserID != "u-carol" {
			t.Fatalf("second page: %+v", rest)
		}

		alice := list[0].UserToken
		bound := alice
		bound.Origin, bound.Sealed = "https://ghe.example.com/api/v3", []byte("sealed for the origin")
		if ok, err := db.BindUserToken(ctx, bound, []byte("another sealed value")); err != nil || ok {
			t.Fatalf("binding a token that changed meanwhile: %v %v", ok, err)
		}
		if ok, err := db.BindUserToken(ctx, bound, alice.Sealed); err != nil || !ok {
			t.Fatalf("binding: %v %v", ok, err)
		}
		got, err := db.UserToken(ctx, "t1", "u-alice", "i1")
		must(t, err)
		if got.Origin != bound.Origin || string(got.Sealed) != string(bound.Sealed) {
			t.Fatalf("bound token: %+v", got)
		}

		bob := list[1].UserToken
		e := relay.AuditEvent{Action: relay.ActionTokenDropped, Outcome: relay.OutcomeSuccess, At: t0, Detail: "unknown origin"}
		if ok, err := db.DropUnboundUserToken(ctx, bob, bob.Sealed, "Save it again.", e); err != nil || !ok {
			t.Fatalf("dropping: %v %v", ok, err)
		}
		_, err = db.UserToken(ctx, "t1", "u-bob", "i1")
		wantCode(t, err, relay.ENotFound, "")
		notices, err := db.TokenNotices(ctx, "t1", "u-bob")
		must(t, err)
		if len(notices) != 1 || notices[0].Reason != "Save it again." {
			t.Fatalf("bob's notices: %+v", notices)
		}
		events, err := db.Audit(ctx, "t1", relay.AuditFilter{Action: relay.ActionTokenDropped})
		must(t, err)
		if len(events) != 1 || events[0].Username != "bob" || events[0].UserID != "u-bob" || events[0].Login != "u-bob-gh" {
			t.Fatalf("audit: %+v", events)
		}

		list, err = db.UnboundUserTokens(ctx, nil, 10)
		must(t, err)
		if len(list) != 1 || list[0].UserID != "u-carol" {
			t.Fatalf("unbound after binding and dropping: %+v", list)
		}
	})
}

// Tokens saved by the release before 0006 read back unbound (an empty
// origin), sealed as they were.
func TestMigrationTokenOriginsLeavesExistingTokensUnbound(t *testing.T) {
	for dialect, cfg := range emptyConfigs(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, cfg(t))
			must(t, err)
			defer db.Close()
			must(t, store.MigrateBefore(ctx, db, "0006_token_origins"))
			must(t, store.ExecRaw(ctx, db, `INSERT INTO integrations (tenant_id, id, kind, name, base_url, options,
				enabled, require_user_pat, projects, account_login, account_name, account_scopes, account_expires_at,
				credential_sealed, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				"t1", "i1", "github", "Old GitHub", "", "{}", true, false, nil, "relay-bot", "Relay Bot",
				`["repo"]`, nil, []byte("sealed"), t0.UnixMicro(), t0.UnixMicro()))
			must(t, store.ExecRaw(ctx, db, `INSERT INTO user_tokens (tenant_id, user_id, integration_id, account_login,
				account_name, account_scopes, account_expires_at, status, validated_at, updated_at, token_sealed)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				"t1", "u-bob", "i1", "bob-gh", "Bob", nil, nil, "valid", t0.UnixMicro(), t0.UnixMicro(), []byte("old sealed")))
			_, err = db.Migrate(ctx)
			must(t, err)
			tok, err := db.UserToken(ctx, "t1", "u-bob", "i1")
			must(t, err)
			if tok.Origin != "" || string(tok.Sealed) != "old sealed" {
				t.Fatalf("token after the migration: %+v", tok)
			}
			list, err := db.UnboundUserTokens(ctx, nil, 10)
			must(t, err)
			if len(list) != 1 || list[0].UserID != "u-bob" {
				t.Fatalf("unbound tokens: %+v", list)
			}
		})
	}
}
