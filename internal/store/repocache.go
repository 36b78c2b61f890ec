package store

import (
	"context"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// repositoryInsertBatch bounds the rows of one multi-row INSERT: 8
// parameters a row keeps a batch far below both dialects' parameter
// limits, while a list of thousands of repositories takes a handful of
// round trips instead of one per repository.
const repositoryInsertBatch = 500

// ReplaceRepositories replaces the integration's cached repositories with
// repos and records syncedAt as their sync time, in one transaction, so a
// search sees either the whole old list or the whole new one. Repeated ids
// keep their first occurrence. It returns ENotFound when the integration
// does not exist (for instance, deleted while its list was being read).
func (db *DB) ReplaceRepositories(ctx context.Context, tenantID, integrationID string, repos []relay.Repository, syncedAt time.Time) error {
	return db.inTx(ctx, func(c conn) error {
		// Touching the integration row checks that it exists and, on
		// Postgres, locks it, so that two processes replacing the same
		// list take turns instead of inserting the same rows twice.
		res, err := c.exec(ctx, `UPDATE integrations SET updated_at = updated_at WHERE tenant_id = ? AND id = ?`, tenantID, integrationID)
		if err != nil {
			return dbError(err, "lock integration", "", "")
		}
		if err := mustAffect(res, "lock integration", msgIntegrationNotFound); err != nil {
			return err
		}
		if _, err := c.exec(ctx, `DELETE FROM repository_cache WHERE tenant_id = ? AND integration_id = ?`, tenantID, integrationID); err != nil {
			return dbError(err, "clear repository cache", "", "")
		}
		seen := make(map[string]bool, len(repos))
		unique := make([]relay.Repository, 0, len(repos))
		for _, r := range repos {
			if !seen[r.ID] {
				seen[r.ID] = true
				unique = append(unique, r)
			}
		}
		for start := 0; start < len(unique); start += repositoryInsertBatch {
			batch := unique[start:min(start+repositoryInsertBatch, len(unique))]
			var q strings.Builder
			q.WriteString(`INSERT INTO repository_cache (tenant_id, integration_id, repository_id, name, full_name, full_name_key, default_branch, web_url) VALUES `)
			args := make([]any, 0, 8*len(batch))
			for i, r := range batch {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
				args = append(args, tenantID, integrationID, r.ID, r.Name, r.FullName, strings.ToLower(r.FullName), r.DefaultBranch, r.WebURL)
			}
			if _, err := c.exec(ctx, q.String(), args...); err != nil {
				return dbError(err, "fill repository cache", msgIntegrationNotFound, "")
			}
		}
		res, err = c.exec(ctx, `UPDATE repository_cache_syncs SET synced_at = ? WHERE tenant_id = ? AND integration_id = ?`,
			micros(syncedAt), tenantID, integrationID)
		if err != nil {
			return dbError(err, "record repository sync", "", "")
		}
		if n, err := res.RowsAffected(); err != nil {
			return dbError(err, "record repository sync", "", "")
		} else if n == 0 {
			_, err = c.exec(ctx, `INSERT INTO repository_cache_syncs (tenant_id, integration_id, synced_at) VALUES (?, ?, ?)`,
				tenantID, integrationID, micros(syncedAt))
			if err != nil {
				return dbError(err, "record repository sync", msgIntegrationNotFound, "")
			}
		}
		return nil
	})
}

// SearchRepositories lists the integration's cached repositories whose
// full name contains query (case-insensitive; empty matches all), ordered
// by full name, at most limit of them (limit <= 0: all).
func (db *DB) SearchRepositories(ctx context.Context, tenantID, integrationID, query string, limit int) ([]relay.Repository, error) {
	q := `SELECT repository_id, name, full_name, default_branch, web_url FROM repository_cache
		WHERE tenant_id = ? AND integration_id = ?`
	args := []any{tenantID, integrationID}
	if query != "" {
		q += ` AND full_name_key LIKE ? ESCAPE '!'`
		args = append(args, "%"+likeEscape(strings.ToLower(query))+"%")
	}
	q += ` ORDER BY full_name_key, full_name, repository_id`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := db.reader().query(ctx, q, args...)
	if err != nil {
		return nil, dbError(err, "search repository cache", "", "")
	}
	defer rows.Close()
	out := []relay.Repository{}
	for rows.Next() {
		var r relay.Repository
		if err := rows.Scan(&r.ID, &r.Name, &r.FullName, &r.DefaultBranch, &r.WebURL); err != nil {
			return nil, dbError(err, "read repository cache", "", "")
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "read repository cache", "", "")
	}
	return out, nil
}

// RepositoriesSyncedAt returns when the integration's repositories were
// last replaced, or ENotFound when they never were.
func (db *DB) RepositoriesSyncedAt(ctx context.Context, tenantID, integrationID string) (time.Time, error) {
	var us int64
	err := db.reader().queryRow(ctx, `SELECT synced_at FROM repository_cache_syncs WHERE tenant_id = ? AND integration_id = ?`,
		tenantID, integrationID).Scan(&us)
	if err != nil {
		return time.Time{}, dbError(err, "read repository sync", "repositories never synced", "")
	}
	return fromMicros(us), nil
}

// likeEscape makes s match literally inside a LIKE pattern with ESCAPE
// '!': '!' is not special in string literals on either dialect, unlike a
// backslash.
func likeEscape(s string) string {
	return strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(s)
}

// RepositoryList names an integration's cached repository list.
type RepositoryList struct {
	TenantID, IntegrationID string
	SyncedAt                time.Time
}

// RepositoryListsDue lists, across every tenant, at most limit cached
// repository lists of enabled integrations last replaced before before,
// the oldest first. Integrations whose list was never read are not
// listed: nobody has asked for it yet.
func (db *DB) RepositoryListsDue(ctx context.Context, before time.Time, limit int) ([]RepositoryList, error) {
	rows, err := db.reader().query(ctx, `SELECT s.tenant_id, s.integration_id, s.synced_at
		FROM repository_cache_syncs s JOIN integrations i ON i.tenant_id = s.tenant_id AND i.id = s.integration_id
		WHERE i.enabled = ? AND s.synced_at < ?
		ORDER BY s.synced_at, s.tenant_id, s.integration_id LIMIT ?`, true, micros(before), limit)
	if err != nil {
		return nil, dbError(err, "list repository lists due", "", "")
	}
	defer rows.Close()
	var out []RepositoryList
	for rows.Next() {
		var l RepositoryList
		var us int64
		if err := rows.Scan(&l.TenantID, &l.IntegrationID, &us); err != nil {
			return nil, dbError(err, "list repository lists due", "", "")
		}
		l.SyncedAt = fromMicros(us)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "list repository lists due", "", "")
	}
	return out, nil
}
