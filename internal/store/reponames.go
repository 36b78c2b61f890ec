package store

import (
	"context"
	"strings"
)

// RepositoryNames gives the full names the repository cache holds for
// repository ids of a tenant, keyed by integration id and repository id
// joined with "/": the audit log shows a repository by name where the
// attempt recorded only its id (refused before the host named it). Ids
// the cache does not hold are absent.
func (db *DB) RepositoryNames(ctx context.Context, tenantID string, repositoryIDs []string) (map[string]string, error) {
	out := map[string]string{}
	if len(repositoryIDs) == 0 {
		return out, nil
	}
	args := []any{tenantID}
	for _, id := range repositoryIDs {
		args = append(args, id)
	}
	rows, err := db.reader().query(ctx, `SELECT integration_id, repository_id, full_name FROM repository_cache
		WHERE tenant_id = ? AND repository_id IN (?`+strings.Repeat(", ?", len(repositoryIDs)-1)+`)`, args...)
	if err != nil {
		return nil, dbError(err, "read repository names", "", "")
	}
	defer rows.Close()
	for rows.Next() {
		var in, id, name string
		if err := rows.Scan(&in, &id, &name); err != nil {
			return nil, dbError(err, "read repository names", "", "")
		}
		out[in+"/"+id] = name
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "read repository names", "", "")
	}
	return out, nil
}
