package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// fillSecrets stores, in each of two tenants, three integrations and four
// user tokens (one saved before tokens were bound to origins), and returns
// every secret's owner with its sealed value.
func fillSecrets(t *testing.T, db *store.DB) map[string][]byte {
	t.Helper()
	want := map[string][]byte{}
	for _, tenant := range []string{"ta", "tb"} {
		for _, id := range []string{"i1", "i2", "i3"} {
			in := newIntegration(tenant, id)
			createIntegration(t, db, in)
			want[relay.IntegrationSecretOwner(tenant, id)] = credential(in)
		}
		for _, k := range [][2]string{{"u1", "i1"}, {"u1", "i2"}, {"u2", "i1"}, {"u3", "i3"}} {
			tok := newToken(tenant, k[0], k[1])
			if k[0] == "u3" {
				tok.Origin = "" // unbound: sealed for the owner without an origin
			}
			putToken(t, db, tok)
			want[relay.UserTokenOwner(tenant, k[0], k[1], tok.Origin)] = tok.Sealed
		}
	}
	return want
}

// storedSecrets reads every secret back through the ordinary read methods.
func storedSecrets(t *testing.T, db *store.DB, owners map[string][]byte) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	got := map[string][]byte{}
	for _, tenant := range []string{"ta", "tb"} {
		ins, err := db.Integrations(ctx, tenant)
		must(t, err)
		for _, in := range ins {
			b, err := db.IntegrationCredential(ctx, tenant, in.ID)
			must(t, err)
			got[relay.IntegrationSecretOwner(tenant, in.ID)] = b
		}
		for _, user := range []string{"u1", "u2", "u3"} {
			toks, err := db.UserTokens(ctx, tenant, user)
			must(t, err)
			for _, tok := range toks {
				got[relay.UserTokenOwner(tenant, user, tok.IntegrationID, tok.Origin)] = tok.Sealed
			}
		}
	}
	return got
}

const newKeyPrefix = "k2:"

// reseal simulates sealing with a new key: it prefixes once, and skips
// secrets already sealed with the new key, as the vault does.
func reseal(s relay.SealedSecret) ([]byte, error) {
	if bytes.HasPrefix(s.Sealed, []byte(newKeyPrefix)) {
		return nil, nil
	}
	return append([]byte(newKeyPrefix), s.Sealed...), nil
}

func TestResealSecretsVisitsEverySecretOnce(t *testing.T) {
	for _, batch := range []int{1, 2, 3, 7, 100, 0} {
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				secrets := fillSecrets(t, db)
				visits := map[string]int{}
				seen, updated, err := db.ResealSecrets(ctx, batch, func(s relay.SealedSecret) ([]byte, error) {
					visits[s.Owner]++
					if want, ok := secrets[s.Owner]; !ok || !bytes.Equal(s.Sealed, want) {
						t.Errorf("owner %q: got sealed %q, want %q", s.Owner, s.Sealed, want)
					}
					return reseal(s)
				})
				must(t, err)
				if seen != len(secrets) || updated != len(secrets) {
					t.Fatalf("got seen %d updated %d, want %d and %d", seen, updated, len(secrets), len(secrets))
				}
				for owner := range secrets {
					if visits[owner] != 1 {
						t.Errorf("owner %q visited %d times, want once", owner, visits[owner])
					}
				}
				for owner, got := range storedSecrets(t, db, secrets) {
					if want := newKeyPrefix + string(secrets[owner]); string(got) != want {
						t.Errorf("owner %q: stored %q, want %q", owner, got, want)
					}
				}

				// A second pass sees everything again and changes nothing.
				seen, updated, err = db.ResealSecrets(ctx, batch, reseal)
				must(t, err)
				if seen != len(secrets) || updated != 0 {
					t.Fatalf("second pass: got seen %d updated %d, want %d and 0", seen, updated, len(secrets))
				}
			})
		})
	}
}

func TestResealSecretsSkipsRowsChangedMeanwhile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		secrets := fillSecrets(t, db)
		changed := relay.IntegrationSecretOwner("ta", "i2")
		_, updated, err := db.ResealSecrets(ctx, 2, func(s relay.SealedSecret) ([]byte, error) {
			if s.Owner == changed {
				// An administrator saves a new credential while rotation
				// has the old one in hand.
				in, err := db.Integration(ctx, "ta", "i2")
				if err != nil {
					return nil, err
				}
				if err := db.UpdateIntegration(ctx, in, []byte("saved meanwhile"), auditFor(relay.ActionIntegrationUpdate)); err != nil {
					return nil, err
				}
			}
			return reseal(s)
		})
		must(t, err)
		if updated != len(secrets)-1 {
			t.Fatalf("got %d updated, want %d", updated, len(secrets)-1)
		}
		got, err := db.IntegrationCredential(ctx, "ta", "i2")
		must(t, err)
		if string(got) != "saved meanwhile" {
			t.Fatalf("got %q, want the credential saved meanwhile", got)
		}
	})
}

func TestResealSecretsResumesAfterAnError(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		secrets := fillSecrets(t, db)
		errBoom := errors.New("boom")
		calls := 0
		seen, updated, err := db.ResealSecrets(ctx, 3, func(s relay.SealedSecret) ([]byte, error) {
			calls++
			if calls == 5 {
				return nil, errBoom
			}
			return reseal(s)
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("got error %v, want one wrapping %v", err, errBoom)
		}
		// The first batch (3) was written; the second, in hand when fn
		// failed on its second secret, was dropped.
		if seen != 4 || updated != 3 {
			t.Fatalf("got seen %d updated %d, want 4 and 3", seen, updated)
		}

		seen, updated, err = db.ResealSecrets(ctx, 3, reseal)
		must(t, err)
		if seen != len(secrets) || updated != len(secrets)-3 {
			t.Fatalf("resumed: got seen %d updated %d, want %d and %d", seen, updated, len(secrets), len(secrets)-3)
		}
		for owner, got := range storedSecrets(t, db, secrets) {
			if want := newKeyPrefix + string(secrets[owner]); string(got) != want {
				t.Errorf("owner %q: stored %q, want %q (resealed exactly once)", owner, got, want)
			}
		}
	})
}
