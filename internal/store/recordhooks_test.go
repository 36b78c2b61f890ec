package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// queueing hooks queue one devinfo op per change, or fail.
type queueing struct {
	db   *store.DB
	fail error
}

func (h *queueing) Wants(tenantID string) bool { return tenantID != relay.LocalTenant }

func (h *queueing) queue(ctx context.Context, tx *sql.Tx, tenant, op string) error {
	if h.fail != nil {
		return h.fail
	}
	_, err := h.db.EnqueueDevinfoTx(ctx, tx, store.DevinfoOp{TenantID: tenant, Op: op, Payload: []byte(`{}`)}, 0)
	return err
}

func (h *queueing) BranchRecorded(ctx context.Context, tx *sql.Tx, b relay.BranchRecord) error {
	return h.queue(ctx, tx, b.TenantID, "upsert_branch:"+b.Name)
}

func (h *queueing) BranchForgotten(ctx context.Context, tx *sql.Tx, b relay.BranchRecord) error {
	return h.queue(ctx, tx, b.TenantID, "delete_branch:"+b.Name)
}

func (h *queueing) PullRequestRecorded(ctx context.Context, tx *sql.Tx, pr relay.PullRequestRecord) error {
	return h.queue(ctx, tx, pr.TenantID, "upsert_pull_request:"+pr.Source)
}

// What the record hooks write commits with the record and the completed
// audit row, or not at all: a completed write is never left untold to
// Jira, and a change Jira cannot be told of leaves the write pending for
// reconciliation rather than completed without it.
func TestRecordHooksCommitWithTheRecord(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		h := &queueing{db: db}
		db.SetRecordHooks(h)
		complete := func(id string) relay.AuditEvent {
			w := pendingWrite(id, "t1", relay.ActionBranchCreate, "ABC-1-"+id, 1)
			must(t, db.BeginHostWrite(ctx, w))
			e := w.Event
			e.Outcome, e.Completes = relay.OutcomeSuccess, true
			return e
		}
		branch := func(name string) relay.BranchRecord {
			return relay.BranchRecord{ID: relay.NewID(), TenantID: "t1", IssueKey: "ABC-1", IntegrationID: "i1",
				RepositoryID: "r1", Repository: "acme/r1", Name: name, URL: "https://example.com/" + name}
		}
		queued := func() []string {
			ops, err := db.QueuedDevinfo(ctx, "t1", 100)
			must(t, err)
			var names []string
			for _, op := range ops {
				names = append(names, op.Op)
			}
			return names
		}

		must(t, db.RecordBranch(ctx, branch("ABC-1-w1"), complete("w1")))
		must(t, db.ForgetBranch(ctx, "t1", "i1", "r1", "ABC-1-w1", func() relay.AuditEvent {
			e := complete("w2")
			e.Action = relay.ActionBranchDelete
			return e
		}()))
		must(t, db.RecordPullRequest(ctx, relay.PullRequestRecord{ID: relay.NewID(), TenantID: "t1", IssueKey: "ABC-1",
			IntegrationID: "i1", RepositoryID: "r1", Number: 1, Source: "ABC-1-src", Target: "main"}, complete("w3")))
		if got, want := queued(), []string{"upsert_branch:ABC-1-w1", "delete_branch:ABC-1-w1", "upsert_pull_request:ABC-1-src"}; !equalStrings(got, want) {
			t.Errorf("queued %v, want %v", got, want)
		}

		h.fail = errors.New("the queue refused")
		if err := db.RecordBranch(ctx, branch("ABC-1-w4"), complete("w4")); err == nil {
			t.Fatal("recording a branch whose hook failed succeeded, want the error")
		}
		if e := auditEvent(t, db, "t1", "w4"); e.Outcome != relay.OutcomePending {
			t.Errorf("audit row of a write whose hook failed: %q, want still pending", e.Outcome)
		}
		bs, err := db.IssueBranches(ctx, "t1", "ABC-1")
		must(t, err)
		for _, b := range bs {
			if b.Name == "ABC-1-w4" {
				t.Error("the branch whose hook failed is recorded")
			}
		}

		// A failed write tells Jira nothing, and needs no hook.
		e := complete("w5")
		e.Outcome, e.ErrorCode = relay.OutcomeFailed, relay.EHostError
		must(t, db.AppendAudit(ctx, e))
		if got := queued(); len(got) != 3 {
			t.Errorf("queued %v after a failed write, want the 3 before", got)
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// terminating hooks terminate their transaction's own connection the
// first time, as pg_terminate_backend or a failover would mid-change.
type terminating struct {
	queueing
	t     *testing.T
	admin *sql.DB
	done  bool
}

func (h *terminating) BranchRecorded(ctx context.Context, tx *sql.Tx, b relay.BranchRecord) error {
	if !h.done {
		h.done = true
		var pid int
		if err := tx.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			return err
		}
		terminate(h.t, h.admin, []int{pid})
		if _, err := tx.ExecContext(ctx, "SELECT 1"); err == nil {
			h.t.Fatal("a statement on a terminated connection succeeded, so the scenario proves nothing")
		} else {
			return err
		}
	}
	return h.queueing.BranchRecorded(ctx, tx, b)
}

// A change whose connection PostgreSQL terminates in the middle of its
// transaction did not commit, and is made again, whole, on another
// connection: the host write it completes is recorded once, with its
// Jira change queued once.
func TestAChangeWhoseConnectionIsTerminatedIsMadeAgain(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	admin, err := sql.Open("pgx", os.Getenv(storetest.EnvDatabaseURL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	h := &terminating{queueing: queueing{db: db}, t: t, admin: admin}
	db.SetRecordHooks(h)

	w := pendingWrite("w1", "t1", relay.ActionBranchCreate, "ABC-1-w1", 1)
	must(t, db.BeginHostWrite(ctx, w))
	e := w.Event
	e.Outcome, e.Completes = relay.OutcomeSuccess, true
	must(t, db.RecordBranch(ctx, relay.BranchRecord{ID: relay.NewID(), TenantID: "t1", IssueKey: "ABC-1",
		IntegrationID: "i1", RepositoryID: "r1", Repository: "acme/r1", Name: "ABC-1-w1"}, e))
	if !h.done {
		t.Fatal("the hook never ran")
	}
	if got := auditEvent(t, db, "t1", "w1").Outcome; got != relay.OutcomeSuccess {
		t.Errorf("audit row %q, want success", got)
	}
	ops, err := db.QueuedDevinfo(ctx, "t1", 100)
	must(t, err)
	if len(ops) != 1 {
		t.Errorf("%d devinfo ops queued, want 1", len(ops))
	}
}
