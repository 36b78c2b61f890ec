package store

import (
	"context"
	"database/sql"
	"fmt"
)

// WritePool is the pool write transactions use: on SQLite its one
// connection, on PostgreSQL the shared pool. The job queue (package jobs)
// runs on it, so that a job can be inserted in the transaction that writes
// what it is about (TxHook).
func (db *DB) WritePool() *sql.DB { return db.write }

// TxHook runs inside a store write transaction, after the method's own
// statements, on the same *sql.Tx: what it does commits or rolls back
// with them. It must use only tx (on SQLite the transaction holds the only
// write connection). It is an alias, so that packages that may not import
// the store (the index) can name the same type.
type TxHook = func(ctx context.Context, tx *sql.Tx) error

// JobCount is how many background jobs of a kind are in a state.
type JobCount struct {
	Kind, State string
	Count       int64
}

// JobCounts counts the job queue's jobs (River's river_job table, created
// by jobs.Migrate) by kind and state.
func (db *DB) JobCounts(ctx context.Context) ([]JobCount, error) {
	rows, err := db.reader().query(ctx, `SELECT kind, state, COUNT(*) FROM river_job GROUP BY kind, state ORDER BY kind, state`)
	if err != nil {
		return nil, fmt.Errorf("store: count jobs: %w", err)
	}
	defer rows.Close()
	var out []JobCount
	for rows.Next() {
		var c JobCount
		if err := rows.Scan(&c.Kind, &c.State, &c.Count); err != nil {
			return nil, fmt.Errorf("store: count jobs: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: count jobs: %w", err)
	}
	return out, nil
}
