package store

import (
	"context"
	"time"
)

// SignInFailures are the wrong passwords counted against a client address
// and one username from it, each within a window starting at its first
// failure (zero times when there is none).
type SignInFailures struct {
	Address, User           int
	AddressSince, UserSince time.Time
}

// SignInFailures returns the failures of address, and of username from
// address, whose windows started after now-window.
func (db *DB) SignInFailures(ctx context.Context, tenantID, address, username string, now time.Time, window time.Duration) (SignInFailures, error) {
	rows, err := db.reader().query(ctx, `SELECT username, failures, window_start FROM signin_failures
		WHERE tenant_id = ? AND address = ? AND username IN ('', ?) AND window_start > ?`,
		tenantID, address, username, micros(now.Add(-window)))
	if err != nil {
		return SignInFailures{}, dbError(err, "read sign-in failures", "", "")
	}
	defer rows.Close()
	var f SignInFailures
	for rows.Next() {
		var (
			user     string
			n, start int64
		)
		if err := rows.Scan(&user, &n, &start); err != nil {
			return SignInFailures{}, dbError(err, "read sign-in failures", "", "")
		}
		if user == "" {
			f.Address, f.AddressSince = int(n), fromMicros(start)
		} else {
			f.User, f.UserSince = int(n), fromMicros(start)
		}
	}
	if err := rows.Err(); err != nil {
		return SignInFailures{}, dbError(err, "read sign-in failures", "", "")
	}
	return f, nil
}

// RecordSignInFailure counts a wrong password for username (never empty)
// from address: once for the address, and once for the username unless the
// address already reached addressLimit, so that spraying usernames from a
// blocked address adds no rows. Counts whose window (started more than
// window ago) has passed start again at one; rows of every address whose
// window has passed are deleted, which bounds the table.
func (db *DB) RecordSignInFailure(ctx context.Context, tenantID, address, username string, now time.Time, window time.Duration, addressLimit int) error {
	cutoff := micros(now.Add(-window))
	return db.inTx(ctx, func(c conn) error {
		if _, err := c.exec(ctx, `DELETE FROM signin_failures WHERE window_start <= ?`, cutoff); err != nil {
			return dbError(err, "expire sign-in failures", "", "")
		}
		// The address's row first: on PostgreSQL its row lock orders
		// concurrent failures from one address.
		if err := countFailure(ctx, c, tenantID, address, "", now, cutoff); err != nil {
			return err
		}
		var n int64
		err := c.queryRow(ctx, `SELECT failures FROM signin_failures WHERE tenant_id = ? AND address = ? AND username = ''`,
			tenantID, address).Scan(&n)
		if err != nil {
			return dbError(err, "read sign-in failures", "", "")
		}
		if n > int64(addressLimit) {
			return nil
		}
		return countFailure(ctx, c, tenantID, address, username, now, cutoff)
	})
}

func countFailure(ctx context.Context, c conn, tenantID, address, username string, now time.Time, cutoff int64) error {
	_, err := c.exec(ctx, `INSERT INTO signin_failures (tenant_id, address, username, failures, window_start) VALUES (?, ?, ?, 1, ?)
		ON CONFLICT (tenant_id, address, username) DO UPDATE SET
			failures = CASE WHEN signin_failures.window_start <= ? THEN 1 ELSE signin_failures.failures + 1 END,
			window_start = CASE WHEN signin_failures.window_start <= ? THEN excluded.window_start ELSE signin_failures.window_start END`,
		tenantID, address, username, micros(now), cutoff, cutoff)
	return dbError(err, "record sign-in failure", "", "")
}

// ForgetSignInFailures forgets the failures of username from address; the
// address's own count stays.
func (db *DB) ForgetSignInFailures(ctx context.Context, tenantID, address, username string) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `DELETE FROM signin_failures WHERE tenant_id = ? AND address = ? AND username = ?`,
			tenantID, address, username)
		return dbError(err, "forget sign-in failures", "", "")
	})
}

// CountSignInFailureRows counts the rows of signin_failures, for tests
// that check the table stays bounded.
func (db *DB) CountSignInFailureRows(ctx context.Context) (int, error) {
	var n int64
	err := db.reader().queryRow(ctx, `SELECT COUNT(*) FROM signin_failures`).Scan(&n)
	return int(n), dbError(err, "count sign-in failures", "", "")
}

// TakeRepositoryRead leases the full read of the integration's repository
// list to owner until now+lease, unless another replica holds the lease or
// a read started less than minInterval ago. When it cannot, it returns
// false, whether another replica is reading now (leased), and how long
// until a read may start.
func (db *DB) TakeRepositoryRead(ctx context.Context, tenantID, integrationID, owner string, now time.Time, minInterval, lease time.Duration) (taken, leased bool, wait time.Duration, err error) {
	err = db.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, `INSERT INTO repository_reads (tenant_id, integration_id, started_at, leased_until, owner) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, integration_id) DO UPDATE SET
				started_at = excluded.started_at, leased_until = excluded.leased_until, owner = excluded.owner
			WHERE repository_reads.started_at <= ? AND repository_reads.leased_until <= ?`,
			tenantID, integrationID, micros(now), micros(now.Add(lease)), owner, micros(now.Add(-minInterval)), micros(now))
		if err != nil {
			return dbError(err, "lease repository read", msgIntegrationNotFound, "")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbError(err, "lease repository read", "", "")
		}
		if taken = n > 0; taken {
			return nil
		}
		var started, until int64
		err = c.queryRow(ctx, `SELECT started_at, leased_until FROM repository_reads WHERE tenant_id = ? AND integration_id = ?`,
			tenantID, integrationID).Scan(&started, &until)
		if err != nil {
			return dbError(err, "read repository read lease", "", "")
		}
		leased = fromMicros(until).After(now)
		wait = max(fromMicros(started).Add(minInterval).Sub(now), fromMicros(until).Sub(now), time.Microsecond)
		return nil
	})
	return taken, leased, wait, err
}

// EndRepositoryRead releases owner's lease on the integration's repository
// read; its start still spaces the next read.
func (db *DB) EndRepositoryRead(ctx context.Context, tenantID, integrationID, owner string) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `UPDATE repository_reads SET leased_until = 0 WHERE tenant_id = ? AND integration_id = ? AND owner = ?`,
			tenantID, integrationID, owner)
		return dbError(err, "release repository read", "", "")
	})
}

// ForgetRepositoryReads lets the next read of the integration's list start
// at once (its settings changed), unless one is under way.
func (db *DB) ForgetRepositoryReads(ctx context.Context, tenantID, integrationID string) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `UPDATE repository_reads SET started_at = 0 WHERE tenant_id = ? AND integration_id = ?`,
			tenantID, integrationID)
		return dbError(err, "forget repository reads", "", "")
	})
}
