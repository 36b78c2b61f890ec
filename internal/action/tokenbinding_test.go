package action_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
	"github.com/gitrelay/gitrelay/internal/vault"
)

func mustKeys(t *testing.T) *vault.StaticKeys {
	t.Helper()
	k, err := vault.NewStaticKeys(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Tokens saved before tokens were bound to origins are bound at start-up
// when they were saved after their integration last changed (validated
// against its current host), and deleted with a notice otherwise; a token
// that does not open is left alone. A second run has nothing to do.
func TestBindUserTokensAtStartUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		keys := mustKeys(t)
		changed := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		host := &countingHost{}
		logs := &bytes.Buffer{}
		var logMu sync.Mutex
		svc := action.New(action.Config{Store: db, Hosts: host, Sealer: keys,
			Now:    func() time.Time { return changed.Add(time.Hour) },
			Logger: slog.New(slog.NewTextHandler(lockedWriter{&logMu, logs}, nil))})
		in := relay.Integration{ID: "i1", TenantID: "t1", Kind: "github-enterprise", BaseURL: "https://ghe.example.com",
			Name: "GHE", Enabled: true, CreatedAt: changed, UpdatedAt: changed}
		sealed, err := relay.SealCredential(keys, relay.TokenCredential("bot"), relay.IntegrationSecretOwner("t1", "i1"))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateIntegration(ctx, in, sealed, relay.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
		other := mustKeys(t)
		for _, u := range []struct {
			user  string
			saved time.Time
			keys  relay.Sealer
		}{
			{"u-alice", changed.Add(time.Minute), keys},  // saved after the last change: bound
			{"u-bob", changed.Add(-time.Minute), keys},   // saved before it: dropped
			{"u-carol", changed.Add(time.Minute), other}, // does not open: left alone
		} {
			s, err := relay.SealCredential(u.keys, relay.TokenCredential("pat-"+u.user), relay.UserTokenOwner("t1", u.user, "i1", ""))
			if err != nil {
				t.Fatal(err)
			}
			tok := relay.UserToken{TenantID: "t1", UserID: u.user, IntegrationID: "i1", Account: relay.Account{Login: u.user + "-gh"},
				Status: relay.TokenValid, ValidatedAt: u.saved, UpdatedAt: u.saved, Sealed: s}
			if err := db.PutUserToken(ctx, tok, relay.AuditEvent{}); err != nil {
				t.Fatal(err)
			}
		}

		bound, dropped, err := svc.BindUserTokens(ctx)
		if err != nil || bound != 1 || dropped != 1 {
			t.Fatalf("BindUserTokens = %d bound, %d dropped, %v; want 1, 1", bound, dropped, err)
		}
		origin := host.Origin(in.HostConfig())
		alice, err := db.UserToken(ctx, "t1", "u-alice", "i1")
		if err != nil || alice.Origin != origin {
			t.Fatalf("alice's token: %+v %v", alice, err)
		}
		if cred, err := relay.OpenCredential(keys, alice.Sealed, relay.UserTokenOwner("t1", "u-alice", "i1", origin)); err != nil || cred.Token() != "pat-u-alice" {
			t.Fatalf("alice's bound token does not open for its origin: %v", err)
		}
		if _, err := relay.OpenCredential(keys, alice.Sealed, relay.UserTokenOwner("t1", "u-alice", "i1", "")); err == nil {
			t.Fatal("alice's bound token still opens unbound")
		}
		if _, err := db.UserToken(ctx, "t1", "u-bob", "i1"); relay.ErrorCode(err) != relay.ENotFound {
			t.Fatalf("bob's token: %v, want deleted", err)
		}
		bobView, err := svc.MyToken(ctx, relay.Principal{TenantID: "t1", UserID: "u-bob", Admin: true}, "i1")
		if err != nil || bobView.Status != relay.TokenMissing || !strings.Contains(bobView.StatusReason, "save it again") {
			t.Fatalf("bob's view: %+v %v", bobView, err)
		}
		events, err := db.Audit(ctx, "t1", relay.AuditFilter{Action: relay.ActionTokenDropped})
		if err != nil || len(events) != 1 || events[0].UserID != "u-bob" || events[0].Login != "u-bob-gh" {
			t.Fatalf("audit: %+v %v", events, err)
		}
		carol, err := db.UserToken(ctx, "t1", "u-carol", "i1")
		if err != nil || carol.Origin != "" {
			t.Fatalf("carol's token: %+v %v", carol, err)
		}
		carolView, err := svc.MyToken(ctx, relay.Principal{TenantID: "t1", UserID: "u-carol", Admin: true}, "i1")
		if err != nil || carolView.Status != relay.TokenMissing || carolView.StatusReason == "" {
			t.Fatalf("carol's view: %+v %v", carolView, err)
		}
		if !strings.Contains(logs.String(), "does not open") {
			t.Errorf("the log does not mention carol's token: %s", logs)
		}

		if bound, dropped, err := svc.BindUserTokens(ctx); err != nil || bound != 0 || dropped != 0 {
			t.Fatalf("second run = %d, %d, %v; want nothing to do", bound, dropped, err)
		}
	})
}

// Changing the kind of host needs the credential again and drops every
// user's token, like a new base URL.
func TestChangingTheKindDropsTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newCacheEnv(t, db, nil, "acme/widgets")
		if err := db.PutUserToken(ctx, relay.UserToken{TenantID: "t1", UserID: "u-bob", IntegrationID: e.id, Status: relay.TokenValid,
			Origin: e.host.Origin(relay.HostConfig{Kind: "github"}), Sealed: []byte("sealed"), UpdatedAt: e.now}, relay.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
		gitea := relay.Kind("gitea")
		_, _, err := e.svc.UpdateIntegration(ctx, e.admin, e.id, action.IntegrationPatch{Kind: &gitea})
		if re, ok := relay.AsError(err); !ok || re.Code != relay.EInvalid || re.Fields["credential"] == "" {
			t.Fatalf("a kind change without the credential: %v, want invalid_request on credential", err)
		}
		if _, err := db.UserToken(ctx, "t1", "u-bob", e.id); err != nil {
			t.Fatalf("a refused change dropped bob's token: %v", err)
		}
		cred := relay.TokenCredential("gitea-bot")
		in, warnings, err := e.svc.UpdateIntegration(ctx, e.admin, e.id, action.IntegrationPatch{Kind: &gitea, Credential: &cred})
		if err != nil || in.Kind != gitea {
			t.Fatalf("kind change: %+v %v", in, err)
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0], "1 personal access tokens") {
			t.Fatalf("warnings = %q", warnings)
		}
		if _, err := db.UserToken(ctx, "t1", "u-bob", e.id); relay.ErrorCode(err) != relay.ENotFound {
			t.Fatalf("bob's token after the kind changed: %v, want deleted", err)
		}
	})
}
