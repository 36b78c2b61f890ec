package store_test

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// TestTenantIsolation fills two tenants with rows that use the very same
// ids, then checks that each tenant reads, changes and deletes only its
// own.
func TestTenantIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fill := func(tenant string) {
			must(t, db.EnsureTenant(ctx, tenant, "Tenant "+tenant))
			in := newIntegration(tenant, "i1")
			in.Name = "integration of " + tenant
			createIntegration(t, db, in)
			putToken(t, db, newToken(tenant, "u1", "i1"))
			createUser(t, db, tenant, "u1", "alice")
			hash := sha256.Sum256([]byte("api token of " + tenant))
			must(t, db.CreateAPIToken(ctx, relay.APIToken{ID: "a1", TenantID: tenant, UserID: "u1", Name: "ci", Hash: hash[:]}, relay.AuditEvent{Action: relay.ActionAPITokenCreate, Outcome: relay.OutcomeSuccess}))
			must(t, db.CreateProject(ctx, relay.Project{TenantID: tenant, Key: "ABC", Name: "project of " + tenant}))
			must(t, db.PutGrant(ctx, relay.Grant{TenantID: tenant, ProjectKey: "ABC", UserID: "u1"}))
			b := newBranch("b1", "ABC-1", "r1", "ABC-1-x", 0)
			b.TenantID = tenant
			must(t, db.RecordBranch(ctx, b, auditFor(relay.ActionBranchCreate)))
			pr := newPullRequest("p1", "ABC-1", "r1", 1, 0)
			pr.TenantID = tenant
			must(t, db.RecordPullRequest(ctx, pr, auditFor(relay.ActionPullRequestCreate)))
			must(t, db.PutSettings(ctx, tenant, relay.Settings{BranchTemplate: "of " + tenant, MaxBranchLength: 10}))
		}
		fill("ta")
		fill("tb")

		// Every read in tenant ta must see ta's rows only.
		checkOwn := func(t *testing.T, tenant string) {
			t.Helper()
			in, err := db.Integration(ctx, tenant, "i1")
			must(t, err)
			if in.TenantID != tenant || in.Name != "integration of "+tenant {
				t.Fatalf("integration: got %+v", in)
			}
			list, err := db.Integrations(ctx, tenant)
			must(t, err)
			if len(list) != 1 || list[0].TenantID != tenant {
				t.Fatalf("integrations: got %+v", list)
			}
			cred, err := db.IntegrationCredential(ctx, tenant, "i1")
			must(t, err)
			if string(cred) != "sealed-credential:"+tenant+"/i1" {
				t.Fatalf("credential: got %q", cred)
			}
			tok, err := db.UserToken(ctx, tenant, "u1", "i1")
			must(t, err)
			if tok.TenantID != tenant || string(tok.Sealed) != "sealed-token:"+tenant+"/u1/i1" {
				t.Fatalf("token: got %+v", tok)
			}
			toks, err := db.UserTokens(ctx, tenant, "u1")
			must(t, err)
			if len(toks) != 1 || toks[0].TenantID != tenant {
				t.Fatalf("tokens: got %+v", toks)
			}
			events, err := db.Audit(ctx, tenant, relay.AuditFilter{})
			must(t, err)
			for _, e := range events {
				if e.TenantID != tenant {
					t.Fatalf("audit: got an event of %q", e.TenantID)
				}
			}
			bs, err := db.IssueBranches(ctx, tenant, "ABC-1")
			must(t, err)
			if len(bs) != 1 || bs[0].TenantID != tenant {
				t.Fatalf("branches: got %+v", bs)
			}
			prs, err := db.IssuePullRequests(ctx, tenant, "ABC-1")
			must(t, err)
			if len(prs) != 1 || prs[0].TenantID != tenant {
				t.Fatalf("pull requests: got %+v", prs)
			}
			s, err := db.Settings(ctx, tenant)
			must(t, err)
			if s.BranchTemplate != "of "+tenant {
				t.Fatalf("settings: got %+v", s)
			}
			users, err := db.Users(ctx, tenant)
			must(t, err)
			if len(users) != 1 || users[0].TenantID != tenant {
				t.Fatalf("users: got %+v", users)
			}
			hash := sha256.Sum256([]byte("api token of " + tenant))
			u, _, err := db.APITokenUser(ctx, hash[:])
			must(t, err)
			if u.TenantID != tenant {
				t.Fatalf("API token user: got tenant %q", u.TenantID)
			}
			projects, err := db.Projects(ctx, tenant)
			must(t, err)
			if len(projects) != 1 || projects[0].Name != "project of "+tenant {
				t.Fatalf("projects: got %+v", projects)
			}
			grants, err := db.Grants(ctx, tenant)
			must(t, err)
			if len(grants) != 1 || grants[0].TenantID != tenant {
				t.Fatalf("grants: got %+v", grants)
			}
		}
		t.Run("each tenant reads only its own rows", func(t *testing.T) {
			checkOwn(t, "ta")
			checkOwn(t, "tb")
		})

		t.Run("a third tenant sees nothing", func(t *testing.T) {
			_, err := db.Integration(ctx, "tc", "i1")
			wantCode(t, err, relay.ENotFound, "")
			_, err = db.IntegrationCredential(ctx, "tc", "i1")
			wantCode(t, err, relay.ENotFound, "")
			_, err = db.UserToken(ctx, "tc", "u1", "i1")
			wantCode(t, err, relay.ENotFound, "")
			_, err = db.User(ctx, "tc", "u1")
			wantCode(t, err, relay.ENotFound, "")
			if n := auditCount(t, db, "tc"); n != 0 {
				t.Fatalf("audit: got %d events", n)
			}
			ok, err := db.HasGrant(ctx, "tc", "ABC", "u1")
			must(t, err)
			if ok {
				t.Fatal("tc has ta's grant")
			}
		})

		t.Run("a token cannot point at another tenant's integration", func(t *testing.T) {
			err := db.PutUserToken(ctx, newToken("tc", "u1", "i1"), auditFor(relay.ActionTokenSave))
			wantCode(t, err, relay.ENotFound, relay.MsgIntegrationNotFound)
		})

		t.Run("changes and deletions in one tenant leave the other intact", func(t *testing.T) {
			in := newIntegration("ta", "i1")
			in.Name = "changed"
			must(t, db.UpdateIntegration(ctx, in, []byte("changed"), auditFor(relay.ActionIntegrationUpdate)))
			must(t, db.SetUserTokenStatus(ctx, "ta", "u1", "i1", relay.TokenRevoked, at(1)))
			must(t, db.ForgetBranch(ctx, "ta", "i1", "r1", "ABC-1-x", auditFor(relay.ActionBranchDelete)))
			must(t, db.DeleteIntegration(ctx, "ta", "i1", auditFor(relay.ActionIntegrationDelete)))
			must(t, db.DeleteProject(ctx, "ta", "ABC"))
			must(t, db.DeleteUser(ctx, "ta", "u1"))
			checkOwn(t, "tb")
			tok, err := db.UserToken(ctx, "tb", "u1", "i1")
			must(t, err)
			if tok.Status != relay.TokenValid {
				t.Fatalf("tb's token status changed to %q", tok.Status)
			}
		})
	})
}
