package store

import (
	"context"
	"database/sql"
	"fmt"
)

// MigrateBefore applies, in order, only the migrations older than version,
// leaving the database as a release before version left it. Tests use it to
// prove that a migration upgrades existing data.
func MigrateBefore(ctx context.Context, db *DB, version string) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `CREATE TABLE schema_migrations (
			version    TEXT   NOT NULL PRIMARY KEY,
			applied_at BIGINT NOT NULL
		)`)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.version >= version {
				break
			}
			if _, err := c.exec(ctx, migrationSQL(db.dialect, m.text)); err != nil {
				return fmt.Errorf("migration %s: %w", m.version, err)
			}
			if _, err := c.exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.version, micros(db.now())); err != nil {
				return err
			}
		}
		return nil
	})
}

// ExecRaw runs one statement in its own transaction, for tests that write
// rows the way an older release did.
func ExecRaw(ctx context.Context, db *DB, query string, args ...any) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, query, args...)
		return err
	})
}

// The lists DeleteJiraTenant works from, for the test that every table
// with tenant rows is on one of them.
var JiraTenantTables, JiraTenantHistory = jiraTenantTables, jiraTenantHistory

// TablesWithTenants lists the tables of db that have a tenant_id column,
// read from the database's own catalogue.
func TablesWithTenants(ctx context.Context, db *DB) ([]string, error) {
	q := `SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c
		WHERE m.type = 'table' AND c.name = 'tenant_id'`
	if db.dialect == DialectPostgres {
		q = `SELECT table_name FROM information_schema.columns
			WHERE column_name = 'tenant_id' AND table_schema = current_schema()`
	}
	rows, err := db.read.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// PoolBackends returns the PostgreSQL backend process ids of n connections
// of db's pool, which are idle in the pool again when it returns (n at most
// the idle connections the pool keeps).
func PoolBackends(ctx context.Context, db *DB, n int) ([]int, error) {
	var pids []int
	for range n {
		c, err := db.write.Conn(ctx)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		var pid int
		if err := c.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			return nil, err
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// SetCommitFault makes every transaction of db commit through fault, which
// is given the real commit: a test can make a COMMIT and lose its answer,
// or lose the connection before committing.
func SetCommitFault(db *DB, fault func(commit func() error) error) {
	db.commitFault = fault
}

// BeginWrite begins a transaction on db's writer, as a write method does,
// for tests that interleave two of them.
func BeginWrite(ctx context.Context, db *DB) (*sql.Tx, error) {
	return db.write.BeginTx(ctx, nil)
}

// QueryRowRaw runs a query as written (PostgreSQL's placeholders on
// PostgreSQL) on a connection of db's pool.
func QueryRowRaw(ctx context.Context, db *DB, query string, args ...any) *sql.Row {
	return db.read.QueryRowContext(ctx, query, args...)
}
