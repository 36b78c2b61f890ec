package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func TestAuditFilters(t *testing.T) {
	// Six events, one per minute; e3 and e4 share a timestamp so that the
	// id breaks the tie.
	events := []relay.AuditEvent{
		{ID: "e1", At: at(1), Username: "alice", IntegrationID: "i1", Action: relay.ActionBranchCreate, Outcome: relay.OutcomeSuccess},
		{ID: "e2", At: at(2), Username: "bob", IntegrationID: "i1", Action: relay.ActionBranchCreate, Outcome: relay.OutcomeRefused, ErrorCode: relay.EUserTokenRequired},
		{ID: "e3", At: at(3), Username: "alice", IntegrationID: "i2", Action: relay.ActionPullRequestCreate, Outcome: relay.OutcomeFailed},
		{ID: "e4", At: at(3), Username: "alice", IntegrationID: "i2", Action: relay.ActionBranchDelete, Outcome: relay.OutcomeSuccess},
		{ID: "e5", At: at(5), Username: "bob", IntegrationID: "i2", Action: relay.ActionTokenSave, Outcome: relay.OutcomeSuccess},
		{ID: "e6", At: at(6), Username: "carol", IntegrationID: "i1", Action: relay.ActionBranchCreate, Outcome: relay.OutcomeSuccess,
			UserID: "u-carol", Repository: "acme/web", Ref: "ABC-1-x", IssueKey: "ABC-1", Via: relay.ViaUserToken,
			Login: "carol-gh", Detail: "created"},
	}
	tests := []struct {
		name   string
		filter relay.AuditFilter
		want   []string
	}{
		{"no filter lists everything newest first, ties by id", relay.AuditFilter{}, []string{"e6", "e5", "e4", "e3", "e2", "e1"}},
		{"username matches exactly", relay.AuditFilter{Username: "alice"}, []string{"e4", "e3", "e1"}},
		{"username is not a prefix match", relay.AuditFilter{Username: "ali"}, nil},
		{"integration", relay.AuditFilter{IntegrationID: "i1"}, []string{"e6", "e2", "e1"}},
		{"action", relay.AuditFilter{Action: relay.ActionBranchCreate}, []string{"e6", "e2", "e1"}},
		{"outcome", relay.AuditFilter{Outcome: relay.OutcomeSuccess}, []string{"e6", "e5", "e4", "e1"}},
		{"since is inclusive", relay.AuditFilter{Since: at(3)}, []string{"e6", "e5", "e4", "e3"}},
		{"until is exclusive", relay.AuditFilter{Until: at(3)}, []string{"e2", "e1"}},
		{"since and until together", relay.AuditFilter{Since: at(2), Until: at(5)}, []string{"e4", "e3", "e2"}},
		{"filters combine", relay.AuditFilter{Username: "alice", Outcome: relay.OutcomeSuccess, IntegrationID: "i2"}, []string{"e4"}},
		{"limit keeps the newest", relay.AuditFilter{Limit: 2}, []string{"e6", "e5"}},
		{"a negative limit means the default", relay.AuditFilter{Limit: -1}, []string{"e6", "e5", "e4", "e3", "e2", "e1"}},
		{"a limit above the maximum is capped, not refused", relay.AuditFilter{Limit: store.MaxAuditLimit + 1}, []string{"e6", "e5", "e4", "e3", "e2", "e1"}},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, e := range events {
			e.TenantID = "t1"
			must(t, db.AppendAudit(ctx, e))
		}
		// Noise in another tenant that every filter would otherwise match.
		for _, e := range events {
			e.TenantID = "t2"
			e.ID += "-t2"
			must(t, db.AppendAudit(ctx, e))
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := db.Audit(ctx, "t1", tt.filter)
				must(t, err)
				var ids []string
				for _, e := range got {
					ids = append(ids, e.ID)
				}
				wantEqual(t, "ids", ids, tt.want)
			})
		}
		t.Run("every field reads back", func(t *testing.T) {
			got, err := db.Audit(ctx, "t1", relay.AuditFilter{Username: "carol"})
			must(t, err)
			want := events[5]
			want.TenantID = "t1"
			wantEqual(t, "events", got, []relay.AuditEvent{want})
		})
	})
}

func TestAppendAudit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()

		t.Run("an empty id and time are filled in", func(t *testing.T) {
			before := time.Now().Add(-time.Second)
			must(t, db.AppendAudit(ctx, relay.AuditEvent{TenantID: "t1", Action: relay.ActionBranchCreate}))
			must(t, db.AppendAudit(ctx, relay.AuditEvent{TenantID: "t1", Action: relay.ActionBranchCreate}))
			after := time.Now().Add(time.Second)
			got, err := db.Audit(ctx, "t1", relay.AuditFilter{})
			must(t, err)
			if len(got) != 2 {
				t.Fatalf("got %d events, want 2", len(got))
			}
			if got[0].ID == "" || got[0].ID == got[1].ID {
				t.Fatalf("got ids %q and %q, want two distinct ids", got[0].ID, got[1].ID)
			}
			for _, e := range got {
				if e.At.Before(before) || e.At.After(after) {
					t.Fatalf("got time %v, want now", e.At)
				}
			}
		})

		t.Run("an event without a tenant is refused", func(t *testing.T) {
			if err := db.AppendAudit(ctx, relay.AuditEvent{Action: relay.ActionBranchCreate}); err == nil {
				t.Fatal("got nil error, want one")
			}
		})

		t.Run("a duplicate id is a conflict", func(t *testing.T) {
			e := relay.AuditEvent{TenantID: "t1", ID: "dup"}
			must(t, db.AppendAudit(ctx, e))
			wantCode(t, db.AppendAudit(ctx, e), relay.EConflict, "")
		})
	})
}

func TestAuditDefaultLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		n := store.DefaultAuditLimit + 5
		for i := range n {
			must(t, db.AppendAudit(ctx, relay.AuditEvent{TenantID: "t1", ID: fmt.Sprintf("e%04d", i), At: at(i)}))
		}
		got, err := db.Audit(ctx, "t1", relay.AuditFilter{})
		must(t, err)
		if len(got) != store.DefaultAuditLimit {
			t.Fatalf("got %d events, want the default limit %d", len(got), store.DefaultAuditLimit)
		}
		if want := fmt.Sprintf("e%04d", n-1); got[0].ID != want {
			t.Fatalf("got newest %q, want %q", got[0].ID, want)
		}
	})
}
