package directory_test

import (
	"context"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// A token this directory authenticated from the database less than a
// minute ago is taken from memory with a check for the request's first
// read to make; the token is looked up again (and its use recorded) once
// a minute, and never past its expiry.
func TestCheckedAuthenticationLooksTheTokenUpOnceAMinute(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d, c := withBob(t, db)
		token, _, err := d.CreateAPIToken(ctx, localAdmin, "bob", directory.NewToken{Name: "ci", ExpiresInDays: 1})
		if err != nil {
			t.Fatal(err)
		}
		lastUsed := func() time.Time {
			list, err := d.APITokens(ctx, relay.LocalTenant, "bob")
			if err != nil || len(list) != 1 {
				t.Fatalf("tokens: %+v %v", list, err)
			}
			return list[0].LastUsedAt
		}
		auth := func(what string) (*relay.TokenCheck, relay.Principal) {
			t.Helper()
			rctx, p, err := d.AuthenticateTokenChecked(ctx, token, "ABC")
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if p.Username != "bob" || p.TenantID != relay.LocalTenant {
				t.Fatalf("%s: principal %+v, want bob", what, p)
			}
			return relay.TokenCheckFrom(rctx), p
		}

		if check, _ := auth("first use"); check != nil {
			t.Fatal("first use: a check to make, want the token looked up")
		}
		if got := lastUsed(); !got.Equal(c.t) {
			t.Fatalf("last use %v, want %v", got, c.t)
		}
		first := c.t
		c.t = c.t.Add(59 * time.Second)
		check, p := auth("59 s later")
		if check == nil || !check.Pending() {
			t.Fatal("59 s later: no pending check, want one for the request's first read")
		}
		if string(check.Hash) != string(directory.HashToken(token)) || check.TenantID != p.TenantID ||
			check.UserID != p.UserID || check.Project != "ABC" || !check.Now.Equal(c.t) {
			t.Fatalf("check %+v, want the token's hash, bob, ABC and now", check)
		}
		if got := lastUsed(); !got.Equal(first) {
			t.Fatalf("last use %v, want %v (recorded once a minute)", got, first)
		}
		c.t = first.Add(time.Minute)
		if check, _ := auth("a minute later"); check != nil {
			t.Fatal("a minute later: a check to make, want the token looked up")
		}
		if got := lastUsed(); !got.Equal(c.t) {
			t.Fatalf("last use %v, want %v", got, c.t)
		}
		// A lookup by AuthenticateToken serves the issue routes too.
		c.t = c.t.Add(2 * time.Minute)
		if _, err := d.AuthenticateToken(ctx, token); err != nil {
			t.Fatal(err)
		}
		if check, _ := auth("after AuthenticateToken"); check == nil {
			t.Fatal("after AuthenticateToken: no check to make, want the user from memory")
		}

		// Its expiry ends what memory answers: the token is looked up,
		// and refused.
		c.t = first.Add(24*time.Hour - 30*time.Second)
		auth("30 s before expiry")
		c.t = first.Add(24 * time.Hour)
		if _, _, err := d.AuthenticateTokenChecked(ctx, token, "ABC"); relay.ErrorCode(err) != relay.EUnauthenticated {
			t.Fatalf("at expiry: got %v, want unauthenticated", err)
		}
		if _, _, err := d.AuthenticateTokenChecked(ctx, "not-a-token", "ABC"); relay.ErrorCode(err) != relay.EUnauthenticated {
			t.Fatalf("a malformed token: got %v, want unauthenticated", err)
		}
	})
}
