package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// RecordHooks are told of each branch or pull request a successful host
// write recorded (or, for a deleted branch, forgot), inside the
// transaction that records it and completes its audit row: what they
// write commits with it or not at all. The Jira pusher queues the change
// for Jira there, so that no completed write is ever left untold, even
// when the process dies right after. They must use only tx.
type RecordHooks interface {
	// Wants says whether the tenant's records concern the hooks at all;
	// when not, recording takes its faster path.
	Wants(tenantID string) bool
	BranchRecorded(ctx context.Context, tx *sql.Tx, b relay.BranchRecord) error
	BranchForgotten(ctx context.Context, tx *sql.Tx, b relay.BranchRecord) error
	PullRequestRecorded(ctx context.Context, tx *sql.Tx, pr relay.PullRequestRecord) error
}

// SetRecordHooks installs h (nil: none). Call it before the store serves.
func (db *DB) SetRecordHooks(h RecordHooks) { db.recordHooks = h }

// recordHook is the hook that tells db's RecordHooks of a record change
// audited by e: none unless e is a success of a tenant they want.
func (db *DB) recordHook(e relay.AuditEvent, hook func(RecordHooks) TxHook) TxHook {
	h := db.recordHooks
	if h == nil || e.Outcome != relay.OutcomeSuccess || !h.Wants(e.TenantID) {
		return nil
	}
	return hook(h)
}

const branchColumns = `tenant_id, id, issue_key, integration_id, repository_id, repository, name, url,
	via, login, created_by, created_at`

// RecordBranch inserts the branch record, or refreshes the live record of
// the same (integration, repository id, name): every field but its id is
// replaced, since the branch was created again. It records e.
func (db *DB) RecordBranch(ctx context.Context, b relay.BranchRecord, e relay.AuditEvent) error {
	created := db.orNow(b.CreatedAt)
	return db.changeWithAuditHook(ctx, b.TenantID, e, db.recordHook(e, func(h RecordHooks) TxHook {
		return func(ctx context.Context, tx *sql.Tx) error { return h.BranchRecorded(ctx, tx, b) }
	}), change{bumpBranchVersions, []any{b.TenantID, relay.NewID(), b.IssueKey, b.TenantID, b.IntegrationID, b.RepositoryID, b.Name, b.IssueKey}, "count record change", ""},
		change{`INSERT INTO branch_records (` + branchColumns + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, integration_id, repository_id, name) DO UPDATE SET
				issue_key = excluded.issue_key,
				repository = excluded.repository,
				url = excluded.url,
				via = excluded.via,
				login = excluded.login,
				created_by = excluded.created_by,
				created_at = excluded.created_at`,
			[]any{b.TenantID, b.ID, b.IssueKey, b.IntegrationID, b.RepositoryID, b.Repository, b.Name, b.URL,
				string(b.ActedAs.Via), b.ActedAs.Login, b.CreatedBy, micros(created)},
			"record branch", "a branch record with this id already exists"})
}

// ForgetBranch removes the live record of a deleted branch, if there is
// one, and records e either way: the deletion happened on the host whether
// or not gitrelay had created the branch.
func (db *DB) ForgetBranch(ctx context.Context, tenantID, integrationID, repositoryID, name string, e relay.AuditEvent) error {
	forgotten := relay.BranchRecord{TenantID: tenantID, IssueKey: e.IssueKey, IntegrationID: integrationID,
		RepositoryID: repositoryID, Repository: e.Repository, Name: name, ActedAs: relay.ActedAs{Via: e.Via, Login: e.Login},
		CreatedBy: e.Username, CreatedAt: db.orNow(e.At)}
	return db.changeWithAuditHook(ctx, tenantID, e, db.recordHook(e, func(h RecordHooks) TxHook {
		return func(ctx context.Context, tx *sql.Tx) error { return h.BranchForgotten(ctx, tx, forgotten) }
	}), change{bumpBranchVersions, []any{tenantID, relay.NewID(), "", tenantID, integrationID, repositoryID, name, ""}, "count record change", ""},
		change{`DELETE FROM branch_records
			WHERE tenant_id = ? AND integration_id = ? AND repository_id = ? AND name = ?`,
			[]any{tenantID, integrationID, repositoryID, name}, "forget branch", ""})
}

// IssueBranches lists the issue's branch records, oldest first. The slice
// is never nil.
func (db *DB) IssueBranches(ctx context.Context, tenantID, issueKey string) ([]relay.BranchRecord, error) {
	branches, _, err := db.issueRecords(ctx, tenantID, issueKey)
	return branches, err
}

const pullRequestColumns = `tenant_id, id, issue_key, integration_id, repository_id, repository, number,
	title, url, source_branch, target_branch, draft, via, login, created_by, created_at`

// RecordPullRequest inserts the pull request record, or refreshes the
// record of the same (integration, repository id, number), and records e.
func (db *DB) RecordPullRequest(ctx context.Context, pr relay.PullRequestRecord, e relay.AuditEvent) error {
	created := db.orNow(pr.CreatedAt)
	return db.changeWithAuditHook(ctx, pr.TenantID, e, db.recordHook(e, func(h RecordHooks) TxHook {
		return func(ctx context.Context, tx *sql.Tx) error { return h.PullRequestRecorded(ctx, tx, pr) }
	}), change{bumpPullRequestVersions, []any{pr.TenantID, relay.NewID(), pr.IssueKey, pr.TenantID, pr.IntegrationID, pr.RepositoryID, int64(pr.Number), pr.IssueKey}, "count record change", ""},
		change{`INSERT INTO pull_request_records (` + pullRequestColumns + `)
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
			[]any{pr.TenantID, pr.ID, pr.IssueKey, pr.IntegrationID, pr.RepositoryID, pr.Repository, int64(pr.Number),
				pr.Title, pr.URL, pr.Source, pr.Target, pr.Draft, string(pr.ActedAs.Via), pr.ActedAs.Login,
				pr.CreatedBy, micros(created)},
			"record pull request", "a pull request record with this id already exists"})
}

// IssuePullRequests lists the issue's pull request records, oldest first.
// The slice is never nil.
func (db *DB) IssuePullRequests(ctx context.Context, tenantID, issueKey string) ([]relay.PullRequestRecord, error) {
	_, prs, err := db.issueRecords(ctx, tenantID, issueKey)
	return prs, err
}

// issueRecordsQuery reads an issue's branch and pull request records
// (issueRecordsArgs): the two tables as one list of rows with the columns
// of both (a branch has no number, title or target; a pull request no
// name), then one row (pr 2) whose number is the issue's record version,
// read in the same statement so that the rows and the version are of one
// snapshot (see panelCache). The tenant and the issue are the ones asked
// for: not read back for each row (the panel reads these rows).
const issueRecordsQuery = `SELECT 0 AS pr, id, integration_id, repository_id, repository,
		name, 0 AS number, '' AS title, url, '' AS source_branch, '' AS target_branch, FALSE AS draft,
		via, login, created_by, created_at
	FROM branch_records WHERE tenant_id = ? AND issue_key = ?
	UNION ALL
	SELECT 1, id, integration_id, repository_id, repository,
		'', number, title, url, source_branch, target_branch, draft,
		via, login, created_by, created_at
	FROM pull_request_records WHERE tenant_id = ? AND issue_key = ?
	UNION ALL
	SELECT 2, '', '', '', '', '', ` + recordVersion + `, '', '', '', '', FALSE, '', '', '', 0
	ORDER BY 1, created_at, id`

// recordVersion is an issue's record version (tenant, issue): the number
// of changes to its records.
const recordVersion = `(SELECT COUNT(*) FROM issue_record_changes WHERE tenant_id = ? AND issue_key = ?)`

// issueRecordsArgs are issueRecordsQuery's arguments.
func issueRecordsArgs(tenantID, issueKey string) []any {
	return []any{tenantID, issueKey, tenantID, issueKey, tenantID, issueKey}
}

// issueRecords reads the issue's branch and pull request records in one
// round trip, each list oldest first and never nil.
func (db *DB) issueRecords(ctx context.Context, tenantID, issueKey string) ([]relay.BranchRecord, []relay.PullRequestRecord, error) {
	rows, err := db.hot().query(ctx, issueRecordsQuery, issueRecordsArgs(tenantID, issueKey)...)
	if err != nil {
		return nil, nil, fmt.Errorf("store: list issue records: %w", err)
	}
	defer rows.Close()
	r, err := scanIssueRecords(rows, tenantID, issueKey)
	return r.branches, r.pullRequests, err
}

// issueRecordSet is what issueRecordsQuery read: the records (when read)
// and the issue's record version.
type issueRecordSet struct {
	version      int64
	branches     []relay.BranchRecord
	pullRequests []relay.PullRequestRecord
}

// scanIssueRecords reads issueRecordsQuery's rows.
func scanIssueRecords(rows scanRows, tenantID, issueKey string) (issueRecordSet, error) {
	r := issueRecordSet{branches: []relay.BranchRecord{}, pullRequests: []relay.PullRequestRecord{}}
	// One set of destinations for every row (each row's values are copied
	// out of it), rather than new ones escaping to the heap per row.
	var (
		pr      relay.PullRequestRecord
		kind    int64
		name    string
		number  int64
		via     string
		created int64
	)
	dest := []any{&kind, &pr.ID, &pr.IntegrationID, &pr.RepositoryID, &pr.Repository,
		&name, &number, &pr.Title, &pr.URL, &pr.Source, &pr.Target, &pr.Draft, &via, &pr.ActedAs.Login,
		&pr.CreatedBy, &created}
	pr.TenantID, pr.IssueKey = tenantID, issueKey
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return issueRecordSet{}, fmt.Errorf("store: list issue records: %w", err)
		}
		pr.ActedAs.Via = relay.Via(via)
		pr.CreatedAt = fromMicros(created)
		switch kind {
		case 0:
			r.branches = append(r.branches, relay.BranchRecord{ID: pr.ID, TenantID: pr.TenantID, IssueKey: pr.IssueKey,
				IntegrationID: pr.IntegrationID, RepositoryID: pr.RepositoryID, Repository: pr.Repository, Name: name,
				URL: pr.URL, ActedAs: pr.ActedAs, CreatedBy: pr.CreatedBy, CreatedAt: pr.CreatedAt})
		case 1:
			pr.Number = int(number)
			r.pullRequests = append(r.pullRequests, pr)
		default:
			r.version = number
		}
	}
	if err := rows.Err(); err != nil {
		return issueRecordSet{}, fmt.Errorf("store: list issue records: %w", err)
	}
	return r, nil
}

// bumpRecordVersions is the statement counting a change to a record of
// table matched by where, in the transaction that makes it: it adds a
// change to the issue the record belongs to before the change (none when
// there is no such record) and to issue ("" : none), the one it belongs
// to after (arguments: tenant, a new change id, issue, tenant, where's).
// It runs before the change, or in the same statement (a data-modifying
// WITH sees the rows as they were). It only adds rows, so writes to one
// issue never wait for each other.
func bumpRecordVersions(table, where string) string {
	return `INSERT INTO issue_record_changes (tenant_id, issue_key, change_id)
		SELECT ?, k.issue_key, ? FROM (SELECT CAST(? AS TEXT) AS issue_key
			UNION ALL SELECT issue_key FROM ` + table + ` WHERE tenant_id = ? AND ` + where + ` AND issue_key <> ?) k
		WHERE k.issue_key <> ''`
}

// The record version bumps of the three record writes.
var (
	bumpBranchVersions      = bumpRecordVersions("branch_records", `integration_id = ? AND repository_id = ? AND name = ?`)
	bumpPullRequestVersions = bumpRecordVersions("pull_request_records", `integration_id = ? AND repository_id = ? AND number = ?`)
)
