package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

const msgUserTokenNotFound = "no personal access token is saved for this integration"

const userTokenColumns = `tenant_id, user_id, integration_id, account_login, account_name, account_scopes,
	account_expires_at, status, validated_at, updated_at, token_sealed`

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
// and records e. It returns ENotFound when the integration does not exist
// in the token's tenant.
func (db *DB) PutUserToken(ctx context.Context, t relay.UserToken, e relay.AuditEvent) error {
	if len(t.Sealed) == 0 {
		return errors.New("store: put user token: no sealed token")
	}
	scopes, err := nullJSONList(t.Account.Scopes)
	if err != nil {
		return fmt.Errorf("store: encode account scopes: %w", err)
	}
	updated := db.orNow(t.UpdatedAt)
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO user_tokens (`+userTokenColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, user_id, integration_id) DO UPDATE SET
				account_login = excluded.account_login,
				account_name = excluded.account_name,
				account_scopes = excluded.account_scopes,
				account_expires_at = excluded.account_expires_at,
				status = excluded.status,
				validated_at = excluded.validated_at,
				updated_at = excluded.updated_at,
				token_sealed = excluded.token_sealed`,
			t.TenantID, t.UserID, t.IntegrationID, t.Account.Login, t.Account.Name, scopes,
			nullTimePtr(t.Account.ExpiresAt), string(t.Status), nullMicros(t.ValidatedAt), micros(updated), t.Sealed)
		if err != nil {
			return dbError(err, "put user token", msgIntegrationNotFound, "")
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
	var (
		t                    relay.UserToken
		scopes               sql.NullString
		expiresAt, validated sql.NullInt64
		status               string
		updated              int64
	)
	err := s.Scan(&t.TenantID, &t.UserID, &t.IntegrationID, &t.Account.Login, &t.Account.Name, &scopes,
		&expiresAt, &status, &validated, &updated, &t.Sealed)
	if err != nil {
		return relay.UserToken{}, err
	}
	if t.Account.Scopes, err = fromNullJSONList(scopes); err != nil {
		return relay.UserToken{}, fmt.Errorf("decode account scopes: %w", err)
	}
	t.Account.ExpiresAt = fromNullTimePtr(expiresAt)
	t.Status = relay.TokenStatus(status)
	t.ValidatedAt = fromNullMicros(validated)
	t.UpdatedAt = fromMicros(updated)
	return t, nil
}
