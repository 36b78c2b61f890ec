package store_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// Two transactions queuing Jira development information for one tenant at
// the same moment take distinct sequences (Jira keeps the entity of the
// highest updateSequenceId): the second waits for the first's commit and
// counts on from it. On PostgreSQL, where the two run at once; SQLite has
// one writer.
func TestConcurrentDevinfoQueuesTakeDistinctSequences(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	enqueue := func(tx *sql.Tx) (int64, error) {
		op, err := db.EnqueueDevinfoTx(ctx, tx, store.DevinfoOp{TenantID: "t1", Op: "upsert_indexed", Payload: []byte(`{}`)}, 0)
		return op.Sequence, err
	}
	begin := func() *sql.Tx {
		t.Helper()
		tx, err := store.BeginWrite(ctx, db)
		must(t, err)
		t.Cleanup(func() { _ = tx.Rollback() })
		return tx
	}
	// The tenant's sequence exists.
	tx0 := begin()
	_, err := enqueue(tx0)
	must(t, err)
	must(t, tx0.Commit())

	tx1 := begin()
	first, err := enqueue(tx1)
	must(t, err)
	tx2 := begin()
	var pid int
	must(t, tx2.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid))
	type taken struct {
		seq int64
		err error
	}
	second := make(chan taken, 1)
	go func() {
		seq, err := enqueue(tx2)
		if err == nil {
			err = tx2.Commit()
		}
		second <- taken{seq, err}
	}()
	// The second waits for the first's lock before the first commits.
	for {
		var waiting bool
		err := store.QueryRowRaw(ctx, db, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock')`, pid).Scan(&waiting)
		must(t, err)
		if waiting {
			break
		}
		select {
		case got := <-second:
			t.Fatalf("the second transaction took sequence %d (%v) while the first had not committed", got.seq, got.err)
		case <-time.After(time.Millisecond):
		}
	}
	must(t, tx1.Commit())
	got := <-second
	must(t, got.err)
	if got.seq <= first {
		t.Fatalf("sequences %d then %d, want the second above the first", first, got.seq)
	}
}
