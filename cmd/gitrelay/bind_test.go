package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/vault"
)

// `gitrelay serve` binds the tokens an earlier version saved to their
// host's origin at start-up, or deletes those it cannot vouch for.
func TestServeBindsTokensSavedByEarlierVersions(t *testing.T) {
	data := t.TempDir()
	env := baseEnv("GITRELAY_DATA=" + data)
	mustGitrelay(t, env, "migrate")
	keys, err := vault.NewFileKeys(filepath.Join(data, "secret.key"), vault.FileOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	changed := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	in := relay.Integration{ID: "int1", TenantID: relay.LocalTenant, Kind: "github-enterprise", BaseURL: "https://ghe.example.com",
		Name: "GHE", Enabled: true, CreatedAt: changed, UpdatedAt: changed}
	sealed, err := relay.SealCredential(keys, relay.TokenCredential("bot"), relay.IntegrationSecretOwner(in.TenantID, in.ID))
	if err != nil {
		t.Fatal(err)
	}
	seedEvent := relay.AuditEvent{TenantID: relay.LocalTenant, At: changed, Action: "seed", Outcome: "success"}
	if err := db.CreateIntegration(ctx, in, sealed, seedEvent); err != nil {
		t.Fatal(err)
	}
	for user, saved := range map[string]time.Time{"u-after": changed.Add(time.Minute), "u-before": changed.Add(-time.Minute)} {
		s, err := relay.SealCredential(keys, relay.TokenCredential("pat-"+user), relay.UserTokenOwner(in.TenantID, user, in.ID, ""))
		if err != nil {
			t.Fatal(err)
		}
		tok := relay.UserToken{TenantID: in.TenantID, UserID: user, IntegrationID: in.ID, Status: relay.TokenValid,
			Account: relay.Account{Login: user}, ValidatedAt: saved, UpdatedAt: saved, Sealed: s}
		if err := db.PutUserToken(ctx, tok, seedEvent); err != nil {
			t.Fatal(err)
		}
	}

	p := serve(t, env)
	p.stop()
	if !strings.Contains(p.stdout.String()+p.stderr.String(), "bound saved personal access tokens") {
		t.Errorf("serve did not log the binding:\n%s\n%s", p.stdout, p.stderr)
	}
	tok, err := db.UserToken(ctx, in.TenantID, "u-after", in.ID)
	if err != nil || tok.Origin != "https://ghe.example.com/api/v3" {
		t.Fatalf("token saved after the integration's last change: %+v %v", tok, err)
	}
	if cred, err := relay.OpenCredential(keys, tok.Sealed, relay.UserTokenOwner(in.TenantID, "u-after", in.ID, tok.Origin)); err != nil || cred.Token() != "pat-u-after" {
		t.Fatalf("the bound token does not open for its origin: %v", err)
	}
	if _, err := db.UserToken(ctx, in.TenantID, "u-before", in.ID); relay.ErrorCode(err) != relay.ENotFound {
		t.Fatalf("token saved before the integration's last change: %v, want deleted", err)
	}
}
