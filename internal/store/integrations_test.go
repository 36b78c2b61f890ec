package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func TestIntegrationRoundTrip(t *testing.T) {
	withProjects := func(p []string) relay.Integration {
		in := newIntegration("t1", "i1")
		in.Projects = p
		return in
	}
	tests := []struct {
		name string
		in   relay.Integration
	}{
		{"every project (nil projects) stays nil", withProjects(nil)},
		{"no project (empty list) stays empty, not nil", withProjects([]string{})},
		{"restricted projects keep their order", withProjects([]string{"ABC", "XYZ"})},
		{"every repository (nil repositories) stays nil", func() relay.Integration {
			in := newIntegration("t1", "i1")
			in.Repositories = nil
			return in
		}()},
		{"no repository (empty list) stays empty, not nil", func() relay.Integration {
			in := newIntegration("t1", "i1")
			in.Repositories = []string{}
			return in
		}()},
		{"chosen repositories keep their ids and order", func() relay.Integration {
			in := newIntegration("t1", "i1")
			in.Repositories = []string{"1296269", "group/sub/project", "repo with \"quotes\""}
			return in
		}()},
		{"options and full account survive", func() relay.Integration {
			in := newIntegration("t1", "i1")
			in.Kind = "tfs"
			in.Options = map[string]string{"suffix": "/tfs", "version": "2015"}
			in.RequireUserPAT = true
			in.Enabled = false
			in.Account = relay.Account{Login: "svc", Name: "Service", Scopes: []string{}, ExpiresAt: ptr(at(90))}
			return in
		}()},
		{"unknown scopes (nil) stay nil", func() relay.Integration {
			in := newIntegration("t1", "i1")
			in.Account.Scopes = nil
			return in
		}()},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				createIntegration(t, db, tt.in)
				t.Cleanup(func() { _ = db.DeleteIntegration(ctx, "t1", "i1", auditFor(relay.ActionIntegrationDelete)) })

				got, err := db.Integration(ctx, "t1", "i1")
				must(t, err)
				wantEqual(t, "integration", got, tt.in)
				if (got.Projects == nil) != (tt.in.Projects == nil) {
					t.Fatalf("got projects nil=%v, want nil=%v", got.Projects == nil, tt.in.Projects == nil)
				}
				if (got.Repositories == nil) != (tt.in.Repositories == nil) {
					t.Fatalf("got repositories nil=%v, want nil=%v", got.Repositories == nil, tt.in.Repositories == nil)
				}
				if (got.Account.Scopes == nil) != (tt.in.Account.Scopes == nil) {
					t.Fatalf("got scopes nil=%v, want nil=%v", got.Account.Scopes == nil, tt.in.Account.Scopes == nil)
				}
				cred, err := db.IntegrationCredential(ctx, "t1", "i1")
				must(t, err)
				wantEqual(t, "credential", cred, credential(tt.in))
			})
		}
	})
}

func TestIntegrationWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()

		t.Run("create records its audit event", func(t *testing.T) {
			in := newIntegration("t1", "i1")
			e := auditFor(relay.ActionIntegrationCreate)
			e.ID = "audit-create-i1"
			e.IntegrationID = "i1"
			must(t, db.CreateIntegration(ctx, in, credential(in), e))
			events, err := db.Audit(ctx, "t1", relay.AuditFilter{})
			must(t, err)
			e.TenantID = "t1"
			wantEqual(t, "audit", events, []relay.AuditEvent{e})
		})

		t.Run("create with a taken id is a conflict and records nothing", func(t *testing.T) {
			in := newIntegration("t1", "i1")
			err := db.CreateIntegration(ctx, in, credential(in), auditFor(relay.ActionIntegrationCreate))
			wantCode(t, err, relay.EConflict, "")
			if n := auditCount(t, db, "t1"); n != 1 {
				t.Fatalf("got %d audit events, want 1 (the failed create must roll back)", n)
			}
		})

		t.Run("create without a credential is refused", func(t *testing.T) {
			err := db.CreateIntegration(ctx, newIntegration("t1", "i9"), nil, auditFor(relay.ActionIntegrationCreate))
			if err == nil {
				t.Fatal("got nil error, want one")
			}
		})

		t.Run("unknown id is not found", func(t *testing.T) {
			_, err := db.Integration(ctx, "t1", "nope")
			wantCode(t, err, relay.ENotFound, relay.MsgIntegrationNotFound)
			_, err = db.IntegrationCredential(ctx, "t1", "nope")
			wantCode(t, err, relay.ENotFound, relay.MsgIntegrationNotFound)
		})

		t.Run("update replaces fields and keeps the credential when given nil", func(t *testing.T) {
			in := newIntegration("t1", "i1")
			in.Name = "Renamed"
			in.RequireUserPAT = true
			in.Projects = []string{"ABC"}
			in.Repositories = []string{"42", "7"}
			in.Options = map[string]string{"k": "v"}
			in.Account.ExpiresAt = ptr(at(5))
			in.UpdatedAt = at(10)
			must(t, db.UpdateIntegration(ctx, in, nil, auditFor(relay.ActionIntegrationUpdate)))
			got, err := db.Integration(ctx, "t1", "i1")
			must(t, err)
			wantEqual(t, "integration", got, in)
			cred, err := db.IntegrationCredential(ctx, "t1", "i1")
			must(t, err)
			wantEqual(t, "credential", cred, credential(in))
		})

		t.Run("update with a credential replaces it", func(t *testing.T) {
			in, err := db.Integration(ctx, "t1", "i1")
			must(t, err)
			must(t, db.UpdateIntegration(ctx, in, []byte("new-sealed"), auditFor(relay.ActionIntegrationUpdate)))
			cred, err := db.IntegrationCredential(ctx, "t1", "i1")
			must(t, err)
			wantEqual(t, "credential", cred, []byte("new-sealed"))
		})

		t.Run("update of an unknown id is not found and records nothing", func(t *testing.T) {
			before := auditCount(t, db, "t1")
			err := db.UpdateIntegration(ctx, newIntegration("t1", "nope"), nil, auditFor(relay.ActionIntegrationUpdate))
			wantCode(t, err, relay.ENotFound, relay.MsgIntegrationNotFound)
			if n := auditCount(t, db, "t1"); n != before {
				t.Fatalf("got %d audit events, want %d", n, before)
			}
		})

		t.Run("an audit event naming another tenant fails the write", func(t *testing.T) {
			in := newIntegration("t1", "i1")
			in.Name = "Should not stick"
			e := auditFor(relay.ActionIntegrationUpdate)
			e.TenantID = "t2"
			if err := db.UpdateIntegration(ctx, in, nil, e); err == nil {
				t.Fatal("got nil error, want one")
			}
			got, err := db.Integration(ctx, "t1", "i1")
			must(t, err)
			if got.Name == in.Name {
				t.Fatal("the update was committed")
			}
			if n := auditCount(t, db, "t2"); n != 0 {
				t.Fatalf("tenant t2 got %d audit events, want 0", n)
			}
		})

		t.Run("list is oldest first; an empty list is not nil", func(t *testing.T) {
			second := newIntegration("t1", "i2")
			second.CreatedAt = at(1)
			createIntegration(t, db, second)
			list, err := db.Integrations(ctx, "t1")
			must(t, err)
			var ids []string
			for _, in := range list {
				ids = append(ids, in.ID)
			}
			wantEqual(t, "ids", ids, []string{"i1", "i2"})

			empty, err := db.Integrations(ctx, "t-none")
			must(t, err)
			if empty == nil || len(empty) != 0 {
				t.Fatalf("got %#v, want an empty, non-nil list", empty)
			}
		})

		t.Run("zero timestamps are filled with the clock", func(t *testing.T) {
			in := newIntegration("t1", "i3")
			in.CreatedAt, in.UpdatedAt = time.Time{}, time.Time{}
			createIntegration(t, db, in)
			got, err := db.Integration(ctx, "t1", "i3")
			must(t, err)
			if got.CreatedAt.IsZero() || !got.UpdatedAt.Equal(got.CreatedAt) {
				t.Fatalf("got created %v updated %v, want the same non-zero time", got.CreatedAt, got.UpdatedAt)
			}
			if got.CreatedAt.Location().String() != "UTC" {
				t.Fatalf("got location %v, want UTC", got.CreatedAt.Location())
			}
		})
	})
}

func TestDeleteIntegration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createIntegration(t, db, newIntegration("t1", "i1"))
		createIntegration(t, db, newIntegration("t1", "i2"))
		putToken(t, db, newToken("t1", "alice", "i1"))
		putToken(t, db, newToken("t1", "bob", "i1"))
		putToken(t, db, newToken("t1", "alice", "i2"))
		branch := relay.BranchRecord{ID: "b1", TenantID: "t1", IssueKey: "ABC-1", IntegrationID: "i1",
			RepositoryID: "r1", Name: "ABC-1-x", CreatedAt: t0}
		must(t, db.RecordBranch(ctx, branch, auditFor(relay.ActionBranchCreate)))
		pr := relay.PullRequestRecord{ID: "p1", TenantID: "t1", IssueKey: "ABC-1", IntegrationID: "i1",
			RepositoryID: "r1", Number: 7, CreatedAt: t0}
		must(t, db.RecordPullRequest(ctx, pr, auditFor(relay.ActionPullRequestCreate)))
		auditBefore := auditCount(t, db, "t1")

		must(t, db.DeleteIntegration(ctx, "t1", "i1", auditFor(relay.ActionIntegrationDelete)))

		t.Run("the integration is gone", func(t *testing.T) {
			_, err := db.Integration(ctx, "t1", "i1")
			wantCode(t, err, relay.ENotFound, "")
		})
		t.Run("its users' tokens are gone", func(t *testing.T) {
			for _, user := range []string{"alice", "bob"} {
				_, err := db.UserToken(ctx, "t1", user, "i1")
				wantCode(t, err, relay.ENotFound, "")
			}
		})
		t.Run("other integrations' tokens stay", func(t *testing.T) {
			_, err := db.UserToken(ctx, "t1", "alice", "i2")
			must(t, err)
		})
		t.Run("branch and pull request records stay", func(t *testing.T) {
			bs, err := db.IssueBranches(ctx, "t1", "ABC-1")
			must(t, err)
			prs, err := db.IssuePullRequests(ctx, "t1", "ABC-1")
			must(t, err)
			if len(bs) != 1 || len(prs) != 1 {
				t.Fatalf("got %d branches and %d pull requests, want 1 and 1", len(bs), len(prs))
			}
		})
		t.Run("the audit trail stays and gains the deletion", func(t *testing.T) {
			if n := auditCount(t, db, "t1"); n != auditBefore+1 {
				t.Fatalf("got %d audit events, want %d", n, auditBefore+1)
			}
		})
		t.Run("deleting again is not found", func(t *testing.T) {
			err := db.DeleteIntegration(ctx, "t1", "i1", auditFor(relay.ActionIntegrationDelete))
			wantCode(t, err, relay.ENotFound, relay.MsgIntegrationNotFound)
		})
	})
}
