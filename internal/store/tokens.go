package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

const msgUserTokenNotFound = "no personal access token is saved for this integration"

const userTokenColumns = `tenant_id, user_id, integration_id, account_login, account_name, account_scopes,
	account_expires_at, status, validated_at, updated_at, origin, token_sealed`

// UserToken returns the user's token for the integration, or ENotFound when
// the user has saved none.
func (db *DB) UserToken(ctx context.Context, tenantID, userID, integrationID string) (relay.UserToken, error) {
	row := db.reader().queryRow(ctx, `SELECT `+userTokenColumns+` FROM user_tokens
		WHERE tenant_id = ? AND user_id = ? AND integration_id = ?`, tenantID, userID, integrationID)
	t, err := scanUserToken(row)
	if err != nil {
		return relay.UserToken{}, dbError(err, "read user token", msgUserTokenNotFound, "")
	}
	return t, nil
}

// UserTokens lists the user's tokens, ordered by integration id. The slice
// is never nil.
func (db *DB) UserTokens(ctx context.Context, tenantID, userID string) ([]relay.UserToken, error) {
	rows, err := db.reader().query(ctx, `SELECT `+userTokenColumns+` FROM user_tokens
		WHERE tenant_id = ? AND user_id = ? ORDER BY integration_id`, tenantID, userID)
	if err != nil {
		return nil, fmt.Errorf("store: list user tokens: %w", err)
	}
	defer rows.Close()
	out := []relay.UserToken{}
	for rows.Next() {
		t, err := scanUserToken(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list user tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list user tokens: %w", err)
	}
	return out, nil
}

// PutUserToken inserts or replaces the user's token for the integration
// and records e, and forgets why an earlier token was deleted (the user
// has a new one). It returns ENotFound when the integration does not
// exist in the token's tenant.
func (db *DB) PutUserToken(ctx context.Context, t relay.UserToken, e relay.AuditEvent) error {
	if len(t.Sealed) == 0 {
		return errors.New("store: put user token: no sealed token")
	}
	scopes, err := nullJSONList(t.Account.Scopes)
	if err != nil {
		return fmt.Errorf("store: encode account scopes: %w", err)
	}
	updated := db.orNow(t.UpdatedAt)
	if e.ID == "" {
		e.ID = relay.NewID()
	}
	return db.inTxAudited(ctx, t.TenantID, e, func(c conn) error {
		// A save validates the token with the host: it counts as a check.
		_, err := c.exec(ctx, `INSERT INTO user_tokens (`+userTokenColumns+`, checked_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, user_id, integration_id) DO UPDATE SET
				account_login = excluded.account_login,
				account_name = excluded.account_name,
				account_scopes = excluded.account_scopes,
				account_expires_at = excluded.account_expires_at,
				status = excluded.status,
				validated_at = excluded.validated_at,
				updated_at = excluded.updated_at,
				origin = excluded.origin,
				token_sealed = excluded.token_sealed,
				checked_at = excluded.checked_at`,
			t.TenantID, t.UserID, t.IntegrationID, t.Account.Login, t.Account.Name, scopes,
			nullTimePtr(t.Account.ExpiresAt), string(t.Status), nullMicros(t.ValidatedAt), micros(updated), t.Origin, t.Sealed,
			micros(updated))
		if err != nil {
			return dbError(err, "put user token", msgIntegrationNotFound, "")
		}
		if _, err := c.exec(ctx, `DELETE FROM user_token_notices WHERE tenant_id = ? AND user_id = ? AND integration_id = ?`,
			t.TenantID, t.UserID, t.IntegrationID); err != nil {
			return dbError(err, "clear user token notice", "", "")
		}
		return db.insertAudit(ctx, c, t.TenantID, e)
	})
}

// SetUserTokenStatus records what the host said about the token at time at
// (its ValidatedAt). It returns ENotFound when the user has saved no token.
func (db *DB) SetUserTokenStatus(ctx context.Context, tenantID, userID, integrationID string, s relay.TokenStatus, at time.Time) error {
	at = db.orNow(at)
	return db.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, `UPDATE user_tokens SET status = ?, validated_at = ?
			WHERE tenant_id = ? AND user_id = ? AND integration_id = ?`,
			string(s), micros(at), tenantID, userID, integrationID)
		if err != nil {
			return dbError(err, "set user token status", "", "")
		}
		return mustAffect(res, "set user token status", msgUserTokenNotFound)
	})
}

// DeleteUserToken deletes the user's token and records e. It returns
// ENotFound (and records nothing) when there is nothing to delete.
func (db *DB) DeleteUserToken(ctx context.Context, tenantID, userID, integrationID string, e relay.AuditEvent) error {
	return db.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, `DELETE FROM user_tokens WHERE tenant_id = ? AND user_id = ? AND integration_id = ?`,
			tenantID, userID, integrationID)
		if err != nil {
			return dbError(err, "delete user token", "", "")
		}
		if err := mustAffect(res, "delete user token", msgUserTokenNotFound); err != nil {
			return err
		}
		return db.insertAudit(ctx, c, tenantID, e)
	})
}

func scanUserToken(s scanner) (relay.UserToken, error) {
	var r userTokenScan
	if err := s.Scan(r.dest()...); err != nil {
		return relay.UserToken{}, err
	}
	return r.token()
}

// userTokenScan receives userTokenColumns, for queries that read them with
// other columns (see ActionReads).
type userTokenScan struct {
	t                    relay.UserToken
	scopes               sql.NullString
	expiresAt, validated sql.NullInt64
	status               string
	updated              int64
}

func (r *userTokenScan) dest() []any {
	return []any{&r.t.TenantID, &r.t.UserID, &r.t.IntegrationID, &r.t.Account.Login, &r.t.Account.Name, &r.scopes,
		&r.expiresAt, &r.status, &r.validated, &r.updated, &r.t.Origin, &r.t.Sealed}
}

func (r *userTokenScan) token() (relay.UserToken, error) {
	t := r.t
	var err error
	if t.Account.Scopes, err = fromNullJSONList(r.scopes); err != nil {
		return relay.UserToken{}, fmt.Errorf("decode account scopes: %w", err)
	}
	t.Account.ExpiresAt = fromNullTimePtr(r.expiresAt)
	t.Status = relay.TokenStatus(r.status)
	t.ValidatedAt = fromNullMicros(r.validated)
	t.UpdatedAt = fromMicros(r.updated)
	return t, nil
}

// TokenNotices lists why gitrelay deleted the user's tokens, for the
// integrations the user has saved no new token for since, ordered by
// integration id. The slice is never nil.
func (db *DB) TokenNotices(ctx context.Context, tenantID, userID string) ([]relay.TokenNotice, error) {
	rows, err := db.reader().query(ctx, `SELECT integration_id, reason, noticed_at FROM user_token_notices
		WHERE tenant_id = ? AND user_id = ? ORDER BY integration_id`, tenantID, userID)
	if err != nil {
		return nil, fmt.Errorf("store: list user token notices: %w", err)
	}
	defer rows.Close()
	out := []relay.TokenNotice{}
	for rows.Next() {
		var n relay.TokenNotice
		var at int64
		if err := rows.Scan(&n.IntegrationID, &n.Reason, &at); err != nil {
			return nil, fmt.Errorf("store: list user token notices: %w", err)
		}
		n.At = fromMicros(at)
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list user token notices: %w", err)
	}
	return out, nil
}

// dropUserTokens deletes every user's token for the integration inside a
// write transaction: for each, it records drop.Event naming the token's
// user (the built-in directory's username when there is one, otherwise
// the user id, which is what Jira tenants use as username) and keeps
// drop.Reason as the user's notice. It returns how many it deleted.
func (db *DB) dropUserTokens(ctx context.Context, c conn, tenantID, integrationID string, drop relay.TokenDrop) (int, error) {
	rows, err := c.query(ctx, `SELECT t.user_id, COALESCE(u.username, t.user_id), t.account_login
		FROM user_tokens t LEFT JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id
		WHERE t.tenant_id = ? AND t.integration_id = ? ORDER BY t.user_id`, tenantID, integrationID)
	if err != nil {
		return 0, dbError(err, "list tokens to drop", "", "")
	}
	type owner struct{ id, username, login string }
	var owners []owner
	for rows.Next() {
		var o owner
		if err := rows.Scan(&o.id, &o.username, &o.login); err != nil {
			rows.Close()
			return 0, dbError(err, "list tokens to drop", "", "")
		}
		owners = append(owners, o)
	}
	if err := rows.Close(); err != nil {
		return 0, dbError(err, "list tokens to drop", "", "")
	}
	if err := rows.Err(); err != nil {
		return 0, dbError(err, "list tokens to drop", "", "")
	}
	if _, err := c.exec(ctx, `DELETE FROM user_tokens WHERE tenant_id = ? AND integration_id = ?`, tenantID, integrationID); err != nil {
		return 0, dbError(err, "drop user tokens", "", "")
	}
	at := db.orNow(drop.Event.At)
	for _, o := range owners {
		if err := upsertTokenNotice(ctx, c, tenantID, o.id, integrationID, drop.Reason, at); err != nil {
			return 0, err
		}
		e := drop.Event
		e.ID, e.UserID, e.Username, e.Login, e.IntegrationID = relay.NewID(), o.id, o.username, o.login, integrationID
		if e.Via == "" {
			e.Via = relay.ViaUserToken
		}
		if err := db.insertAudit(ctx, c, tenantID, e); err != nil {
			return 0, err
		}
	}
	return len(owners), nil
}

// ownerName is how the audit trail names a token's user: the built-in
// directory's username when there is one, otherwise the user id (which
// Jira tenants use as username).
func ownerName(ctx context.Context, c conn, tenantID, userID string) (string, error) {
	var name string
	err := c.queryRow(ctx, `SELECT username FROM users WHERE tenant_id = ? AND id = ?`, tenantID, userID).Scan(&name)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return userID, nil
	case err != nil:
		return "", dbError(err, "read token owner", "", "")
	}
	return name, nil
}

// upsertTokenNotice keeps reason as the user's notice for the integration,
// replacing an older one.
func upsertTokenNotice(ctx context.Context, c conn, tenantID, userID, integrationID, reason string, at time.Time) error {
	_, err := c.exec(ctx, `INSERT INTO user_token_notices (tenant_id, user_id, integration_id, reason, noticed_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, user_id, integration_id) DO UPDATE SET
			reason = excluded.reason, noticed_at = excluded.noticed_at`,
		tenantID, userID, integrationID, reason, micros(at))
	if err != nil {
		return dbError(err, "keep user token notice", "", "")
	}
	return nil
}

// UnboundUserTokens lists, across every tenant, at most limit tokens saved
// before tokens were bound to origins (an empty origin), with their
// integration's last change, in primary key order after after's key (when
// not nil).
func (db *DB) UnboundUserTokens(ctx context.Context, after *relay.UserToken, limit int) ([]relay.UnboundUserToken, error) {
	cols := "t." + strings.Join(strings.Fields(strings.ReplaceAll(userTokenColumns, ",", " ")), ", t.")
	query := `SELECT ` + cols + `, i.updated_at
		FROM user_tokens t JOIN integrations i ON i.tenant_id = t.tenant_id AND i.id = t.integration_id
		WHERE t.origin = ''`
	var args []any
	if after != nil {
		query += ` AND (t.tenant_id, t.user_id, t.integration_id) > (?, ?, ?)`
		args = append(args, after.TenantID, after.UserID, after.IntegrationID)
	}
	rows, err := db.reader().query(ctx, query+` ORDER BY t.tenant_id, t.user_id, t.integration_id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: list unbound user tokens: %w", err)
	}
	defer rows.Close()
	var out []relay.UnboundUserToken
	for rows.Next() {
		var u relay.UnboundUserToken
		var updated int64
		tok, err := scanUserToken(scanFunc(func(dest ...any) error { return rows.Scan(append(dest, &updated)...) }))
		if err != nil {
			return nil, fmt.Errorf("store: list unbound user tokens: %w", err)
		}
		u.UserToken, u.IntegrationUpdatedAt = tok, fromMicros(updated)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list unbound user tokens: %w", err)
	}
	return out, nil
}

// scanFunc adapts a function to scanner.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// BindUserToken stores t.Sealed and t.Origin for an unbound token whose
// sealed value is still prev, and reports whether it did.
func (db *DB) BindUserToken(ctx context.Context, t relay.UserToken, prev []byte) (bool, error) {
	if t.Origin == "" || len(t.Sealed) == 0 {
		return false, errors.New("store: bind user token: no origin or no sealed token")
	}
	var n int64
	err := db.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, `UPDATE user_tokens SET origin = ?, token_sealed = ?
			WHERE tenant_id = ? AND user_id = ? AND integration_id = ? AND origin = '' AND token_sealed = ?`,
			t.Origin, t.Sealed, t.TenantID, t.UserID, t.IntegrationID, prev)
		if err != nil {
			return dbError(err, "bind user token", "", "")
		}
		n, err = res.RowsAffected()
		return err
	})
	return n > 0, err
}

// DropUnboundUserToken deletes an unbound token whose sealed value is
// still prev, keeps reason as the user's notice and records e naming the
// token's user, in one transaction; it reports whether it deleted the
// token.
func (db *DB) DropUnboundUserToken(ctx context.Context, t relay.UserToken, prev []byte, reason string, e relay.AuditEvent) (bool, error) {
	var n int64
	err := db.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, `DELETE FROM user_tokens
			WHERE tenant_id = ? AND user_id = ? AND integration_id = ? AND origin = '' AND token_sealed = ?`,
			t.TenantID, t.UserID, t.IntegrationID, prev)
		if err != nil {
			return dbError(err, "drop unbound user token", "", "")
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		e.UserID, e.Login, e.IntegrationID = t.UserID, t.Account.Login, t.IntegrationID
		if e.Username, err = ownerName(ctx, c, t.TenantID, t.UserID); err != nil {
			return err
		}
		if err := upsertTokenNotice(ctx, c, t.TenantID, t.UserID, t.IntegrationID, reason, db.orNow(e.At)); err != nil {
			return err
		}
		return db.insertAudit(ctx, c, t.TenantID, e)
	})
	return n > 0, err
}
