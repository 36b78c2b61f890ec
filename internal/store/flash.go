package store

import (
	"context"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// Flash is what one page of a browser session hands the page it redirects
// to (web_flashes): Data is the page's own encoding, which never holds a
// secret.
type Flash struct {
	SessionHash []byte
	TenantID    string
	Path        string
	Data        string
	ExpiresAt   time.Time
}

// PutFlash keeps f for the next read of its path in its session, replacing
// an unread one.
func (db *DB) PutFlash(ctx context.Context, f Flash) error {
	if len(f.SessionHash) == 0 || f.Path == "" {
		return relay.Errorf(relay.EInvalid, "A page message needs a session and a path.")
	}
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO web_flashes (token_hash, path, tenant_id, data, expires_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (token_hash, path) DO UPDATE SET
				tenant_id = excluded.tenant_id, data = excluded.data, expires_at = excluded.expires_at`,
			f.SessionHash, f.Path, f.TenantID, f.Data, micros(f.ExpiresAt))
		return dbError(err, "put page message", "", "")
	})
}

// TakeFlash returns and deletes the unexpired message for path in the
// session, or ENotFound: a message is read once.
func (db *DB) TakeFlash(ctx context.Context, sessionHash []byte, path string) (Flash, error) {
	f := Flash{SessionHash: sessionHash, Path: path}
	err := db.inTx(ctx, func(c conn) error {
		var expires int64
		err := c.queryRow(ctx, `SELECT tenant_id, data, expires_at FROM web_flashes
			WHERE token_hash = ? AND path = ? AND expires_at > ?`, sessionHash, path, micros(db.now())).
			Scan(&f.TenantID, &f.Data, &expires)
		if err != nil {
			return dbError(err, "read page message", "no message for this page", "")
		}
		f.ExpiresAt = fromMicros(expires)
		_, err = c.exec(ctx, `DELETE FROM web_flashes WHERE token_hash = ? AND path = ?`, sessionHash, path)
		return dbError(err, "delete page message", "", "")
	})
	if err != nil {
		return Flash{}, err
	}
	return f, nil
}

// DeleteExpiredFlashes removes the messages nobody read in time.
func (db *DB) DeleteExpiredFlashes(ctx context.Context) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, `DELETE FROM web_flashes WHERE expires_at <= ?`, micros(db.now()))
		if err != nil {
			return dbError(err, "delete expired page messages", "", "")
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
