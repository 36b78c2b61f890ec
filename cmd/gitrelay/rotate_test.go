package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
	"github.com/gitrelay/gitrelay/internal/vault"
)

// seed stores one integration and n-1 user tokens sealed with keys, and
// returns a checker that every secret opens, with keys, to what was sealed.
func seed(t *testing.T, db *store.DB, keys relay.Sealer, n int) func(relay.Sealer) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	in := relay.Integration{ID: "int1", TenantID: relay.LocalTenant, Kind: "github", Name: "GH", Enabled: true, CreatedAt: now, UpdatedAt: now}
	sealed, err := relay.SealCredential(keys, relay.TokenCredential("integration-secret"), relay.IntegrationSecretOwner(relay.LocalTenant, in.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateIntegration(ctx, in, sealed, relay.AuditEvent{TenantID: relay.LocalTenant, At: now, Action: "seed", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	// User tokens are bound to the origin of the host they were
	// validated against, which rotation must keep.
	const origin = "https://api.github.com"
	for i := 1; i < n; i++ {
		user := fmt.Sprintf("u%05d", i)
		s, err := relay.SealCredential(keys, relay.TokenCredential("pat-"+user), relay.UserTokenOwner(relay.LocalTenant, user, in.ID, origin))
		if err != nil {
			t.Fatal(err)
		}
		tok := relay.UserToken{TenantID: relay.LocalTenant, UserID: user, IntegrationID: in.ID, Status: relay.TokenValid,
			Account: relay.Account{Login: user}, ValidatedAt: now, UpdatedAt: now, Origin: origin, Sealed: s}
		if err := db.PutUserToken(ctx, tok, relay.AuditEvent{TenantID: relay.LocalTenant, At: now, Action: "seed", Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
	}
	return func(after relay.Sealer) {
		t.Helper()
		c, err := db.IntegrationCredential(ctx, relay.LocalTenant, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cred, err := relay.OpenCredential(after, c, relay.IntegrationSecretOwner(relay.LocalTenant, in.ID)); err != nil || cred.Token() != "integration-secret" {
			t.Fatalf("integration credential after rotation: %v", err)
		}
		for i := 1; i < n; i++ {
			user := fmt.Sprintf("u%05d", i)
			tok, err := db.UserToken(ctx, relay.LocalTenant, user, in.ID)
			if err != nil {
				t.Fatal(err)
			}
			cred, err := relay.OpenCredential(after, tok.Sealed, relay.UserTokenOwner(relay.LocalTenant, user, in.ID, origin))
			if err != nil || cred.Token() != "pat-"+user {
				t.Fatalf("token of %s after rotation: %v", user, err)
			}
		}
	}
}

// `gitrelay keys rotate` re-seals 10,000 stored secrets under a new key and
// loses none; only the new key is needed afterwards.
func TestKeysRotateTenThousandSecrets(t *testing.T) {
	const n = 10000
	t.Run("sqlite key file", func(t *testing.T) {
		data := t.TempDir()
		env := baseEnv("GITRELAY_DATA=" + data)
		mustGitrelay(t, env, "migrate")
		keyPath := filepath.Join(data, "secret.key")
		keys, err := vault.NewFileKeys(keyPath, vault.FileOptions{Create: true})
		if err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(context.Background(), store.Config{DataDir: data})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		check := seed(t, db, keys, n)
		before, _ := vault.LoadFile(keyPath, false)

		out := mustGitrelay(t, env, "keys", "rotate")
		if !strings.Contains(out, fmt.Sprintf("Checked %d secrets", n)) || !strings.Contains(out, fmt.Sprintf("re-sealed %d", n)) {
			t.Fatalf("rotate said: %s", out)
		}
		after, err := vault.LoadFile(keyPath, false)
		if err != nil || len(after) != 1 || string(after[0]) == string(before[0]) {
			t.Fatalf("key file after rotation holds %d keys (err %v); want only a new one", len(after), err)
		}
		onlyNew, _ := vault.NewStaticKeys(after...)
		check(onlyNew)
		// Running it again starts a new rotation, not a repeat of work.
		if out := mustGitrelay(t, env, "keys", "rotate"); !strings.Contains(out, "Generated a new primary key") {
			t.Fatalf("second rotate: %s", out)
		}
	})
	t.Run("postgres env keys", func(t *testing.T) {
		url := storetest.EmptyPostgresURL(t)
		oldKey, newKey := vault.NewKey(), vault.NewKey()
		b64 := base64.StdEncoding.EncodeToString
		env := baseEnv("GITRELAY_DATABASE_URL="+url, "GITRELAY_SECRET_KEY="+b64(oldKey))
		mustGitrelay(t, env, "migrate")
		db, err := store.Open(context.Background(), store.Config{DatabaseURL: url})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		old, _ := vault.NewStaticKeys(oldKey)
		check := seed(t, db, old, n)

		// Nothing to do with one key: rotate says how to add one.
		if out, err := gitrelay(t, env, "keys", "rotate"); err == nil || !strings.Contains(out, "GITRELAY_SECRET_KEY") {
			t.Fatalf("rotate with a single env key: %v %s", err, out)
		}
		env[len(env)-1] = "GITRELAY_SECRET_KEY=" + b64(newKey) + "," + b64(oldKey)
		out := mustGitrelay(t, env, "keys", "rotate")
		if !strings.Contains(out, fmt.Sprintf("re-sealed %d", n)) || !strings.Contains(out, "remove them from GITRELAY_SECRET_KEY") {
			t.Fatalf("rotate said: %s", out)
		}
		onlyNew, _ := vault.NewStaticKeys(newKey)
		check(onlyNew)
	})
}
