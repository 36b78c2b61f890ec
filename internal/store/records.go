package store

import (
	"context"
	"fmt"

	"github.com/gitrelay/gitrelay/internal/relay"
)

const branchColumns = `tenant_id, id, issue_key, integration_id, repository_id, repository, name, url,
	via, login, created_by, created_at`

// RecordBranch inserts the branch record, or refreshes the live record of
// the same (integration, repository id, name): every field but its id is
// replaced, since the branch was created again. It records e.
func (db *DB) RecordBranch(ctx context.Context, b relay.BranchRecord, e relay.AuditEvent) error {
	created := db.orNow(b.CreatedAt)
	return db.changeWithAudit(ctx, b.TenantID, e, "record branch", "a branch record with this id already exists",
		`INSERT INTO branch_records (`+branchColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, integration_id, repository_id, name) DO UPDATE SET
				issue_key = excluded.issue_key,
				repository = excluded.repository,
				url = excluded.url,
				via = excluded.via,
				login = excluded.login,
				created_by = excluded.created_by,
				created_at = excluded.created_at`,
		b.TenantID, b.ID, b.IssueKey, b.IntegrationID, b.RepositoryID, b.Repository, b.Name, b.URL,
		string(b.ActedAs.Via), b.ActedAs.Login, b.CreatedBy, micros(created))
}

// ForgetBranch removes the live record of a deleted branch, if there is
// one, and records e either way: the deletion happened on the host whether
// or not gitrelay had created the branch.
func (db *DB) ForgetBranch(ctx context.Context, tenantID, integrationID, repositoryID, name string, e relay.AuditEvent) error {
	return db.changeWithAudit(ctx, tenantID, e, "forget branch", "",
		`DELETE FROM branch_records
			WHERE tenant_id = ? AND integration_id = ? AND repository_id = ? AND name = ?`,
		tenantID, integrationID, repositoryID, name)
}

// IssueBranches lists the issue's branch records, oldest first. The slice
// is never nil.
func (db *DB) IssueBranches(ctx context.Context, tenantID, issueKey string) ([]relay.BranchRecord, error) {
	rows, err := db.reader().query(ctx, `SELECT `+branchColumns+` FROM branch_records
		WHERE tenant_id = ? AND issue_key = ? ORDER BY created_at, id`, tenantID, issueKey)
	if err != nil {
		return nil, fmt.Errorf("store: list issue branches: %w", err)
	}
	defer rows.Close()
	out := []relay.BranchRecord{}
	for rows.Next() {
		var (
			b       relay.BranchRecord
			via     string
			created int64
		)
		err := rows.Scan(&b.TenantID, &b.ID, &b.IssueKey, &b.IntegrationID, &b.RepositoryID, &b.Repository,
			&b.Name, &b.URL, &via, &b.ActedAs.Login, &b.CreatedBy, &created)
		if err != nil {
			return nil, fmt.Errorf("store: list issue branches: %w", err)
		}
		b.ActedAs.Via = relay.Via(via)
		b.CreatedAt = fromMicros(created)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list issue branches: %w", err)
	}
	return out, nil
}

const pullRequestColumns = `tenant_id, id, issue_key, integration_id, repository_id, repository, number,
	title, url, source_branch, target_branch, draft, via, login, created_by, created_at`

// RecordPullRequest inserts the pull request record, or refreshes the
// record of the same (integration, repository id, number), and records e.
func (db *DB) RecordPullRequest(ctx context.Context, pr relay.PullRequestRecord, e relay.AuditEvent) error {
	created := db.orNow(pr.CreatedAt)
	return db.changeWithAudit(ctx, pr.TenantID, e, "record pull request", "a pull request record with this id already exists",
		`INSERT INTO pull_request_records (`+pullRequestColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, integration_id, repository_id, number) DO UPDATE SET
				issue_key = excluded.issue_key,
				repository = excluded.repository,
				title = excluded.title,
				url = excluded.url,
				source_branch = excluded.source_branch,
				target_branch = excluded.target_branch,
				draft = excluded.draft,
				via = excluded.via,
				login = excluded.login,
				created_by = excluded.created_by,
				created_at = excluded.created_at`,
		pr.TenantID, pr.ID, pr.IssueKey, pr.IntegrationID, pr.RepositoryID, pr.Repository, int64(pr.Number),
		pr.Title, pr.URL, pr.Source, pr.Target, pr.Draft, string(pr.ActedAs.Via), pr.ActedAs.Login,
		pr.CreatedBy, micros(created))
}

// IssuePullRequests lists the issue's pull request records, oldest first.
// The slice is never nil.
func (db *DB) IssuePullRequests(ctx context.Context, tenantID, issueKey string) ([]relay.PullRequestRecord, error) {
	rows, err := db.reader().query(ctx, `SELECT `+pullRequestColumns+` FROM pull_request_records
		WHERE tenant_id = ? AND issue_key = ? ORDER BY created_at, id`, tenantID, issueKey)
	if err != nil {
		return nil, fmt.Errorf("store: list issue pull requests: %w", err)
	}
	defer rows.Close()
	out := []relay.PullRequestRecord{}
	for rows.Next() {
		var (
			pr      relay.PullRequestRecord
			number  int64
			via     string
			created int64
		)
		err := rows.Scan(&pr.TenantID, &pr.ID, &pr.IssueKey, &pr.IntegrationID, &pr.RepositoryID, &pr.Repository,
			&number, &pr.Title, &pr.URL, &pr.Source, &pr.Target, &pr.Draft, &via, &pr.ActedAs.Login,
			&pr.CreatedBy, &created)
		if err != nil {
			return nil, fmt.Errorf("store: list issue pull requests: %w", err)
		}
		pr.Number = int(number)
		pr.ActedAs.Via = relay.Via(via)
		pr.CreatedAt = fromMicros(created)
		out = append(out, pr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list issue pull requests: %w", err)
	}
	return out, nil
}
