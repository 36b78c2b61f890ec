package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

const (
	msgIntegrationNotFound = relay.MsgIntegrationNotFound
	msgIntegrationExists   = "an integration with this id already exists"
)

// integrationColumns are read by scanIntegration, in this order. The sealed
// credential is not among them: it is read only by IntegrationCredential,
// so an integration value never carries it around.
const integrationColumns = `tenant_id, id, kind, name, base_url, options, enabled, require_user_pat,
	projects, repositories, account_login, account_name, account_scopes, account_expires_at, created_at, updated_at`

// CreateIntegration inserts the integration with its sealed credential and
// records e, in one transaction. It returns EConflict when the id is taken.
func (db *DB) CreateIntegration(ctx context.Context, in relay.Integration, sealedCredential []byte, e relay.AuditEvent) error {
	if len(sealedCredential) == 0 {
		return errors.New("store: create integration: no sealed credential")
	}
	row, err := integrationRow(in)
	if err != nil {
		return err
	}
	created := db.orNow(in.CreatedAt)
	updated := in.UpdatedAt
	if updated.IsZero() {
		updated = created
	}
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO integrations (`+integrationColumns+`, credential_sealed)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			in.TenantID, in.ID, string(in.Kind), in.Name, in.BaseURL, row.options, in.Enabled, in.RequireUserPAT,
			row.projects, row.repositories, in.Account.Login, in.Account.Name, row.scopes, row.expiresAt,
			micros(created), micros(updated), sealedCredential)
		if err != nil {
			return dbError(err, "create integration", "", msgIntegrationExists)
		}
		if err := bumpIntegrations(ctx, c, in.TenantID); err != nil {
			return err
		}
		return db.insertAudit(ctx, c, in.TenantID, e)
	})
}

// Integration returns ENotFound when id is not an integration of tenantID.
func (db *DB) Integration(ctx context.Context, tenantID, id string) (relay.Integration, error) {
	row := db.reader().queryRow(ctx, `SELECT `+integrationColumns+` FROM integrations
		WHERE tenant_id = ? AND id = ?`, tenantID, id)
	in, err := scanIntegration(row)
	if err != nil {
		return relay.Integration{}, dbError(err, "read integration", msgIntegrationNotFound, "")
	}
	return in, nil
}

// IntegrationCredential returns the integration's sealed credential, or
// ENotFound.
func (db *DB) IntegrationCredential(ctx context.Context, tenantID, id string) ([]byte, error) {
	var sealed []byte
	err := db.reader().queryRow(ctx, `SELECT credential_sealed FROM integrations
		WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&sealed)
	if err != nil {
		return nil, dbError(err, "read integration credential", msgIntegrationNotFound, "")
	}
	return sealed, nil
}

// Integrations lists the tenant's integrations, oldest first (ids are
// time-ordered, so the order is the same on every database). The slice is
// never nil.
func (db *DB) Integrations(ctx context.Context, tenantID string) ([]relay.Integration, error) {
	rows, err := db.reader().query(ctx, `SELECT `+integrationColumns+` FROM integrations
		WHERE tenant_id = ? ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: list integrations: %w", err)
	}
	defer rows.Close()
	out := []relay.Integration{}
	for rows.Next() {
		in, err := scanIntegration(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list integrations: %w", err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list integrations: %w", err)
	}
	return out, nil
}

// UpdateIntegration replaces the integration's fields (all but its tenant,
// id and creation time) and records e. A nil sealedCredential keeps the
// stored credential. It returns ENotFound when there is no such
// integration. A change of the host the integration talks to goes through
// MoveIntegration instead.
func (db *DB) UpdateIntegration(ctx context.Context, in relay.Integration, sealedCredential []byte, e relay.AuditEvent) error {
	_, err := db.updateIntegration(ctx, in, sealedCredential, e, nil)
	return err
}

// MoveIntegration is UpdateIntegration for a change of the host the
// integration talks to. In the same transaction it deletes every user's
// token for the integration, records drop.Event once per deleted token
// (naming the token's user) and keeps drop.Reason as each of those users'
// notice (TokenNotices), so that no token validated against the old host
// outlives the change. It returns how many tokens it deleted.
func (db *DB) MoveIntegration(ctx context.Context, in relay.Integration, sealedCredential []byte, e relay.AuditEvent, drop relay.TokenDrop) (int, error) {
	return db.updateIntegration(ctx, in, sealedCredential, e, &drop)
}

func (db *DB) updateIntegration(ctx context.Context, in relay.Integration, sealedCredential []byte, e relay.AuditEvent, drop *relay.TokenDrop) (int, error) {
	row, err := integrationRow(in)
	if err != nil {
		return 0, err
	}
	updated := db.orNow(in.UpdatedAt)
	dropped := 0
	err = db.inTx(ctx, func(c conn) error {
		const set = `UPDATE integrations SET kind = ?, name = ?, base_url = ?, options = ?, enabled = ?,
			require_user_pat = ?, projects = ?, repositories = ?, account_login = ?, account_name = ?, account_scopes = ?,
			account_expires_at = ?, updated_at = ?`
		args := []any{string(in.Kind), in.Name, in.BaseURL, row.options, in.Enabled,
			in.RequireUserPAT, row.projects, row.repositories, in.Account.Login, in.Account.Name, row.scopes,
			row.expiresAt, micros(updated)}
		query := set
		if sealedCredential != nil {
			query += `, credential_sealed = ?`
			args = append(args, sealedCredential)
		}
		query += ` WHERE tenant_id = ? AND id = ?`
		args = append(args, in.TenantID, in.ID)
		res, err := c.exec(ctx, query, args...)
		if err != nil {
			return dbError(err, "update integration", msgIntegrationNotFound, "")
		}
		if err := mustAffect(res, "update integration", msgIntegrationNotFound); err != nil {
			return err
		}
		if err := bumpIntegrations(ctx, c, in.TenantID); err != nil {
			return err
		}
		if err := db.insertAudit(ctx, c, in.TenantID, e); err != nil {
			return err
		}
		if drop != nil {
			// What gitrelay registered on the old host is not on the new
			// one, whose repositories may have the same ids.
			if _, err := c.exec(ctx, `DELETE FROM webhook_registrations WHERE tenant_id = ? AND integration_id = ?`, in.TenantID, in.ID); err != nil {
				return dbError(err, "forget webhook registrations", "", "")
			}
			dropped, err = db.dropUserTokens(ctx, c, in.TenantID, in.ID, *drop)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	return dropped, nil
}

// DeleteIntegration deletes the integration and every user's token for it
// (product rule: removing an integration deletes its users' PATs), and
// records e. Branch and pull request records and the audit trail are
// history and stay. It returns ENotFound when there is no such
// integration.
func (db *DB) DeleteIntegration(ctx context.Context, tenantID, id string, e relay.AuditEvent) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `DELETE FROM user_tokens WHERE tenant_id = ? AND integration_id = ?`, tenantID, id)
		if err != nil {
			return dbError(err, "delete integration tokens", "", "")
		}
		// The cached repository list, the index and the users' token
		// notices go with the integration (no cascade, as for tokens:
		// deleting is explicit and in this transaction). The clones on disk
		// are removed by the indexer when it finds no index row for them.
		for _, table := range append([]string{"repository_cache", "repository_cache_syncs", "repository_reads", "user_token_notices", "integration_webhooks", "webhook_registrations", "repository_changes"}, indexTables...) {
			if _, err := c.exec(ctx, `DELETE FROM `+table+` WHERE tenant_id = ? AND integration_id = ?`, tenantID, id); err != nil {
				return dbError(err, "delete integration "+table, "", "")
			}
		}
		res, err := c.exec(ctx, `DELETE FROM integrations WHERE tenant_id = ? AND id = ?`, tenantID, id)
		if err != nil {
			return dbError(err, "delete integration", "", "")
		}
		if err := mustAffect(res, "delete integration", msgIntegrationNotFound); err != nil {
			return err
		}
		if err := bumpIntegrations(ctx, c, tenantID); err != nil {
			return err
		}
		if err := bumpIndex(ctx, c, tenantID); err != nil {
			return err
		}
		return db.insertAudit(ctx, c, tenantID, e)
	})
}

// bumpIntegrations counts a change to the tenant's integrations, in the
// transaction that makes it (see integrationCache).
func bumpIntegrations(ctx context.Context, c conn, tenantID string) error {
	_, err := c.exec(ctx, `INSERT INTO integration_versions (tenant_id, version) VALUES (?, 1)
		ON CONFLICT (tenant_id) DO UPDATE SET version = integration_versions.version + 1`, tenantID)
	return dbError(err, "count integration change", "", "")
}

// integrationDBRow holds the encoded forms of an integration's structured
// fields.
type integrationDBRow struct {
	options      string
	projects     sql.NullString
	repositories sql.NullString
	scopes       sql.NullString
	expiresAt    sql.NullInt64
}

func integrationRow(in relay.Integration) (integrationDBRow, error) {
	var r integrationDBRow
	opts := in.Options
	if opts == nil {
		opts = map[string]string{}
	}
	b, err := json.Marshal(opts)
	if err != nil {
		return r, fmt.Errorf("store: encode integration options: %w", err)
	}
	r.options = string(b)
	if r.projects, err = nullJSONList(in.Projects); err != nil {
		return r, fmt.Errorf("store: encode integration projects: %w", err)
	}
	if r.repositories, err = nullJSONList(in.Repositories); err != nil {
		return r, fmt.Errorf("store: encode integration repositories: %w", err)
	}
	if r.scopes, err = nullJSONList(in.Account.Scopes); err != nil {
		return r, fmt.Errorf("store: encode account scopes: %w", err)
	}
	r.expiresAt = nullTimePtr(in.Account.ExpiresAt)
	return r, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanIntegration(s scanner) (relay.Integration, error) {
	var r integrationScan
	if err := s.Scan(r.dest()...); err != nil {
		return relay.Integration{}, err
	}
	return r.integration()
}

// integrationScan receives integrationColumns, for queries that read them
// with other columns (see ActionReads).
type integrationScan struct {
	in                 relay.Integration
	kind, options      string
	projects, repos    sql.NullString
	scopes             sql.NullString
	expiresAt          sql.NullInt64
	createdAt, updated int64
}

func (r *integrationScan) dest() []any {
	return []any{&r.in.TenantID, &r.in.ID, &r.kind, &r.in.Name, &r.in.BaseURL, &r.options, &r.in.Enabled, &r.in.RequireUserPAT,
		&r.projects, &r.repos, &r.in.Account.Login, &r.in.Account.Name, &r.scopes, &r.expiresAt, &r.createdAt, &r.updated}
}

func (r *integrationScan) integration() (relay.Integration, error) {
	in := r.in
	in.Kind = relay.Kind(r.kind)
	if err := json.Unmarshal([]byte(r.options), &in.Options); err != nil {
		return relay.Integration{}, fmt.Errorf("decode integration options: %w", err)
	}
	// An integration without options reads back as nil, however it was
	// written: callers must not tell nil and empty apart.
	if len(in.Options) == 0 {
		in.Options = nil
	}
	var err error
	if in.Projects, err = fromNullJSONList(r.projects); err != nil {
		return relay.Integration{}, fmt.Errorf("decode integration projects: %w", err)
	}
	if in.Repositories, err = fromNullJSONList(r.repos); err != nil {
		return relay.Integration{}, fmt.Errorf("decode integration repositories: %w", err)
	}
	if in.Account.Scopes, err = fromNullJSONList(r.scopes); err != nil {
		return relay.Integration{}, fmt.Errorf("decode account scopes: %w", err)
	}
	in.Account.ExpiresAt = fromNullTimePtr(r.expiresAt)
	in.CreatedAt = fromMicros(r.createdAt)
	in.UpdatedAt = fromMicros(r.updated)
	return in, nil
}

// nullJSONList encodes a list as JSON text, keeping nil (NULL: "all" or
// "unknown") distinct from empty ("[]": "none").
func nullJSONList(list []string) (sql.NullString, error) {
	if list == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(list)
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

func fromNullJSONList(s sql.NullString) ([]string, error) {
	if !s.Valid {
		return nil, nil
	}
	list := []string{}
	if err := json.Unmarshal([]byte(s.String), &list); err != nil {
		return nil, err
	}
	return list, nil
}

// nullTimePtr stores an optional time; nil is NULL.
func nullTimePtr(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullTimePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}
