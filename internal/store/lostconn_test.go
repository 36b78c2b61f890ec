package store_test

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// PostgreSQL's connections can be terminated under a running server
// (pg_terminate_backend, a failover, a restart). The next reads, writes
// and transactions do not fail with them: the pool drops each dead
// connection and the statement runs on another.
func TestTerminatedPostgresConnectionsAreReplaced(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	admin, err := sql.Open("pgx", os.Getenv(storetest.EnvDatabaseURL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	must(t, db.EnsureTenant(ctx, "t1", "One"))

	for _, use := range []struct {
		name string
		run  func() error
	}{
		{"a read of one row", func() error { _, err := db.Settings(ctx, "t1"); return err }},
		{"a read of rows", func() error { _, err := db.IssueBranches(ctx, "t1", "ABC-1"); return err }},
		{"the panel's batch of reads", func() error { _, err := db.PanelReads(ctx, "t1", "u1", "ABC-1"); return err }},
		{"a transaction", func() error {
			return db.AppendAudit(ctx, relay.AuditEvent{TenantID: "t1", Action: relay.ActionBranchCreate})
		}},
	} {
		t.Run(use.name, func(t *testing.T) {
			pids, err := store.PoolBackends(ctx, db, 4)
			must(t, err)
			terminate(t, admin, pids)
			if err := use.run(); err != nil {
				t.Errorf("after the pool's connections were terminated: %v, want success", err)
			}
		})
	}
}

// terminate ends the PostgreSQL backends pids and waits until they are
// gone.
func terminate(t *testing.T, admin *sql.DB, pids []int) {
	t.Helper()
	ctx := context.Background()
	for _, pid := range pids {
		if _, err := admin.ExecContext(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatal(err)
		}
	}
	for _, pid := range pids {
		for {
			var n int
			if err := admin.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond) // polling for the backend's exit, which nothing announces
		}
	}
}
