package store

import (
	"context"
	"fmt"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// DueTokenChecks lists, across every tenant, at most limit saved tokens
// the periodic token check should ask their host about: valid, bound to
// the host they were validated against (an origin), and neither checked
// nor saved since before. The longest unchecked come first, so that
// successive runs go round every token.
func (db *DB) DueTokenChecks(ctx context.Context, before time.Time, limit int) ([]relay.UserToken, error) {
	rows, err := db.reader().query(ctx, `SELECT `+userTokenColumns+` FROM user_tokens
		WHERE status = ? AND origin <> '' AND checked_at < ?
		ORDER BY checked_at, tenant_id, user_id, integration_id LIMIT ?`,
		string(relay.TokenValid), micros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("store: list tokens due for a check: %w", err)
	}
	defer rows.Close()
	var out []relay.UserToken
	for rows.Next() {
		t, err := scanUserToken(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list tokens due for a check: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list tokens due for a check: %w", err)
	}
	return out, nil
}

// TokenChecked records that t was checked at, unless it was saved again
// or removed since it was read (its sealed value changed): the newer
// token counts from its own save.
func (db *DB) TokenChecked(ctx context.Context, t relay.UserToken, at time.Time) error {
	at = db.orNow(at)
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `UPDATE user_tokens SET checked_at = ?
			WHERE tenant_id = ? AND user_id = ? AND integration_id = ? AND token_sealed = ?`,
			micros(at), t.TenantID, t.UserID, t.IntegrationID, t.Sealed)
		return dbError(err, "record token check", "", "")
	})
}

// MarkCheckedToken records what the host said at time at about t, a
// token the check found refused (status), and records e naming the
// token's user, in one transaction; unless the token was saved again or
// removed since it was read, or is no longer valid (an action found it
// refused meanwhile, and said so). It reports whether it marked the token.
func (db *DB) MarkCheckedToken(ctx context.Context, t relay.UserToken, status relay.TokenStatus, at time.Time, e relay.AuditEvent) (bool, error) {
	at = db.orNow(at)
	var n int64
	err := db.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, `UPDATE user_tokens SET status = ?, validated_at = ?, checked_at = ?
			WHERE tenant_id = ? AND user_id = ? AND integration_id = ? AND token_sealed = ? AND status = ?`,
			string(status), micros(at), micros(at), t.TenantID, t.UserID, t.IntegrationID, t.Sealed, string(relay.TokenValid))
		if err != nil {
			return dbError(err, "mark checked token", "", "")
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		e.UserID, e.Login, e.IntegrationID = t.UserID, t.Account.Login, t.IntegrationID
		if e.Username, err = ownerName(ctx, c, t.TenantID, t.UserID); err != nil {
			return err
		}
		return db.insertAudit(ctx, c, t.TenantID, e)
	})
	return n > 0, err
}
