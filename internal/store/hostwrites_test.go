package store_test

import (
	"context"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// pendingWrite is a host write begun at minute m.
func pendingWrite(id, tenant, action, ref string, m int) relay.HostWrite {
	return relay.HostWrite{
		Event: relay.AuditEvent{ID: id, TenantID: tenant, At: at(m), UserID: "u-alice", Username: "alice",
			Action: action, IntegrationID: "i1", Repository: "acme/r1", Ref: ref, IssueKey: "ABC-1",
			Via: relay.ViaUserToken, Login: "alice-gh", Outcome: relay.OutcomePending},
		RepositoryID: "r1",
	}
}

func auditEvent(t *testing.T, db *store.DB, tenant, id string) relay.AuditEvent {
	t.Helper()
	events, err := db.Audit(context.Background(), tenant, relay.AuditFilter{Limit: store.MaxAuditLimit})
	must(t, err)
	for _, e := range events {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("no audit event %s", id)
	return relay.AuditEvent{}
}

func pendingIDs(t *testing.T, db *store.DB, before int) []string {
	t.Helper()
	ws, err := db.PendingHostWrites(context.Background(), at(before), 0)
	must(t, err)
	ids := []string{}
	for _, w := range ws {
		ids = append(ids, w.Event.ID)
	}
	return ids
}

func TestHostWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()

		t.Run("a begun write is a pending audit row and a pending write", func(t *testing.T) {
			w := pendingWrite("w1", "t1", relay.ActionBranchCreate, "ABC-1-fix", 1)
			w.Event.Outcome = "" // whatever the caller says, it is pending
			must(t, db.BeginHostWrite(ctx, w))
			e := auditEvent(t, db, "t1", "w1")
			want := w.Event
			want.Outcome = relay.OutcomePending
			wantEqual(t, "pending audit row", e, want)
			ws, err := db.PendingHostWrites(ctx, at(2), 10)
			must(t, err)
			w.Event.Outcome = relay.OutcomePending
			wantEqual(t, "pending writes", ws, []relay.HostWrite{w})
			byOutcome, err := db.Audit(ctx, "t1", relay.AuditFilter{Outcome: relay.OutcomePending})
			must(t, err)
			if len(byOutcome) != 1 || byOutcome[0].ID != "w1" {
				t.Fatalf("audit filtered on pending = %+v", byOutcome)
			}
		})

		t.Run("only writes begun before the given time are listed, oldest first, across tenants", func(t *testing.T) {
			must(t, db.BeginHostWrite(ctx, pendingWrite("w2", "t2", relay.ActionBranchDelete, "ABC-1-old", 0)))
			must(t, db.BeginHostWrite(ctx, pendingWrite("w3", "t1", relay.ActionBranchCreate, "ABC-1-new", 5)))
			wantEqual(t, "pending before minute 2", pendingIDs(t, db, 2), []string{"w2", "w1"})
			wantEqual(t, "pending before minute 9", pendingIDs(t, db, 9), []string{"w2", "w1", "w3"})
		})

		t.Run("completing with the record updates the row in place and settles it, atomically", func(t *testing.T) {
			e := pendingWrite("w1", "t1", relay.ActionBranchCreate, "ABC-1-fix", 1).Event
			e.Outcome, e.Completes, e.Detail = relay.OutcomeSuccess, true, "done"
			before := auditCount(t, db, "t1")
			must(t, db.RecordBranch(ctx, newBranch("b1", "ABC-1", "r1", "ABC-1-fix", 1), e))
			if n := auditCount(t, db, "t1"); n != before {
				t.Fatalf("audit rows %d → %d; completing must not add a row", before, n)
			}
			got := auditEvent(t, db, "t1", "w1")
			e.Completes = false
			wantEqual(t, "completed row (same id and time)", got, e)
			wantEqual(t, "pending", pendingIDs(t, db, 9), []string{"w2", "w3"})
			bs, err := db.IssueBranches(ctx, "t1", "ABC-1")
			must(t, err)
			if len(bs) != 1 || bs[0].Name != "ABC-1-fix" {
				t.Fatalf("branches = %+v", bs)
			}
		})

		t.Run("completing as failed through AppendAudit settles it", func(t *testing.T) {
			e := pendingWrite("w3", "t1", relay.ActionBranchCreate, "ABC-1-new", 5).Event
			e.Outcome, e.ErrorCode, e.Detail, e.Completes = relay.OutcomeFailed, relay.EHostError, "host broke", true
			must(t, db.AppendAudit(ctx, e))
			if got := auditEvent(t, db, "t1", "w3"); got.Outcome != relay.OutcomeFailed || got.ErrorCode != relay.EHostError {
				t.Fatalf("row = %+v", got)
			}
			wantEqual(t, "pending", pendingIDs(t, db, 9), []string{"w2"})
		})

		t.Run("a completed row is not completed again, except from unknown", func(t *testing.T) {
			e := pendingWrite("w3", "t1", relay.ActionBranchCreate, "ABC-1-new", 5).Event
			e.Outcome, e.Completes = relay.OutcomeSuccess, true
			must(t, db.AppendAudit(ctx, e))
			if got := auditEvent(t, db, "t1", "w3"); got.Outcome != relay.OutcomeFailed {
				t.Fatalf("a failed row became %s", got.Outcome)
			}
			u := pendingWrite("w2", "t2", relay.ActionBranchDelete, "ABC-1-old", 0).Event
			u.Outcome, u.Detail, u.Completes = relay.OutcomeUnknown, "host unreachable", true
			must(t, db.ForgetBranch(ctx, "t2", "i1", "r1", "ABC-1-old", u))
			u.Outcome, u.Detail = relay.OutcomeSuccess, "the caller knew better"
			must(t, db.ForgetBranch(ctx, "t2", "i1", "r1", "ABC-1-old", u))
			if got := auditEvent(t, db, "t2", "w2"); got.Outcome != relay.OutcomeSuccess {
				t.Fatalf("an unknown row corrected by the caller is %s", got.Outcome)
			}
			wantEqual(t, "pending", pendingIDs(t, db, 9), []string{})
		})

		t.Run("deferring counts attempts and keeps the reason", func(t *testing.T) {
			must(t, db.BeginHostWrite(ctx, pendingWrite("w4", "t1", relay.ActionPullRequestCreate, "ABC-1-fix", 6)))
			must(t, db.DeferHostWrite(ctx, "t1", "w4", "host unreachable"))
			must(t, db.DeferHostWrite(ctx, "t1", "w4", "host busy"))
			ws, err := db.PendingHostWrites(ctx, at(9), 0)
			must(t, err)
			if len(ws) != 1 || ws[0].Attempts != 2 || ws[0].LastError != "host busy" {
				t.Fatalf("pending = %+v", ws)
			}
			must(t, db.DeferHostWrite(ctx, "t1", "gone", "no such write is not an error"))
		})

		t.Run("a write id already begun is a conflict, and nothing is half-written", func(t *testing.T) {
			before := auditCount(t, db, "t1")
			wantCode(t, db.BeginHostWrite(ctx, pendingWrite("w4", "t1", relay.ActionPullRequestCreate, "x", 7)), relay.EConflict, "")
			if n := auditCount(t, db, "t1"); n != before {
				t.Fatalf("audit rows %d → %d", before, n)
			}
		})
	})
}
