package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// ActionReads returns in one round trip what an action's prologue reads:
// the tenant's settings, the integration and the user's saved token for
// it. When the integration does not exist the answer holds the settings
// (read again on their own: a refusal may cost a second trip) and
// Found is false. No credential is read here: the integration's is read
// only when it acts (IntegrationCredential).
func (db *DB) ActionReads(ctx context.Context, tenantID, userID, integrationID string) (relay.ActionReads, error) {
	rows, err := db.reader().query(ctx, `SELECT `+prefixed(integrationColumns, "i")+`,
			s.tenant_id IS NOT NULL, COALESCE(s.branches_enabled, FALSE), COALESCE(s.pull_requests_enabled, FALSE),
			COALESCE(s.branch_template, ''), COALESCE(s.name_separator, ''), COALESCE(s.max_branch_length, 0),
			t.user_id IS NOT NULL, `+tokenColumnsOrZero("t")+`
		FROM integrations i
		LEFT JOIN settings s ON s.tenant_id = i.tenant_id
		LEFT JOIN user_tokens t ON t.tenant_id = i.tenant_id AND t.integration_id = i.id AND t.user_id = ?
		WHERE i.tenant_id = ? AND i.id = ?`, userID, tenantID, integrationID)
	if err != nil {
		return relay.ActionReads{}, fmt.Errorf("store: read action context: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return relay.ActionReads{}, fmt.Errorf("store: read action context: %w", err)
		}
		rows.Close()
		st, err := db.Settings(ctx, tenantID)
		return relay.ActionReads{Settings: st}, err
	}
	var r relay.ActionReads
	nIn, nSet := len(strings.Split(integrationColumns, ",")), 6
	total := nIn + nSet + 1 + len(strings.Split(userTokenColumns, ","))
	if r.Integration, err = scanIntegration(columnsAt(rows, 0, total)); err != nil {
		return relay.ActionReads{}, fmt.Errorf("store: read action context: %w", err)
	}
	r.Found = true
	var saved, hasToken bool
	var maxLen int64
	if err := columnsAt(rows, nIn, total).Scan(&saved, &r.Settings.BranchesEnabled, &r.Settings.PullRequestsEnabled,
		&r.Settings.BranchTemplate, &r.Settings.Separator, &maxLen); err != nil {
		return relay.ActionReads{}, fmt.Errorf("store: read action context: %w", err)
	}
	r.Settings.MaxBranchLength = int(maxLen)
	if !saved {
		r.Settings = relay.DefaultSettings()
	}
	if err := columnsAt(rows, nIn+nSet, total).Scan(&hasToken); err != nil {
		return relay.ActionReads{}, fmt.Errorf("store: read action context: %w", err)
	}
	if hasToken {
		t, err := scanUserToken(columnsAt(rows, nIn+nSet+1, total))
		if err != nil {
			return relay.ActionReads{}, fmt.Errorf("store: read action context: %w", err)
		}
		r.Token = &t
	}
	return r, rows.Err()
}

// tokenColumnsOrZero is userTokenColumns of a LEFT JOINed alias, with the
// columns that are never NULL in a row given a zero value when there is
// no row, so that scanUserToken reads them either way.
func tokenColumnsOrZero(alias string) string {
	zero := map[string]string{"tenant_id": "''", "user_id": "''", "integration_id": "''", "account_login": "''",
		"account_name": "''", "status": "''", "updated_at": "0", "origin": "''"}
	cols := strings.Split(userTokenColumns, ",")
	for i, c := range cols {
		c = strings.TrimSpace(c)
		if z, ok := zero[c]; ok {
			cols[i] = "COALESCE(" + alias + "." + c + ", " + z + ")"
		} else {
			cols[i] = alias + "." + c
		}
	}
	return strings.Join(cols, ", ")
}

// columnsAt scans some of a row's columns, from the offset on: a query
// that joins several tables is read by each table's own scan function.
// (sql.Rows may be scanned more than once per row.)
func columnsAt(rows interface{ Scan(...any) error }, offset, total int) scanner {
	return scanFunc(func(dest ...any) error {
		all := make([]any, total)
		for i := range all {
			all[i] = new(any)
		}
		copy(all[offset:], dest)
		return rows.Scan(all...)
	})
}
