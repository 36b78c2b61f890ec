package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// indexTables hold the index of an integration's repositories (see
// migration 0012_index): everything in them was read from the host and can
// be read again, so they go with their repository, integration or tenant.
var indexTables = []string{
	"indexed_pull_request_issues", "indexed_pull_requests", "indexed_commit_issues", "indexed_commits",
	"indexed_branches", "index_repositories",
}

// IssueIndexLimit caps each list of an issue's index answer (commits,
// branches, pull requests), newest first.
const IssueIndexLimit = 500

// indexInsertBatch is how many rows one INSERT of the index carries: well
// below both dialects' limits on bound parameters.
const indexInsertBatch = 400

// IndexIntegrations lists, across tenants, the enabled integrations the
// index reads: (tenant, integration) pairs.
func (db *DB) IndexIntegrations(ctx context.Context) ([]relay.IndexKey, error) {
	rows, err := db.reader().query(ctx, `SELECT tenant_id, id FROM integrations WHERE enabled ORDER BY tenant_id, id`)
	if err != nil {
		return nil, dbError(err, "list integrations to index", "", "")
	}
	defer rows.Close()
	var out []relay.IndexKey
	for rows.Next() {
		var k relay.IndexKey
		if err := rows.Scan(&k.TenantID, &k.IntegrationID); err != nil {
			return nil, dbError(err, "list integrations to index", "", "")
		}
		out = append(out, k)
	}
	return out, dbError(rows.Err(), "list integrations to index", "", "")
}

// SyncIndexRepositories makes the integration's indexed repositories
// repos: new ones are added, due at once; names and web addresses are
// refreshed; repositories no longer listed lose their index, and their ids
// are returned (so their clones can be removed). ENotFound when the
// integration is gone.
func (db *DB) SyncIndexRepositories(ctx context.Context, tenantID, integrationID string, repos []relay.Repository, now time.Time) ([]string, error) {
	var removed []string
	err := db.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, `UPDATE integrations SET updated_at = updated_at WHERE tenant_id = ? AND id = ?`, tenantID, integrationID)
		if err != nil {
			return dbError(err, "lock integration", "", "")
		}
		if err := mustAffect(res, "lock integration", msgIntegrationNotFound); err != nil {
			return err
		}
		have := map[string]bool{}
		rows, err := c.query(ctx, `SELECT repository_id FROM index_repositories WHERE tenant_id = ? AND integration_id = ?`, tenantID, integrationID)
		if err != nil {
			return dbError(err, "read indexed repositories", "", "")
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return dbError(err, "read indexed repositories", "", "")
			}
			have[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbError(err, "read indexed repositories", "", "")
		}
		want := map[string]bool{}
		// Whether what the panel shows changed: a repository renamed or
		// moved, or one gone (a new one has nothing indexed yet).
		changed := false
		for _, r := range repos {
			if want[r.ID] {
				continue
			}
			want[r.ID] = true
			if have[r.ID] {
				var res sql.Result
				res, err = c.exec(ctx, `UPDATE index_repositories SET full_name = ?, web_url = ?
					WHERE tenant_id = ? AND integration_id = ? AND repository_id = ? AND (full_name <> ? OR web_url <> ?)`,
					r.FullName, r.WebURL, tenantID, integrationID, r.ID, r.FullName, r.WebURL)
				if err == nil {
					var n int64
					n, err = res.RowsAffected()
					changed = changed || n > 0
				}
			} else {
				_, err = c.exec(ctx, `INSERT INTO index_repositories (tenant_id, integration_id, repository_id, full_name, web_url,
					tips, tips_digest, commits, next_poll_at, lease_owner, leased_until, failure, disk_bytes, pr_etag)
					VALUES (?, ?, ?, ?, ?, '{}', '', 0, ?, '', 0, '', 0, '')`,
					tenantID, integrationID, r.ID, r.FullName, r.WebURL, micros(now))
			}
			if err != nil {
				return dbError(err, "add indexed repository", msgIntegrationNotFound, "")
			}
		}
		for id := range have {
			if !want[id] {
				removed = append(removed, id)
				changed = true
				if err := deleteIndex(ctx, c, tenantID, integrationID, id); err != nil {
					return err
				}
			}
		}
		if changed {
			return bumpIndex(ctx, c, tenantID)
		}
		return nil
	})
	slices.Sort(removed)
	return removed, err
}

// deleteIndex removes one repository's index.
func deleteIndex(ctx context.Context, c conn, tenantID, integrationID, repositoryID string) error {
	for _, table := range indexTables {
		if _, err := c.exec(ctx, `DELETE FROM `+table+` WHERE tenant_id = ? AND integration_id = ? AND repository_id = ?`,
			tenantID, integrationID, repositoryID); err != nil {
			return dbError(err, "delete index "+table, "", "")
		}
	}
	return nil
}

// IndexedRepositoryKeys lists every repository the index holds, across
// tenants.
func (db *DB) IndexedRepositoryKeys(ctx context.Context) ([]relay.IndexKey, error) {
	return db.indexKeys(ctx, "list indexed repositories", `SELECT tenant_id, integration_id, repository_id FROM index_repositories`)
}

// ReadableRepositoryKeys lists the repositories replica may read (those it
// holds, that no replica holds, or whose holder's last heartbeat is older
// than goneAfter), so that it removes the clones of every other: those of
// repositories another replica holds, or the index no longer has.
func (db *DB) ReadableRepositoryKeys(ctx context.Context, replica string, now time.Time, goneAfter time.Duration) ([]relay.IndexKey, error) {
	return db.indexKeys(ctx, "list readable repositories", `SELECT tenant_id, integration_id, repository_id FROM index_repositories
		WHERE clone_holder IN ('', ?) OR clone_holder NOT IN (SELECT id FROM index_replicas WHERE seen_at >= ?)`,
		replica, micros(now.Add(-goneAfter)))
}

func (db *DB) indexKeys(ctx context.Context, op, q string, args ...any) ([]relay.IndexKey, error) {
	rows, err := db.reader().query(ctx, q, args...)
	if err != nil {
		return nil, dbError(err, op, "", "")
	}
	defer rows.Close()
	var out []relay.IndexKey
	for rows.Next() {
		var k relay.IndexKey
		if err := rows.Scan(&k.TenantID, &k.IntegrationID, &k.RepositoryID); err != nil {
			return nil, dbError(err, op, "", "")
		}
		out = append(out, k)
	}
	return out, dbError(rows.Err(), op, "", "")
}

const indexStateColumns = `tenant_id, integration_id, repository_id, full_name, web_url, tips, tips_digest, commits,
	last_checked_at, last_changed_at, next_poll_at, requested_at, leased_until, failure, failing_since, disk_bytes, clone_holder`

func scanIndexState(rows *sql.Rows, now time.Time) (relay.IndexState, error) {
	var s relay.IndexState
	var tips string
	var checked, changed, requested, failing sql.NullInt64
	var next, leased int64
	err := rows.Scan(&s.TenantID, &s.IntegrationID, &s.RepositoryID, &s.FullName, &s.WebURL, &tips, &s.TipsDigest, &s.Commits,
		&checked, &changed, &next, &requested, &leased, &s.Failure, &failing, &s.DiskBytes, &s.Holder)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(tips), &s.Tips); err != nil {
		return s, fmt.Errorf("tips of %s: %w", s.FullName, err)
	}
	s.LastCheckedAt, s.LastChangedAt = fromNullMicros(checked), fromNullMicros(changed)
	s.RequestedAt, s.FailingSince = fromNullMicros(requested), fromNullMicros(failing)
	s.NextPollAt = fromMicros(next)
	s.Leased = leased > micros(now)
	return s, nil
}

// claimable is the condition, on a row of table, that the replica of an
// IndexClaim may claim the repository: it holds it, or none does, and no
// lease runs; or its holder is gone (no heartbeat since a cutoff), and its
// lease went with it. Its arguments are claimableArgs. The live replicas
// are one uncorrelated subquery, read once per statement rather than once
// per row.
func claimable(table string) string {
	return `((` + table + `.clone_holder IN ('', ?) AND ` + table + `.leased_until < ?) OR (` + table + `.clone_holder NOT IN ('', ?)
		AND ` + table + `.clone_holder NOT IN (SELECT id FROM index_replicas WHERE seen_at >= ?)))`
}

func claimableArgs(c relay.IndexClaim) []any {
	return []any{c.Replica, micros(c.Now), c.Replica, micros(c.Now.Add(-c.GoneAfter))}
}

// ClaimDueRepositories leases up to c.Limit due repositories of enabled
// integrations that c.Replica may read (see claimable) to c.Owner until
// c.Now+c.Lease, makes c.Replica their holder, and returns them, the
// earliest due first. The holder is set on claiming rather than on saving,
// so that a first clone outlasting its lease is not started again by
// another replica while its own lives. The claim is made in the UPDATE's
// own condition, so two replicas never claim one repository at once
// (PostgreSQL re-checks the condition on the row it locks, which by then
// names its new holder and lease; SQLite has one writer).
func (db *DB) ClaimDueRepositories(ctx context.Context, c relay.IndexClaim) ([]relay.IndexState, error) {
	args := []any{c.Owner, micros(c.Now.Add(c.Lease)), c.Replica, micros(c.Now)}
	args = append(args, claimableArgs(c)...)
	args = append(args, micros(c.Now))
	args = append(args, claimableArgs(c)...)
	args = append(args, c.Limit)
	var out []relay.IndexState
	err := db.inTx(ctx, func(cn conn) error {
		rows, err := cn.query(ctx, `UPDATE index_repositories SET lease_owner = ?, leased_until = ?, clone_holder = ?
			WHERE next_poll_at <= ? AND `+claimable("index_repositories")+` AND (tenant_id, integration_id, repository_id) IN (
				SELECT r.tenant_id, r.integration_id, r.repository_id FROM index_repositories r
				JOIN integrations i ON i.tenant_id = r.tenant_id AND i.id = r.integration_id
				WHERE r.next_poll_at <= ? AND `+claimable("r")+` AND i.enabled ORDER BY r.next_poll_at LIMIT ?)
			RETURNING `+indexStateColumns, args...)
		if err != nil {
			return dbError(err, "claim due repositories", "", "")
		}
		defer rows.Close()
		for rows.Next() {
			s, err := scanIndexState(rows, c.Now)
			if err != nil {
				return dbError(err, "claim due repositories", "", "")
			}
			out = append(out, s)
		}
		return dbError(rows.Err(), "claim due repositories", "", "")
	})
	slices.SortFunc(out, func(a, b relay.IndexState) int { return a.NextPollAt.Compare(b.NextPollAt) })
	return out, err
}

// BeatIndexReplica records that replica is alive at now (its heartbeat),
// and forgets the replicas not heard from for forgetAfter: a replica
// without a row is as gone as one with an old heartbeat.
func (db *DB) BeatIndexReplica(ctx context.Context, replica string, now time.Time, forgetAfter time.Duration) error {
	return db.inTx(ctx, func(c conn) error {
		if _, err := c.exec(ctx, `INSERT INTO index_replicas (id, seen_at) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`, replica, micros(now)); err != nil {
			return dbError(err, "record index replica heartbeat", "", "")
		}
		_, err := c.exec(ctx, `DELETE FROM index_replicas WHERE seen_at < ?`, micros(now.Add(-forgetAfter)))
		return dbError(err, "forget gone index replicas", "", "")
	})
}

// IndexReplicas lists the replicas by id: those alive (a heartbeat within
// goneAfter of now) and those gone but not yet forgotten.
func (db *DB) IndexReplicas(ctx context.Context, now time.Time, goneAfter time.Duration) (live, gone []string, err error) {
	rows, err := db.reader().query(ctx, `SELECT id, seen_at FROM index_replicas ORDER BY id`)
	if err != nil {
		return nil, nil, dbError(err, "list index replicas", "", "")
	}
	defer rows.Close()
	cutoff := micros(now.Add(-goneAfter))
	for rows.Next() {
		var id string
		var seen int64
		if err := rows.Scan(&id, &seen); err != nil {
			return nil, nil, dbError(err, "list index replicas", "", "")
		}
		if seen >= cutoff {
			live = append(live, id)
		} else {
			gone = append(gone, id)
		}
	}
	return live, gone, dbError(rows.Err(), "list index replicas", "", "")
}

// HoldersOfDueRepositories lists the live replicas other than replica
// holding repositories of enabled integrations that are due and not
// leased: those replica may not read, which their holders should read
// now (after a webhook made them due, for one).
func (db *DB) HoldersOfDueRepositories(ctx context.Context, replica string, now time.Time, goneAfter time.Duration) ([]string, error) {
	rows, err := db.reader().query(ctx, `SELECT DISTINCT r.clone_holder FROM index_repositories r
		JOIN integrations i ON i.tenant_id = r.tenant_id AND i.id = r.integration_id
		JOIN index_replicas h ON h.id = r.clone_holder
		WHERE r.next_poll_at <= ? AND r.leased_until < ? AND r.clone_holder NOT IN ('', ?) AND h.seen_at >= ? AND i.enabled
		ORDER BY r.clone_holder`, micros(now), micros(now), replica, micros(now.Add(-goneAfter)))
	if err != nil {
		return nil, dbError(err, "list holders of due repositories", "", "")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, dbError(err, "list holders of due repositories", "", "")
		}
		out = append(out, id)
	}
	return out, dbError(rows.Err(), "list holders of due repositories", "", "")
}

// IndexStates lists the integration's indexed repositories by full name.
func (db *DB) IndexStates(ctx context.Context, tenantID, integrationID string, now time.Time) ([]relay.IndexState, error) {
	rows, err := db.reader().query(ctx, `SELECT `+indexStateColumns+` FROM index_repositories
		WHERE tenant_id = ? AND integration_id = ? ORDER BY full_name, repository_id`, tenantID, integrationID)
	if err != nil {
		return nil, dbError(err, "read index state", "", "")
	}
	defer rows.Close()
	out := []relay.IndexState{}
	for rows.Next() {
		s, err := scanIndexState(rows, now)
		if err != nil {
			return nil, dbError(err, "read index state", "", "")
		}
		out = append(out, s)
	}
	return out, dbError(rows.Err(), "read index state", "", "")
}

// RequestReindex makes the integration's repository (every one when
// repositoryID is "") read again in full at once: its tips are forgotten,
// so every commit is walked again. It returns how many repositories it
// queued; ENotFound when it names none.
func (db *DB) RequestReindex(ctx context.Context, tenantID, integrationID, repositoryID string, now time.Time) (int, error) {
	q := `UPDATE index_repositories SET tips = '{}', tips_digest = '', next_poll_at = ?, requested_at = ?
		WHERE tenant_id = ? AND integration_id = ?`
	args := []any{micros(now), micros(now), tenantID, integrationID}
	if repositoryID != "" {
		q += ` AND repository_id = ?`
		args = append(args, repositoryID)
	}
	var n int64
	err := db.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, q, args...)
		if err != nil {
			return dbError(err, "request re-index", "", "")
		}
		n, err = res.RowsAffected()
		return dbError(err, "request re-index", "", "")
	})
	if err == nil && n == 0 && repositoryID != "" {
		return 0, relay.Errorf(relay.ENotFound, "The repository is not indexed for this integration: it is not included in it, or the integration has not listed its repositories yet.")
	}
	return int(n), err
}

// FailIndex records that reading the repository failed (reason, safe to
// show), keeping when the failures began, makes it due again at next and
// releases owner's lease.
func (db *DB) FailIndex(ctx context.Context, k relay.IndexKey, owner, reason string, now, next time.Time) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `UPDATE index_repositories SET failure = ?,
			failing_since = CASE WHEN failing_since IS NULL THEN ? ELSE failing_since END,
			last_checked_at = ?, next_poll_at = ?, lease_owner = '', leased_until = 0
			WHERE tenant_id = ? AND integration_id = ? AND repository_id = ? AND lease_owner = ?`,
			reason, micros(now), micros(now), micros(next), k.TenantID, k.IntegrationID, k.RepositoryID, owner)
		return dbError(err, "record index failure", "", "")
	})
}

// SaveIndex saves one read of a repository in one transaction: the commits
// found, the rows of the branches that changed, the new tips and schedule,
// and releases the lease; the hooks run last in it (Jira's development
// information is queued there), so that what they write commits with the
// read or not at all, and an error of theirs saves nothing. It does
// nothing when owner no longer holds the lease or the repository left the
// index meanwhile (reported false; the hooks do not run).
func (db *DB) SaveIndex(ctx context.Context, u relay.IndexUpdate, hooks ...TxHook) (bool, error) {
	tips, err := json.Marshal(u.Tips)
	if err != nil {
		return false, err
	}
	// A due time later than the claimed one was set by PollSoon during
	// the read: it is kept (when sooner than the schedule's), so that the
	// change a webhook told of is read next.
	dueAt := int64(math.MaxInt64)
	if !u.DueAt.IsZero() {
		dueAt = micros(u.DueAt)
	}
	saved := false
	err = db.inTx(ctx, func(c conn) error {
		changedAt := sql.NullInt64{}
		if u.Changed {
			changedAt = nullMicros(u.CheckedAt)
		}
		res, err := c.exec(ctx, `UPDATE index_repositories SET tips = ?, tips_digest = ?, commits = commits + ?,
			last_checked_at = ?, last_changed_at = COALESCE(?, last_changed_at),
			next_poll_at = CASE WHEN next_poll_at > ? AND next_poll_at < ? THEN next_poll_at ELSE ? END,
			requested_at = NULL, lease_owner = '', leased_until = 0, failure = '', failing_since = NULL, disk_bytes = ?
			WHERE tenant_id = ? AND integration_id = ? AND repository_id = ? AND lease_owner = ?`,
			string(tips), u.TipsDigest, u.Walked, micros(u.CheckedAt), changedAt, dueAt, micros(u.NextPollAt), micros(u.NextPollAt), u.DiskBytes,
			u.TenantID, u.IntegrationID, u.RepositoryID, u.Owner)
		if err != nil {
			return dbError(err, "save index", "", "")
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return dbError(err, "save index", "", "")
		}
		if err := insertCommits(ctx, c, u); err != nil {
			return err
		}
		if err := rebranchCommits(ctx, c, u.IndexKey, u.Rebranched); err != nil {
			return err
		}
		if err := replaceBranches(ctx, c, u); err != nil {
			return err
		}
		// A read that found nothing new leaves what the panel shows as it
		// was (and what each process keeps of it).
		if u.Changed || len(u.Commits)+len(u.Rebranched)+len(u.ChangedBranches)+len(u.Branches) > 0 {
			if err := bumpIndex(ctx, c, u.TenantID); err != nil {
				return err
			}
		}
		if err := runHooks(ctx, c, hooks); err != nil {
			return err
		}
		saved = true
		return nil
	})
	return saved && err == nil, err
}

func insertCommits(ctx context.Context, c conn, u relay.IndexUpdate) error {
	for start := 0; start < len(u.Commits); start += indexInsertBatch {
		batch := u.Commits[start:min(start+indexInsertBatch, len(u.Commits))]
		var q, qi strings.Builder
		q.WriteString(`INSERT INTO indexed_commits (tenant_id, integration_id, repository_id, sha, message, author_name, author_email, committed_at, branches) VALUES `)
		qi.WriteString(`INSERT INTO indexed_commit_issues (tenant_id, issue_key, integration_id, repository_id, sha, committed_at) VALUES `)
		args := make([]any, 0, 9*len(batch))
		var argsi []any
		for i, cm := range batch {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
			branches, _ := json.Marshal(branchList(cm.Branches))
			args = append(args, u.TenantID, u.IntegrationID, u.RepositoryID, cm.SHA, cm.Message, cm.AuthorName, cm.AuthorEmail, micros(cm.At), string(branches))
			for _, key := range cm.IssueKeys {
				if len(argsi) > 0 {
					qi.WriteString(", ")
				}
				qi.WriteString("(?, ?, ?, ?, ?, ?)")
				argsi = append(argsi, u.TenantID, key, u.IntegrationID, u.RepositoryID, cm.SHA, micros(cm.At))
			}
		}
		// A commit walked again (a re-index) is on the branches found now.
		q.WriteString(` ON CONFLICT (tenant_id, integration_id, repository_id, sha) DO UPDATE SET branches = excluded.branches`)
		if _, err := c.exec(ctx, q.String(), args...); err != nil {
			return dbError(err, "save indexed commits", "", "")
		}
		if len(argsi) > 0 {
			qi.WriteString(` ON CONFLICT (tenant_id, issue_key, integration_id, repository_id, sha) DO NOTHING`)
			if _, err := c.exec(ctx, qi.String(), argsi...); err != nil {
				return dbError(err, "save indexed commit issues", "", "")
			}
		}
	}
	return nil
}

// rebranchCommits sets the branches of indexed commits, many rows per
// statement.
func rebranchCommits(ctx context.Context, c conn, k relay.IndexKey, commits []relay.CommitBranches) error {
	for start := 0; start < len(commits); start += indexInsertBatch {
		batch := commits[start:min(start+indexInsertBatch, len(commits))]
		// One text that both databases run well: the IN lets SQLite find
		// the rows by key (joining the list to the table alone, it scans
		// the table for each row), the join lets PostgreSQL hash the list
		// (a CASE over the shas, or a lookup per row, scans the table
		// while its statistics are new).
		args := make([]any, 0, 2*len(batch)+3)
		for _, cb := range batch {
			branches, err := json.Marshal(branchList(cb.Branches))
			if err != nil {
				return err
			}
			args = append(args, cb.SHA, string(branches))
		}
		args = append(args, k.TenantID, k.IntegrationID, k.RepositoryID)
		_, err := c.exec(ctx, `WITH v (sha, branches) AS (VALUES (?, ?)`+strings.Repeat(", (?, ?)", len(batch)-1)+`)
			UPDATE indexed_commits SET branches = v.branches FROM v
			WHERE indexed_commits.tenant_id = ? AND indexed_commits.integration_id = ? AND indexed_commits.repository_id = ?
			AND indexed_commits.sha IN (SELECT sha FROM v) AND indexed_commits.sha = v.sha`, args...)
		if err != nil {
			return dbError(err, "save indexed commits' branches", "", "")
		}
	}
	return nil
}

// branchList is a commit's branches as stored: never null.
func branchList(b []string) []string {
	if b == nil {
		return []string{}
	}
	return b
}

// CommitBranches reads the branches of the repository's indexed commits
// with the given shas (nil: every indexed commit of the repository), by
// sha; shas not indexed are left out.
func (db *DB) CommitBranches(ctx context.Context, k relay.IndexKey, shas []string) (map[string][]string, error) {
	out := map[string][]string{}
	read := func(q string, args ...any) error {
		rows, err := db.reader().query(ctx, q, args...)
		if err != nil {
			return dbError(err, "read indexed commits' branches", "", "")
		}
		defer rows.Close()
		for rows.Next() {
			var sha, branches string
			if err := rows.Scan(&sha, &branches); err != nil {
				return dbError(err, "read indexed commits' branches", "", "")
			}
			var list []string
			if err := json.Unmarshal([]byte(branches), &list); err != nil {
				return fmt.Errorf("store: branches of commit %s: %w", sha, err)
			}
			out[sha] = list
		}
		return dbError(rows.Err(), "read indexed commits' branches", "", "")
	}
	const q = `SELECT sha, branches FROM indexed_commits WHERE tenant_id = ? AND integration_id = ? AND repository_id = ?`
	if shas == nil {
		return out, read(q, k.TenantID, k.IntegrationID, k.RepositoryID)
	}
	for start := 0; start < len(shas); start += indexInsertBatch {
		batch := shas[start:min(start+indexInsertBatch, len(shas))]
		args := []any{k.TenantID, k.IntegrationID, k.RepositoryID}
		for _, sha := range batch {
			args = append(args, sha)
		}
		if err := read(q+` AND sha IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`, args...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func replaceBranches(ctx context.Context, c conn, u relay.IndexUpdate) error {
	for start := 0; start < len(u.ChangedBranches); start += indexInsertBatch {
		batch := u.ChangedBranches[start:min(start+indexInsertBatch, len(u.ChangedBranches))]
		args := []any{u.TenantID, u.IntegrationID, u.RepositoryID}
		for _, name := range batch {
			args = append(args, name)
		}
		_, err := c.exec(ctx, `DELETE FROM indexed_branches WHERE tenant_id = ? AND integration_id = ? AND repository_id = ?
			AND name IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`, args...)
		if err != nil {
			return dbError(err, "replace indexed branches", "", "")
		}
	}
	for start := 0; start < len(u.Branches); start += indexInsertBatch {
		batch := u.Branches[start:min(start+indexInsertBatch, len(u.Branches))]
		var q strings.Builder
		q.WriteString(`INSERT INTO indexed_branches (tenant_id, integration_id, repository_id, name, issue_key, sha, commit_message, commit_author, commit_at, updated_at) VALUES `)
		args := make([]any, 0, 10*len(batch))
		for i, b := range batch {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, u.TenantID, u.IntegrationID, u.RepositoryID, b.Name, b.IssueKey, b.SHA, b.Message, b.Author, micros(b.CommitAt), micros(b.UpdatedAt))
		}
		q.WriteString(` ON CONFLICT (tenant_id, integration_id, repository_id, name, issue_key) DO NOTHING`)
		if _, err := c.exec(ctx, q.String(), args...); err != nil {
			return dbError(err, "save indexed branches", "", "")
		}
	}
	return nil
}

// PutIndexedPullRequests inserts or replaces pull requests read through the
// host API for one repository, with the issue keys each names (replacing
// the keys it had), in one transaction in which the hooks run last (as
// SaveIndex's).
func (db *DB) PutIndexedPullRequests(ctx context.Context, k relay.IndexKey, prs []relay.IndexedPullRequest, hooks ...TxHook) error {
	return db.inTx(ctx, func(c conn) error {
		for _, p := range prs {
			_, err := c.exec(ctx, `INSERT INTO indexed_pull_requests (tenant_id, integration_id, repository_id, number, title, state,
				source_branch, target_branch, author, url, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (tenant_id, integration_id, repository_id, number) DO UPDATE SET title = excluded.title,
				state = excluded.state, source_branch = excluded.source_branch, target_branch = excluded.target_branch,
				author = excluded.author, url = excluded.url, updated_at = excluded.updated_at`,
				k.TenantID, k.IntegrationID, k.RepositoryID, int64(p.Number), p.Title, p.State, p.Source, p.Target, p.Author, p.URL, micros(p.UpdatedAt))
			if err != nil {
				return dbError(err, "save indexed pull request", "", "")
			}
			if _, err := c.exec(ctx, `DELETE FROM indexed_pull_request_issues WHERE tenant_id = ? AND integration_id = ? AND repository_id = ? AND number = ?`,
				k.TenantID, k.IntegrationID, k.RepositoryID, int64(p.Number)); err != nil {
				return dbError(err, "save indexed pull request", "", "")
			}
			for _, key := range p.IssueKeys {
				if _, err := c.exec(ctx, `INSERT INTO indexed_pull_request_issues (tenant_id, issue_key, integration_id, repository_id, number)
					VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, issue_key, integration_id, repository_id, number) DO NOTHING`,
					k.TenantID, key, k.IntegrationID, k.RepositoryID, int64(p.Number)); err != nil {
					return dbError(err, "save indexed pull request", "", "")
				}
			}
		}
		if len(prs) > 0 {
			if err := bumpIndex(ctx, c, k.TenantID); err != nil {
				return err
			}
		}
		return runHooks(ctx, c, hooks)
	})
}

// issueIndexQuery reads an issue's indexed branches, commits and pull
// requests in one statement (one round trip on PostgreSQL, as the rest of
// the panel), each part newest first and capped: kind, where, then
// columns whose meaning depends on the kind; then one row (kind 'v')
// whose n is the tenant's index version, read in the same statement so
// that the rows and the version are of one snapshot (see panelCache).
const issueIndexQuery = `SELECT * FROM (SELECT 'b' AS kind, b.integration_id, b.repository_id, r.full_name, r.web_url,
		b.name AS t1, b.sha AS t2, b.commit_message AS t3, b.commit_author AS t4, '' AS t5, '' AS t6, 0 AS n,
		b.commit_at AS at1, b.updated_at AS at2
	FROM indexed_branches b JOIN index_repositories r ON r.tenant_id = b.tenant_id AND r.integration_id = b.integration_id
		AND r.repository_id = b.repository_id
	WHERE b.tenant_id = ? AND b.issue_key = ? ORDER BY b.updated_at DESC LIMIT ?) ib
UNION ALL SELECT * FROM (SELECT 'c', ci.integration_id, ci.repository_id, r.full_name, r.web_url,
		c.sha, c.message, c.author_name, c.author_email, c.branches, '', 0, c.committed_at, 0
	FROM indexed_commit_issues ci
	JOIN indexed_commits c ON c.tenant_id = ci.tenant_id AND c.integration_id = ci.integration_id
		AND c.repository_id = ci.repository_id AND c.sha = ci.sha
	JOIN index_repositories r ON r.tenant_id = ci.tenant_id AND r.integration_id = ci.integration_id
		AND r.repository_id = ci.repository_id
	WHERE ci.tenant_id = ? AND ci.issue_key = ? ORDER BY ci.committed_at DESC, c.sha LIMIT ?) ic
UNION ALL SELECT * FROM (SELECT 'p', pi.integration_id, pi.repository_id, r.full_name, r.web_url,
		p.title, p.state, p.source_branch, p.target_branch, p.author, p.url, p.number, p.updated_at, 0
	FROM indexed_pull_request_issues pi
	JOIN indexed_pull_requests p ON p.tenant_id = pi.tenant_id AND p.integration_id = pi.integration_id
		AND p.repository_id = pi.repository_id AND p.number = pi.number
	JOIN index_repositories r ON r.tenant_id = pi.tenant_id AND r.integration_id = pi.integration_id
		AND r.repository_id = pi.repository_id
	WHERE pi.tenant_id = ? AND pi.issue_key = ? ORDER BY p.updated_at DESC LIMIT ?) ip
UNION ALL SELECT 'v', '', '', '', '', '', '', '', '', '', '', ` + indexVersion + `, 0, 0`

// indexVersion is a tenant's index version (tenant): 0 until its index
// first changes.
const indexVersion = `COALESCE((SELECT version FROM index_versions WHERE tenant_id = ?), 0)`

// bumpIndex counts a change to what the tenant's index shows, in the
// transaction that makes it (see panelCache).
func bumpIndex(ctx context.Context, c conn, tenantID string) error {
	_, err := c.exec(ctx, `INSERT INTO index_versions (tenant_id, version) VALUES (?, 1)
		ON CONFLICT (tenant_id) DO UPDATE SET version = index_versions.version + 1`, tenantID)
	return dbError(err, "count index change", "", "")
}

// IssueIndex reads what the index holds for the issue from the given
// integrations (nil: none), newest first, at most IssueIndexLimit of each,
// in one statement.
func (db *DB) IssueIndex(ctx context.Context, tenantID, issueKey string, integrationIDs []string) (relay.IssueIndex, error) {
	if len(integrationIDs) == 0 {
		return emptyIssueIndex(), nil
	}
	rows, err := db.hot().query(ctx, issueIndexQuery, issueIndexArgs(tenantID, issueKey)...)
	if err != nil {
		return emptyIssueIndex(), dbError(err, "read issue index", "", "")
	}
	defer rows.Close()
	idx, _, err := scanIssueIndex(rows, issueKey, func(id string) bool { return slices.Contains(integrationIDs, id) })
	return idx, err
}

func emptyIssueIndex() relay.IssueIndex {
	return relay.IssueIndex{Branches: []relay.IssueIndexBranch{}, Commits: []relay.IssueIndexCommit{}, PullRequests: []relay.IssueIndexPullRequest{}}
}

// issueIndexArgs are issueIndexQuery's arguments.
func issueIndexArgs(tenantID, issueKey string) []any {
	return []any{tenantID, issueKey, IssueIndexLimit, tenantID, issueKey, IssueIndexLimit, tenantID, issueKey, IssueIndexLimit, tenantID}
}

// scanIssueIndex reads issueIndexQuery's rows, keeping those of the
// integrations keep says (nil: all), and returns the tenant's index
// version.
func scanIssueIndex(rows scanRows, issueKey string, keep func(integrationID string) bool) (relay.IssueIndex, int64, error) {
	out := emptyIssueIndex()
	// One set of destinations for every row (see scanIssueRecords).
	var (
		kind                   string
		place                  relay.IndexPlace
		t1, t2, t3, t4, t5, t6 string
		n, at1, at2            int64
		version                int64
	)
	dest := []any{&kind, &place.IntegrationID, &place.RepositoryID, &place.Repository, &place.WebURL,
		&t1, &t2, &t3, &t4, &t5, &t6, &n, &at1, &at2}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return out, 0, dbError(err, "read issue index", "", "")
		}
		if kind == "v" {
			version = n
			continue
		}
		if keep != nil && !keep(place.IntegrationID) {
			continue
		}
		switch kind {
		case "b":
			out.Branches = append(out.Branches, relay.IssueIndexBranch{IndexPlace: place, IndexedBranch: relay.IndexedBranch{
				Name: t1, IssueKey: issueKey, SHA: t2, Message: t3, Author: t4, CommitAt: fromMicros(at1), UpdatedAt: fromMicros(at2)}})
		case "c":
			c := relay.IndexedCommit{SHA: t1, Message: t2, AuthorName: t3, AuthorEmail: t4, At: fromMicros(at1), IssueKeys: []string{issueKey}}
			_ = json.Unmarshal([]byte(t5), &c.Branches)
			out.Commits = append(out.Commits, relay.IssueIndexCommit{IndexPlace: place, IndexedCommit: c})
		case "p":
			out.PullRequests = append(out.PullRequests, relay.IssueIndexPullRequest{IndexPlace: place, IndexedPullRequest: relay.IndexedPullRequest{
				Number: int(n), Title: t1, State: t2, Source: t3, Target: t4, Author: t5, URL: t6, UpdatedAt: fromMicros(at1), IssueKeys: []string{issueKey}}})
		}
	}
	return out, version, dbError(rows.Err(), "read issue index", "", "")
}

// PullRequestCursor is where the repository's pull-request read through
// the host API stands: the updated time of the newest pull request read
// (zero: none yet) and the list's last ETag ("" : none). ENotFound when
// the repository is not indexed.
func (db *DB) PullRequestCursor(ctx context.Context, k relay.IndexKey) (time.Time, string, error) {
	var cursor sql.NullInt64
	var etag string
	err := db.reader().queryRow(ctx, `SELECT pr_cursor, pr_etag FROM index_repositories
		WHERE tenant_id = ? AND integration_id = ? AND repository_id = ?`, k.TenantID, k.IntegrationID, k.RepositoryID).Scan(&cursor, &etag)
	if err != nil {
		return time.Time{}, "", dbError(err, "read pull request cursor", "The repository is not indexed.", "")
	}
	return fromNullMicros(cursor), etag, nil
}

// SetPullRequestCursor saves where the repository's pull-request read
// stands (see PullRequestCursor).
func (db *DB) SetPullRequestCursor(ctx context.Context, k relay.IndexKey, cursor time.Time, etag string) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `UPDATE index_repositories SET pr_cursor = ?, pr_etag = ?
			WHERE tenant_id = ? AND integration_id = ? AND repository_id = ?`,
			nullMicros(cursor), etag, k.TenantID, k.IntegrationID, k.RepositoryID)
		return dbError(err, "save pull request cursor", "", "")
	})
}

// PollSoon makes the repository due at once (a webhook told of a change),
// without forgetting what was read: the next poll reads it
// incrementally. It reports whether the repository is indexed. A
// repository being read is made due again after the read (SaveIndex keeps
// the later due time), since the read may have asked for the refs before
// the change.
func (db *DB) PollSoon(ctx context.Context, k relay.IndexKey, now time.Time) (bool, error) {
	var n int64
	err := db.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, `UPDATE index_repositories SET next_poll_at = ?
			WHERE tenant_id = ? AND integration_id = ? AND repository_id = ? AND (next_poll_at > ? OR leased_until >= ?)`,
			micros(now), k.TenantID, k.IntegrationID, k.RepositoryID, micros(now), micros(now))
		if err != nil {
			return dbError(err, "make repository due", "", "")
		}
		n, err = res.RowsAffected()
		if err != nil || n > 0 {
			return dbError(err, "make repository due", "", "")
		}
		// Already due: still report whether it is indexed at all.
		return c.queryRow(ctx, `SELECT COUNT(*) FROM index_repositories WHERE tenant_id = ? AND integration_id = ? AND repository_id = ?`,
			k.TenantID, k.IntegrationID, k.RepositoryID).Scan(&n)
	})
	return n > 0, err
}

// UsersByEmail finds the directory's users whose email is one of emails
// (ignoring case), by lower-cased email, so that indexed commits name the
// directory user who wrote them.
func (db *DB) UsersByEmail(ctx context.Context, tenantID string, emails []string) (map[string]relay.User, error) {
	out := map[string]relay.User{}
	seen := map[string]bool{}
	args := []any{tenantID}
	for _, e := range emails {
		e = strings.ToLower(strings.TrimSpace(e))
		if e != "" && !seen[e] {
			seen[e] = true
			args = append(args, e)
		}
	}
	if len(args) == 1 {
		return out, nil
	}
	rows, err := db.reader().query(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = ? AND LOWER(email) IN (?`+
		strings.Repeat(", ?", len(args)-2)+`) ORDER BY username`, args...)
	if err != nil {
		return nil, dbError(err, "find users by email", "", "")
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, dbError(err, "find users by email", "", "")
		}
		if k := strings.ToLower(u.Email); out[k].ID == "" {
			out[k] = u
		}
	}
	return out, dbError(rows.Err(), "find users by email", "", "")
}

// IndexedCommitBytes is what the stored commits take in the database (their
// tables with their indexes) and how many commits are stored, for the
// operators' and the benchmarks' figure of bytes per indexed commit.
// Sizes are the database's own accounting (pages on SQLite, relation sizes
// on PostgreSQL), so they include free space within pages.
func (db *DB) IndexedCommitBytes(ctx context.Context) (bytes, commits int64, err error) {
	size := `SELECT COALESCE(SUM(d.pgsize), 0) FROM dbstat d JOIN sqlite_schema s ON s.name = d.name
		WHERE s.tbl_name IN ('indexed_commits', 'indexed_commit_issues')`
	if db.dialect == DialectPostgres {
		size = `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname IN ('indexed_commits', 'indexed_commit_issues')`
	}
	if err := db.reader().queryRow(ctx, size).Scan(&bytes); err != nil {
		return 0, 0, fmt.Errorf("store: size of the index: %w", err)
	}
	if err := db.reader().queryRow(ctx, `SELECT COUNT(*) FROM indexed_commits`).Scan(&commits); err != nil {
		return 0, 0, fmt.Errorf("store: count indexed commits: %w", err)
	}
	return bytes, commits, nil
}
