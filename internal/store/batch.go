package store

import (
	"context"
	"database/sql/driver"
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
	for attempt := 1; ; attempt++ {
		read, err := db.batchOnce(ctx, c, queries)
		// Sent again on another connection when the connection was lost
		// before any result was handed to a reader (they append what they
		// read): reading twice changes nothing.
		if err == nil || read || attempt >= retries || !connectionLost(err) || ctx.Err() != nil {
			return lostConnection(err)
		}
	}
}

// batchOnce sends the batch once, and says whether any result reached its
// reader.
func (db *DB) batchOnce(ctx context.Context, c conn, queries []batchQuery) (read bool, err error) {
	sc, err := db.read.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("store: batch: %w", err)
	}
	defer sc.Close()
	c.trips.Add(1)
	err = sc.Raw(func(dc any) error {
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
				return badConn(fmt.Errorf("store: batch: %w", err))
			}
			read = true
			err = q.read(rows)
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
			if err != nil {
				_ = results.Close()
				return badConn(err)
			}
		}
		if err := results.Close(); err != nil {
			return badConn(fmt.Errorf("store: batch: %w", err))
		}
		return nil
	})
	return read, err
}

// badConn marks err as the connection's end when it is a lost connection,
// so that database/sql drops the connection rather than hand it out again.
func badConn(err error) error {
	if connectionLost(err) {
		return fmt.Errorf("%w: %w", driver.ErrBadConn, err)
	}
	return err
}
