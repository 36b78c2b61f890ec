package directory_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func TestPasswordHashing(t *testing.T) {
	h := directory.HashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash format: %s", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("the hash holds the password")
	}
	if !directory.VerifyPassword(h, "correct horse battery") {
		t.Fatal("the right password is refused")
	}
	for _, wrong := range []string{"", "correct horse batter", "Correct horse battery"} {
		if directory.VerifyPassword(h, wrong) {
			t.Fatalf("%q accepted", wrong)
		}
	}
	if h2 := directory.HashPassword("correct horse battery"); h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "$argon2id$", "$bcrypt$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA"} {
		if directory.VerifyPassword(bad, "x") {
			t.Fatalf("malformed hash %q accepted", bad)
		}
	}
}

func TestUsersTokensAndGrants(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d := directory.New(db, nil)
		const tenant = relay.LocalTenant

		u, pw, err := d.AddUser(ctx, tenant, directory.NewUser{Username: " Bob ", Email: "bob@example.com"})
		if err != nil || u.Username != "bob" || u.DisplayName != "bob" || len(pw) < 16 {
			t.Fatalf("AddUser: %+v %q %v", u, pw, err)
		}
		if _, _, err := d.AddUser(ctx, tenant, directory.NewUser{Username: "bob"}); relay.ErrorCode(err) != relay.EConflict {
			t.Fatalf("duplicate user: %v", err)
		}
		for _, nu := range []directory.NewUser{{Username: ""}, {Username: "a b"}, {Username: "x", Password: "short"}, {Username: "y", Email: "nope"}} {
			if _, _, err := d.AddUser(ctx, tenant, nu); relay.ErrorCode(err) != relay.EInvalid {
				t.Errorf("AddUser(%+v) = %v, want invalid_request", nu, err)
			}
		}
		if _, err := d.CheckPassword(ctx, tenant, "BOB", pw); err != nil {
			t.Fatalf("sign in with the generated password: %v", err)
		}
		if _, err := d.CheckPassword(ctx, tenant, "bob", pw+"x"); relay.ErrorCode(err) != relay.EUnauthenticated {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := d.CheckPassword(ctx, tenant, "nobody", pw); relay.ErrorCode(err) != relay.EUnauthenticated {
			t.Fatalf("unknown user: %v", err)
		}
		if err := d.SetPassword(ctx, tenant, u.ID, "a much better password"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.CheckPassword(ctx, tenant, "bob", "a much better password"); err != nil {
			t.Fatalf("after change: %v", err)
		}

		token, err := d.NewAPIToken(ctx, tenant, "bob", "ci")
		if err != nil || !strings.HasPrefix(token, directory.APITokenPrefix) {
			t.Fatalf("NewAPIToken: %q %v", token, err)
		}
		p, err := d.AuthenticateToken(ctx, token)
		if err != nil || p.Username != "bob" || p.TenantID != tenant || p.Admin {
			t.Fatalf("AuthenticateToken: %+v %v", p, err)
		}
		for _, bad := range []string{"", token + "x", "grt_" + strings.Repeat("A", 43), strings.TrimPrefix(token, directory.APITokenPrefix)} {
			if _, err := d.AuthenticateToken(ctx, bad); relay.ErrorCode(err) != relay.EUnauthenticated {
				t.Errorf("token %q: %v", bad, err)
			}
		}

		if _, err := d.AddProject(ctx, tenant, "abc", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := d.AddProject(ctx, tenant, "ABC", ""); relay.ErrorCode(err) != relay.EConflict {
			t.Fatalf("duplicate project: %v", err)
		}
		for _, bad := range []string{"1AB", "A-B", "", "ABCDEFGHIJK"} {
			if _, err := d.AddProject(ctx, tenant, bad, ""); relay.ErrorCode(err) != relay.EInvalid {
				t.Errorf("project key %q: %v", bad, err)
			}
		}
		if ok, _ := d.CanViewDevTools(ctx, p, "ABC"); ok {
			t.Fatal("View Development Tools without a grant")
		}
		if _, err := d.Grant(ctx, tenant, "abc", "bob"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := d.CanViewDevTools(ctx, p, "ABC"); !ok {
			t.Fatal("no View Development Tools after the grant")
		}
		if err := d.Revoke(ctx, tenant, "ABC", "bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Grant(ctx, tenant, "ABC", ""); err != nil { // everyone
			t.Fatal(err)
		}
		if keys, _ := d.DevToolsProjects(ctx, p); len(keys) != 1 || keys[0] != "ABC" {
			t.Fatalf("DevToolsProjects = %v", keys)
		}
		if _, err := d.Grant(ctx, tenant, "NOPE", "bob"); relay.ErrorCode(err) != relay.ENotFound {
			t.Fatalf("grant on a missing project: %v", err)
		}
		if _, err := d.Grant(ctx, tenant, "ABC", "ghost"); relay.ErrorCode(err) != relay.ENotFound {
			t.Fatalf("grant to a missing user: %v", err)
		}
	})
}
