package directory_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

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

const jiraTenant = "ari:cloud:ecosystem::installation/site"

func TestAJiraTenantHasNoUsersPasswordsTokensProjectsOrGrants(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d := directory.New(db, nil)
		refusals := map[string]func() error{
			"add a user": func() error {
				_, _, err := d.AddUser(ctx, jiraTenant, directory.NewUser{Username: "mallory", Admin: true, Password: "long enough password"})
				return err
			},
			"set a password": func() error { return d.SetPassword(ctx, jiraTenant, "u1", "long enough password") },
			"sign in with a password": func() error {
				_, err := d.CheckPassword(ctx, jiraTenant, "mallory", "long enough password")
				return err
			},
			"create an API token": func() error {
				_, _, err := d.CreateAPIToken(ctx, relay.Principal{TenantID: jiraTenant, Username: "admin"}, "mallory", directory.NewToken{})
				return err
			},
			"list API tokens": func() error { _, err := d.APITokens(ctx, jiraTenant, "mallory"); return err },
			"revoke a token": func() error {
				return d.RevokeAPIToken(ctx, relay.Principal{TenantID: jiraTenant, Username: "admin"}, "mallory", "x")
			},
			"list users":       func() error { _, err := d.Users(ctx, jiraTenant); return err },
			"delete a user":    func() error { return d.DeleteUser(ctx, jiraTenant, "mallory", "") },
			"add a project":    func() error { _, err := d.AddProject(ctx, jiraTenant, "ABC", ""); return err },
			"list projects":    func() error { _, err := d.Projects(ctx, jiraTenant); return err },
			"delete a project": func() error { return d.DeleteProject(ctx, jiraTenant, "ABC") },
			"grant a project":  func() error { _, err := d.Grant(ctx, jiraTenant, "ABC", ""); return err },
			"revoke a grant":   func() error { return d.Revoke(ctx, jiraTenant, "ABC", "") },
			"list grants":      func() error { _, err := d.Grants(ctx, jiraTenant); return err },
		}
		for what, f := range refusals {
			t.Run(what+" is refused, saying why", func(t *testing.T) {
				err := f()
				if relay.ErrorCode(err) != relay.EForbidden || !strings.Contains(relay.ErrorMessage(err), "manage people in Jira") {
					t.Fatalf("got %v, want forbidden saying Jira manages people", err)
				}
			})
		}
		t.Run("grants never answer for a Jira tenant", func(t *testing.T) {
			// A grant row of a Jira tenant could only predate this rule.
			if err := db.CreateProject(ctx, relay.Project{TenantID: jiraTenant, Key: "ABC", Name: "Abc"}); err != nil {
				t.Fatal(err)
			}
			if err := db.PutGrant(ctx, relay.Grant{TenantID: jiraTenant, ProjectKey: "ABC"}); err != nil {
				t.Fatal(err)
			}
			p := relay.Principal{TenantID: jiraTenant, UserID: "acc-1"}
			if ok, err := d.CanViewDevTools(ctx, p, "ABC"); ok || err != nil {
				t.Fatalf("CanViewDevTools: %v %v, want no", ok, err)
			}
			if keys, err := d.DevToolsProjects(ctx, p); len(keys) != 0 || err != nil {
				t.Fatalf("DevToolsProjects: %v %v, want none", keys, err)
			}
		})
		t.Run("an API token row of a Jira tenant never authenticates", func(t *testing.T) {
			// Such rows could only predate this rule; they must not act
			// with a local admin flag.
			if err := db.CreateUser(ctx, relay.User{ID: "u1", TenantID: jiraTenant, Username: "mallory", Admin: true}, ""); err != nil {
				t.Fatal(err)
			}
			token := directory.APITokenPrefix + "planted-token"
			if err := db.CreateAPIToken(ctx, relay.APIToken{ID: "a1", TenantID: jiraTenant, UserID: "u1", Name: "x",
				Hash: directory.HashToken(token)}, relay.AuditEvent{Action: relay.ActionAPITokenCreate, Outcome: relay.OutcomeSuccess}); err != nil {
				t.Fatal(err)
			}
			if _, err := d.AuthenticateToken(ctx, token); relay.ErrorCode(err) != relay.EUnauthenticated {
				t.Fatalf("got %v, want unauthenticated", err)
			}
		})
	})
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// localAdmin is who the tests' API token changes are made by.
var localAdmin = relay.Principal{TenantID: relay.LocalTenant, Username: "admin"}

// withBob is a directory on db with one user, bob, and its clock.
func withBob(t *testing.T, db *store.DB) (*directory.Service, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
	d := directory.New(db, c.now)
	if _, _, err := d.AddUser(context.Background(), relay.LocalTenant, directory.NewUser{Username: "bob"}); err != nil {
		t.Fatal(err)
	}
	return d, c
}

func TestAPITokensExpireAndAreRevoked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d, c := withBob(t, db)
		token, tok, err := d.CreateAPIToken(ctx, localAdmin, "bob", directory.NewToken{Name: "ci", ExpiresInDays: 7})
		if err != nil {
			t.Fatal(err)
		}
		if want := c.t.AddDate(0, 0, 7); !tok.ExpiresAt.Equal(want) || tok.Hash != nil {
			t.Fatalf("token: %+v, want expiry %v and no hash", tok, want)
		}
		t.Run("out-of-range lifetimes are refused, naming the field", func(t *testing.T) {
			for _, days := range []int{-1, directory.MaxAPITokenDays + 1} {
				_, _, err := d.CreateAPIToken(ctx, localAdmin, "bob", directory.NewToken{ExpiresInDays: days})
				e, ok := relay.AsError(err)
				if !ok || e.Code != relay.EInvalid || e.Fields["expires_in_days"] == "" {
					t.Fatalf("%d days: got %v", days, err)
				}
			}
		})
		t.Run("a token works until it expires, recording its last use", func(t *testing.T) {
			if _, err := d.AuthenticateToken(ctx, token); err != nil {
				t.Fatal(err)
			}
			list, err := d.APITokens(ctx, relay.LocalTenant, "bob")
			if err != nil || len(list) != 1 || !list[0].LastUsedAt.Equal(c.t) {
				t.Fatalf("tokens: %+v %v", list, err)
			}
			c.t = c.t.AddDate(0, 0, 7)
			if _, err := d.AuthenticateToken(ctx, token); relay.ErrorCode(err) != relay.EUnauthenticated {
				t.Fatalf("at expiry: got %v, want unauthenticated", err)
			}
		})
		t.Run("a revoked token is refused at once", func(t *testing.T) {
			token, tok, err := d.CreateAPIToken(ctx, localAdmin, "bob", directory.NewToken{Name: "deploy"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.AuthenticateToken(ctx, token); err != nil {
				t.Fatal(err)
			}
			if err := d.RevokeAPIToken(ctx, localAdmin, "bob", tok.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := d.AuthenticateToken(ctx, token); relay.ErrorCode(err) != relay.EUnauthenticated {
				t.Fatalf("after revocation: got %v, want unauthenticated", err)
			}
			if err := d.RevokeAPIToken(ctx, localAdmin, "bob", tok.ID); relay.ErrorCode(err) != relay.ENotFound {
				t.Fatalf("revoking twice: got %v, want not found", err)
			}
		})
	})
}

// Creating and revoking an API token is in the audit trail, in the
// transaction that makes the change: who asked, whose token, its name and
// id, never the token. A revocation that finds no token records nothing.
func TestAPITokenChangesAreAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d, _ := withBob(t, db)
		admin := relay.Principal{TenantID: relay.LocalTenant, UserID: "u-admin", Username: "admin", Admin: true}
		token, tok, err := d.CreateAPIToken(ctx, admin, "bob", directory.NewToken{Name: "deploy", ExpiresInDays: 30})
		if err != nil {
			t.Fatal(err)
		}
		cli, err := d.NewAPIToken(ctx, relay.LocalTenant, "bob", "script")
		if err != nil {
			t.Fatal(err)
		}
		if err := d.RevokeAPIToken(ctx, admin, "bob", tok.ID); err != nil {
			t.Fatal(err)
		}
		if err := d.RevokeAPIToken(ctx, admin, "bob", tok.ID); relay.ErrorCode(err) != relay.ENotFound {
			t.Fatalf("revoking twice: %v, want not found", err)
		}
		events, err := db.Audit(ctx, relay.LocalTenant, relay.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range events {
			if strings.Contains(e.Detail, token) || strings.Contains(e.Detail, cli) {
				t.Errorf("an audit event holds the token itself: %+v", e)
			}
			got = append(got, fmt.Sprintf("%s by %s (%s): %s, %s", e.Action, e.Username, e.UserID, e.Detail, e.Outcome))
		}
		slices.Sort(got)
		want := []string{
			fmt.Sprintf(`api_token.create by (command line) (): API token "script" (id %s) of bob, success`, apiTokenID(t, d, "script")),
			fmt.Sprintf(`api_token.create by admin (u-admin): API token "deploy" (id %s) of bob, expires 2026-05-31, success`, tok.ID),
			fmt.Sprintf(`api_token.revoke by admin (u-admin): API token "deploy" (id %s) of bob, success`, tok.ID),
		}
		if !slices.Equal(got, want) {
			t.Fatalf("audit trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// apiTokenID is the id of bob's API token called name.
func apiTokenID(t *testing.T, d *directory.Service, name string) string {
	t.Helper()
	list, err := d.APITokens(context.Background(), relay.LocalTenant, "bob")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range list {
		if k.Name == name {
			return k.ID
		}
	}
	t.Fatalf("bob has no API token called %q", name)
	return ""
}

func TestPasswordHashingIsBoundedAndExcessIsBusy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d := directory.New(db, nil)
		if _, _, err := d.AddUser(ctx, relay.LocalTenant, directory.NewUser{Username: "bob", Password: "bob's long password"}); err != nil {
			t.Fatal(err)
		}
		const slots = 2
		entered := make(chan struct{})
		release := make(chan struct{})
		d.SetHashing(slots, func() {
			entered <- struct{}{}
			<-release
		})
		done := make(chan error, slots)
		for range slots {
			go func() {
				_, err := d.CheckPassword(ctx, relay.LocalTenant, "bob", "bob's long password")
				done <- err
			}()
		}
		for range slots {
			<-entered
		}
		// Every slot is held: the next sign-in and password change are
		// refused at once, with when to try again.
		for what, f := range map[string]func() error{
			"sign-in": func() error { _, err := d.CheckPassword(ctx, relay.LocalTenant, "bob", "anything at all"); return err },
			"unknown user": func() error {
				_, err := d.CheckPassword(ctx, relay.LocalTenant, "nobody", "anything at all")
				return err
			},
			"password change": func() error { return d.SetPassword(ctx, relay.LocalTenant, "x", "a new long password") },
		} {
			e, ok := relay.AsError(f())
			if !ok || e.Code != relay.EBusy || e.RetryAfter <= 0 {
				t.Fatalf("%s with every slot taken: got %v, want busy with a retry-after", what, e)
			}
		}
		close(release)
		for range slots {
			if err := <-done; err != nil {
				t.Fatalf("a sign-in holding a slot: %v", err)
			}
		}
		d.SetHashing(slots, nil)
		if _, err := d.CheckPassword(ctx, relay.LocalTenant, "bob", "bob's long password"); err != nil {
			t.Fatalf("after the burst: %v", err)
		}
	})
}
