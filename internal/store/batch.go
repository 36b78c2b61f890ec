package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// scanRows is what reading a result needs, from database/sql's rows or
// pgx's.
type scanRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// batchQuery is one statement of a batch and what reads its rows.
type batchQuery struct {
	query string
	args  []any
	read  func(rows scanRows) error
}

// batch sends queries to PostgreSQL together, one round trip for all,
// and reads their results in order on c's pool; the first error stops
// it. Like c.query it first makes the request's pending token check
// unless c is a checking conn (see settle), and it counts one round trip.
// Read-only statements only: a batch is not a transaction.
func (db *DB) batch(ctx context.Context, c conn, queries []batchQuery) error {
	if err := c.settle(ctx); err != nil {
		return err
	}
	pool := db.read
	sc, err := pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: batch: %w", err)
	}
	defer sc.Close()
	c.trips.Add(1)
	return sc.Raw(func(dc any) error {
		sconn, ok := dc.(*stdlib.Conn)
		if !ok {
			return errors.New("store: batch: not a PostgreSQL connection")
		}
		b := &pgx.Batch{}
		for _, q := range queries {
			b.Queue(rebind(true, q.query), q.args...)
		}
		results := sconn.Conn().SendBatch(ctx, b)
		for _, q := range queries {
			rows, err := results.Query()
			if err != nil {
				_ = results.Close()
				return fmt.Errorf("store: batch: %w", err)
			}
			err = q.read(rows)
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
			if err != nil {
				_ = results.Close()
				return err
			}
		}
		if err := results.Close(); err != nil {
			return fmt.Errorf("store: batch: %w", err)
		}
		return nil
	})
}
