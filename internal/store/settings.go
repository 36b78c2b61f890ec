package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// Settings returns the tenant's settings, or relay.DefaultSettings() when
// the tenant saved none.
func (db *DB) Settings(ctx context.Context, tenantID string) (relay.Settings, error) {
	var s relay.Settings
	err := db.reader().queryRow(ctx, `SELECT branches_enabled, pull_requests_enabled, branch_template,
			name_separator, max_branch_length
		FROM settings WHERE tenant_id = ?`, tenantID).
		Scan(&s.BranchesEnabled, &s.PullRequestsEnabled, &s.BranchTemplate, &s.Separator, &s.MaxBranchLength)
	if errors.Is(err, sql.ErrNoRows) {
		return relay.DefaultSettings(), nil
	}
	if err != nil {
		return relay.Settings{}, fmt.Errorf("store: read settings: %w", err)
	}
	return s, nil
}

// PutSettings saves the tenant's settings, replacing any saved before.
func (db *DB) PutSettings(ctx context.Context, tenantID string, s relay.Settings) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO settings (tenant_id, branches_enabled, pull_requests_enabled,
				branch_template, name_separator, max_branch_length, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET
				branches_enabled = excluded.branches_enabled,
				pull_requests_enabled = excluded.pull_requests_enabled,
				branch_template = excluded.branch_template,
				name_separator = excluded.name_separator,
				max_branch_length = excluded.max_branch_length,
				updated_at = excluded.updated_at`,
			tenantID, s.BranchesEnabled, s.PullRequestsEnabled, s.BranchTemplate, s.Separator,
			int64(s.MaxBranchLength), micros(db.now()))
		if err != nil {
			return dbError(err, "put settings", "", "")
		}
		return nil
	})
}
