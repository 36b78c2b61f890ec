package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// This file keeps what the Jira Cloud integration (internal/jira) needs:
// Forge installations, Sign in with Atlassian grants and the durable queue
// of development information pushed to Jira.

const msgJiraInstallationNotFound = "this Jira site has not installed gitrelay"

// JiraInstallation is one Forge installation of gitrelay on a Jira site:
// one tenant. Its system token is kept sealed, apart from it.
type JiraInstallation struct {
	TenantID      string // the Forge installation id
	AppID         string
	CloudID       string
	SiteURL       string
	APIBaseURL    string
	SystemTokenAt time.Time // when the sealed system token was received; zero when none
	InstalledAt   time.Time
	UpdatedAt     time.Time
}

// JiraSystemTokenOwner binds a sealed Forge system token to its tenant.
func JiraSystemTokenOwner(tenantID string) string {
	return "jira-system-token\x00" + tenantID
}

// JiraRefreshTokenOwner binds a sealed Sign in with Atlassian refresh token
// to its tenant and account.
func JiraRefreshTokenOwner(tenantID, accountID string) string {
	return "jira-refresh-token\x00" + tenantID + "\x00" + accountID
}

// jiraSealedColumns are the sealed columns of the Jira tables; key
// rotation (ResealSecrets) visits them after sealedColumns.
var jiraSealedColumns = []sealedColumn{
	{
		table:  "jira_installations",
		column: "system_token_sealed",
		key:    []string{"tenant_id"},
		owner:  func(k []string) string { return JiraSystemTokenOwner(k[0]) },
	},
	{
		table:  "jira_oauth_grants",
		column: "refresh_token_sealed",
		key:    []string{"tenant_id", "account_id"},
		owner:  func(k []string) string { return JiraRefreshTokenOwner(k[0], k[1]) },
	},
}

const jiraInstallationColumns = `tenant_id, app_id, cloud_id, site_url, api_base_url, system_token_at, installed_at, updated_at`

// PutJiraInstallation creates or refreshes an installation. Empty fields of
// in keep their stored values (backend invocations carry no site URL), and
// a nil sealedSystemToken keeps the stored token. in.SystemTokenAt is when
// the token was received (default: now).
func (db *DB) PutJiraInstallation(ctx context.Context, in JiraInstallation, sealedSystemToken []byte) error {
	now := db.now()
	return db.inTx(ctx, func(c conn) error {
		if err := refuseRemoved(ctx, c, in.TenantID); err != nil {
			return err
		}
		old, err := jiraInstallation(ctx, c, in.TenantID)
		switch {
		case err == nil:
			in.AppID = firstNonEmpty(in.AppID, old.AppID)
			in.CloudID = firstNonEmpty(in.CloudID, old.CloudID)
			in.SiteURL = firstNonEmpty(in.SiteURL, old.SiteURL)
			in.APIBaseURL = firstNonEmpty(in.APIBaseURL, old.APIBaseURL)
			_, err = c.exec(ctx, `UPDATE jira_installations SET app_id = ?, cloud_id = ?, site_url = ?,
				api_base_url = ?, updated_at = ? WHERE tenant_id = ?`,
				in.AppID, in.CloudID, in.SiteURL, in.APIBaseURL, micros(now), in.TenantID)
		case relay.ErrorCode(err) == relay.ENotFound:
			_, err = c.exec(ctx, `INSERT INTO jira_installations (tenant_id, app_id, cloud_id, site_url,
				api_base_url, installed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				in.TenantID, in.AppID, in.CloudID, in.SiteURL, in.APIBaseURL, micros(now), micros(now))
		}
		if err != nil {
			return dbError(err, "put jira installation", "", "")
		}
		if sealedSystemToken != nil {
			_, err = c.exec(ctx, `UPDATE jira_installations SET system_token_sealed = ?, system_token_at = ?
				WHERE tenant_id = ?`, sealedSystemToken, micros(db.orNow(in.SystemTokenAt)), in.TenantID)
			if err != nil {
				return dbError(err, "put jira system token", "", "")
			}
		}
		_, err = c.exec(ctx, `INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name`,
			in.TenantID, "Jira "+firstNonEmpty(in.SiteURL, in.CloudID), micros(now))
		return dbError(err, "ensure jira tenant", "", "")
	})
}

// JiraInstallation returns the tenant's installation, or ENotFound.
func (db *DB) JiraInstallation(ctx context.Context, tenantID string) (JiraInstallation, error) {
	return jiraInstallation(ctx, db.hot(), tenantID)
}

// liveInstallation keeps out installations of removed tenants (a row an
// invocation racing the removal may have written back).
const liveInstallation = ` AND NOT EXISTS (SELECT 1 FROM tenants r WHERE r.id = jira_installations.tenant_id
	AND r.removed_at IS NOT NULL)`

func jiraInstallation(ctx context.Context, c conn, tenantID string) (JiraInstallation, error) {
	row := c.queryRow(ctx, `SELECT `+jiraInstallationColumns+` FROM jira_installations WHERE tenant_id = ?`+liveInstallation, tenantID)
	in, err := scanJiraInstallation(row)
	if err != nil {
		return JiraInstallation{}, dbError(err, "read jira installation", msgJiraInstallationNotFound, "")
	}
	return in, nil
}

// JiraInstallationsByCloud lists the installations on the site with this
// cloud id (more than one only between a reinstall and the cleanup that
// follows it).
func (db *DB) JiraInstallationsByCloud(ctx context.Context, cloudID string) ([]JiraInstallation, error) {
	rows, err := db.reader().query(ctx, `SELECT `+jiraInstallationColumns+` FROM jira_installations
		WHERE cloud_id = ?`+liveInstallation+` ORDER BY installed_at, tenant_id`, cloudID)
	if err != nil {
		return nil, fmt.Errorf("store: list jira installations: %w", err)
	}
	defer rows.Close()
	var out []JiraInstallation
	for rows.Next() {
		in, err := scanJiraInstallation(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list jira installations: %w", err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list jira installations: %w", err)
	}
	return out, nil
}

func scanJiraInstallation(s scanner) (JiraInstallation, error) {
	var (
		in                 JiraInstallation
		tokenAt            sql.NullInt64
		installed, updated int64
	)
	err := s.Scan(&in.TenantID, &in.AppID, &in.CloudID, &in.SiteURL, &in.APIBaseURL, &tokenAt, &installed, &updated)
	if err != nil {
		return JiraInstallation{}, err
	}
	in.SystemTokenAt = fromNullMicros(tokenAt)
	in.InstalledAt, in.UpdatedAt = fromMicros(installed), fromMicros(updated)
	return in, nil
}

// JiraSystemToken returns the tenant's sealed system token and when it was
// received, or ENotFound when there is none.
func (db *DB) JiraSystemToken(ctx context.Context, tenantID string) ([]byte, time.Time, error) {
	var (
		sealed []byte
		at     sql.NullInt64
	)
	err := db.reader().queryRow(ctx, `SELECT system_token_sealed, system_token_at FROM jira_installations
		WHERE tenant_id = ?`, tenantID).Scan(&sealed, &at)
	if err != nil {
		return nil, time.Time{}, dbError(err, "read jira system token", msgJiraInstallationNotFound, "")
	}
	if sealed == nil {
		return nil, time.Time{}, relay.Errorf(relay.ENotFound, "Jira has not sent this installation's system token yet")
	}
	return sealed, fromNullMicros(at), nil
}

// jiraTenantTables are what DeleteJiraTenant removes of a tenant, in an
// order foreign keys accept: everything that lets anyone act for the site
// (sessions, API tokens, users, grants, PATs, integrations and their
// credentials, Sign in with Atlassian grants, the system token) and what
// only serves acting (settings, cached repository lists, the index, queued
// pushes).
// The audit trail (audit_events), the records of what was created and
// Jira's refusals (devinfo_failures) stay, as history.
var jiraTenantTables = []string{
	"web_flashes", "web_sessions", "web_repo_defaults", "api_tokens", "project_grants", "users", "projects",
	"repository_cache", "repository_cache_syncs", "repository_reads", "integration_webhooks", "webhook_registrations", "repository_changes",
	"index_repositories", "indexed_branches", "indexed_commits", "indexed_commit_issues", "indexed_pull_requests", "indexed_pull_request_issues",
	"user_tokens", "user_token_notices", "integrations", "settings", "signin_failures",
	"jira_oauth_grants", "devinfo_queue", "devinfo_sequences", "jira_installations",
}

// jiraTenantHistory are the tables with tenant rows that DeleteJiraTenant
// keeps: the history, and the host writes still pending, so that
// reconciliation completes their audit rows (as unknown: the integration
// is gone) instead of leaving them pending forever. Every table with a
// tenant_id is in exactly one of the two lists (a test checks), so a new
// table cannot silently outlive its tenant. integration_versions,
// issue_record_changes and index_versions only count changes, which must
// never go back (see integrationCache and panelCache).
var jiraTenantHistory = []string{"tenants", "audit_events", "branch_records", "pull_request_records", "devinfo_failures",
	"pending_host_writes", "integration_versions", "issue_record_changes", "index_versions"}

// msgJiraTenantRemoved is how a credential of a removed tenant is refused.
const msgJiraTenantRemoved = "This Jira site disconnected gitrelay, so its sign-ins and tokens no longer work. A Jira administrator can connect the site again by installing the gitrelay app anew."

// DeleteJiraTenant removes, in one transaction, what lets anyone act for a
// disconnected or uninstalled Jira site (see jiraTenantTables), and marks
// the tenant removed: the tenant row stays, naming the site for its audit
// trail, and no invocation for that installation is accepted again
// (PutJiraInstallation refuses it).
func (db *DB) DeleteJiraTenant(ctx context.Context, tenantID string) error {
	if tenantID == "" || tenantID == relay.LocalTenant {
		return relay.Errorf(relay.EInvalid, "not a Jira tenant")
	}
	now := db.now()
	return db.inTx(ctx, func(c conn) error {
		for _, table := range jiraTenantTables {
			if _, err := c.exec(ctx, `DELETE FROM `+table+` WHERE tenant_id = ?`, tenantID); err != nil {
				return dbError(err, "delete jira tenant "+table, "", "")
			}
		}
		if err := bumpIntegrations(ctx, c, tenantID); err != nil {
			return err
		}
		if err := bumpIndex(ctx, c, tenantID); err != nil {
			return err
		}
		_, err := c.exec(ctx, `INSERT INTO tenants (id, name, created_at, removed_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET removed_at = excluded.removed_at`,
			tenantID, "Jira "+tenantID, micros(now), micros(now))
		return dbError(err, "mark jira tenant removed", "", "")
	})
}

// refuseRemoved answers EUnauthenticated for a removed tenant.
func refuseRemoved(ctx context.Context, c conn, tenantID string) error {
	var removed sql.NullInt64
	err := c.queryRow(ctx, `SELECT removed_at FROM tenants WHERE id = ?`, tenantID).Scan(&removed)
	if err != nil && err != sql.ErrNoRows {
		return dbError(err, "read tenant", "", "")
	}
	if removed.Valid {
		return relay.Errorf(relay.EUnauthenticated, "%s", msgJiraTenantRemoved)
	}
	return nil
}

// Tenant is a tenant as the operator sees it.
type Tenant struct {
	ID        string
	Name      string
	CreatedAt time.Time
	// RemovedAt is when a Jira site disconnected gitrelay; zero when live.
	RemovedAt time.Time
}

// Tenants lists every tenant, removed ones included (their audit trail
// stays readable), by creation time.
func (db *DB) Tenants(ctx context.Context) ([]Tenant, error) {
	rows, err := db.reader().query(ctx, `SELECT id, name, created_at, removed_at FROM tenants ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: list tenants: %w", err)
	}
	defer rows.Close()
	out := []Tenant{}
	for rows.Next() {
		var (
			t       Tenant
			created int64
			removed sql.NullInt64
		)
		if err := rows.Scan(&t.ID, &t.Name, &created, &removed); err != nil {
			return nil, fmt.Errorf("store: list tenants: %w", err)
		}
		t.CreatedAt, t.RemovedAt = fromMicros(created), fromNullMicros(removed)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list tenants: %w", err)
	}
	return out, nil
}

// JiraGrant is a Sign in with Atlassian grant: a sealed refresh token.
type JiraGrant struct {
	TenantID    string
	AccountID   string
	DisplayName string
	Sealed      []byte
	UpdatedAt   time.Time
}

// PutJiraGrant inserts or replaces the account's grant in the tenant.
func (db *DB) PutJiraGrant(ctx context.Context, g JiraGrant) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO jira_oauth_grants (tenant_id, account_id, display_name,
			refresh_token_sealed, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, account_id) DO UPDATE SET display_name = excluded.display_name,
				refresh_token_sealed = excluded.refresh_token_sealed, updated_at = excluded.updated_at`,
			g.TenantID, g.AccountID, g.DisplayName, g.Sealed, micros(db.orNow(g.UpdatedAt)))
		return dbError(err, "put jira grant", "", "")
	})
}

// JiraGrant returns the account's grant in the tenant, or ENotFound.
func (db *DB) JiraGrant(ctx context.Context, tenantID, accountID string) (JiraGrant, error) {
	g := JiraGrant{TenantID: tenantID, AccountID: accountID}
	var updated int64
	err := db.reader().queryRow(ctx, `SELECT display_name, refresh_token_sealed, updated_at FROM jira_oauth_grants
		WHERE tenant_id = ? AND account_id = ?`, tenantID, accountID).Scan(&g.DisplayName, &g.Sealed, &updated)
	if err != nil {
		return JiraGrant{}, dbError(err, "read jira grant", "you are not signed in with Atlassian for this Jira site", "")
	}
	g.UpdatedAt = fromMicros(updated)
	return g, nil
}

// DeleteJiraGrant removes the account's grant (sign-out); it is not an error
// when there is none.
func (db *DB) DeleteJiraGrant(ctx context.Context, tenantID, accountID string) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `DELETE FROM jira_oauth_grants WHERE tenant_id = ? AND account_id = ?`, tenantID, accountID)
		return dbError(err, "delete jira grant", "", "")
	})
}

// DevinfoOp is one queued push of development information.
type DevinfoOp struct {
	TenantID string
	ID       string
	// Op says what to do: upsert_branch, upsert_pull_request or
	// delete_branch.
	Op      string
	Payload json.RawMessage
	// Sequence is the updateSequenceId, assigned when queued.
	Sequence      int64
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
}

// DevinfoFailure is an entity Jira refused.
type DevinfoFailure struct {
	TenantID     string
	ID           string
	At           time.Time
	EntityType   string
	EntityID     string
	RepositoryID string
	IssueKeys    []string
	Reason       string
}

// EnqueueDevinfo queues op for its tenant, giving it the tenant's next
// updateSequenceId (strictly greater than any given before, and than
// minSequence, so that ids stay ahead of the clock-based ones of an older
// deployment). It returns the queued op. The hooks run in the same
// transaction (the pusher enqueues the job that pushes the op there, so
// that an op is never queued without a job to push it).
func (db *DB) EnqueueDevinfo(ctx context.Context, op DevinfoOp, minSequence int64, hooks ...TxHook) (DevinfoOp, error) {
	if op.ID == "" {
		op.ID = relay.NewID()
	}
	op.CreatedAt = db.orNow(op.CreatedAt)
	if op.NextAttemptAt.IsZero() {
		op.NextAttemptAt = op.CreatedAt
	}
	queued := op
	err := db.inTxRepeatable(ctx, func(c conn) error {
		var err error
		if op, err = enqueueDevinfo(ctx, c, queued, minSequence); err != nil {
			return err
		}
		return runHooks(ctx, c, hooks)
	})
	return op, err
}

// EnqueueDevinfoTx is EnqueueDevinfo inside tx, a transaction of the store
// (given to a RecordHooks method): the op commits with what tx records.
func (db *DB) EnqueueDevinfoTx(ctx context.Context, tx *sql.Tx, op DevinfoOp, minSequence int64) (DevinfoOp, error) {
	if op.ID == "" {
		op.ID = relay.NewID()
	}
	op.CreatedAt = db.orNow(op.CreatedAt)
	if op.NextAttemptAt.IsZero() {
		op.NextAttemptAt = op.CreatedAt
	}
	return enqueueDevinfo(ctx, db.conn(tx), op, minSequence)
}

// enqueueDevinfo queues op on c, in a transaction. Its sequence is the
// tenant's next, at least minSequence, taken in one statement: the upsert
// waits for any other transaction taking one, then counts from what that
// one took, so no two ops share a sequence.
func enqueueDevinfo(ctx context.Context, c conn, op DevinfoOp, minSequence int64) (DevinfoOp, error) {
	err := c.queryRow(ctx, `INSERT INTO devinfo_sequences (tenant_id, last_value) VALUES (?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET last_value = CASE
			WHEN devinfo_sequences.last_value + 1 > excluded.last_value THEN devinfo_sequences.last_value + 1
			ELSE excluded.last_value END
		RETURNING last_value`, op.TenantID, max(1, minSequence)).Scan(&op.Sequence)
	if err != nil {
		return op, dbError(err, "take devinfo sequence", "", "")
	}
	_, err = c.exec(ctx, `INSERT INTO devinfo_queue (tenant_id, id, op, payload, sequence, attempts,
		next_attempt_at, last_error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		op.TenantID, op.ID, op.Op, string(op.Payload), op.Sequence, op.Attempts,
		micros(op.NextAttemptAt), op.LastError, micros(op.CreatedAt))
	if err != nil {
		return op, dbError(err, "enqueue devinfo", "", "")
	}
	return op, nil
}

// runHooks runs hooks on c's transaction.
func runHooks(ctx context.Context, c conn, hooks []TxHook) error {
	if len(hooks) == 0 {
		return nil
	}
	tx, ok := c.q.(*sql.Tx)
	if !ok {
		return errors.New("store: transaction hooks need a transaction")
	}
	for _, h := range hooks {
		if err := h(ctx, tx); err != nil {
			return err
		}
	}
	return nil
}

const devinfoColumns = `tenant_id, id, op, payload, sequence, attempts, next_attempt_at, last_error, created_at`

// DueDevinfo returns up to limit queued ops of one tenant that are due at
// now and not claimed by a push under way, oldest first: the tenant whose
// oldest due op is the oldest. It only reads; ClaimDevinfo takes ops for
// pushing.
func (db *DB) DueDevinfo(ctx context.Context, now time.Time, limit int) ([]DevinfoOp, error) {
	var tenant string
	err := db.reader().queryRow(ctx, `SELECT tenant_id FROM devinfo_queue WHERE next_attempt_at <= ? AND claimed_until <= ?
		ORDER BY next_attempt_at, id LIMIT 1`, micros(now), micros(now)).Scan(&tenant)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: due devinfo: %w", err)
	}
	return db.devinfoOps(ctx, `WHERE tenant_id = ? AND next_attempt_at <= ? AND claimed_until <= ? ORDER BY sequence, id LIMIT ?`,
		tenant, micros(now), micros(now), limit)
}

// DueDevinfoTenants lists the tenants with ops due at now that no push has
// claimed.
func (db *DB) DueDevinfoTenants(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := db.reader().query(ctx, `SELECT DISTINCT tenant_id FROM devinfo_queue
		WHERE next_attempt_at <= ? AND claimed_until <= ? ORDER BY tenant_id`, micros(now), micros(now))
	if err != nil {
		return nil, fmt.Errorf("store: due devinfo tenants: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("store: due devinfo tenants: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: due devinfo tenants: %w", err)
	}
	return out, nil
}

// ClaimDevinfo takes up to limit of the tenant's ops due at now, oldest
// first, for one push: until now+lease (or until CompleteDevinfo,
// RetryDevinfo or ReleaseDevinfo), no other ClaimDevinfo returns any of the
// tenant's ops, in this process or another on the same database. It
// returns nothing when another push holds a claim on the tenant, so that
// the tenant's ops reach Jira in order and each once.
func (db *DB) ClaimDevinfo(ctx context.Context, tenantID string, now time.Time, lease time.Duration, limit int) ([]DevinfoOp, error) {
	var ids []string
	err := db.inTxRepeatable(ctx, func(c conn) error {
		ids = nil // also when run again after a lost connection
		if db.dialect == DialectPostgres {
			// Claims of one tenant take turns; SQLite's write
			// transaction already excludes every other writer.
			if _, err := c.exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('gitrelay.devinfo.' || ? || '.' || current_schema()))`, tenantID); err != nil {
				return fmt.Errorf("store: lock devinfo claim: %w", err)
			}
		}
		var held int
		if err := c.queryRow(ctx, `SELECT COUNT(*) FROM devinfo_queue WHERE tenant_id = ? AND claimed_until > ?`,
			tenantID, micros(now)).Scan(&held); err != nil {
			return fmt.Errorf("store: read devinfo claims: %w", err)
		}
		if held > 0 {
			return nil
		}
		rows, err := c.query(ctx, `SELECT id FROM devinfo_queue WHERE tenant_id = ? AND next_attempt_at <= ?
			ORDER BY sequence, id LIMIT ?`, tenantID, micros(now), limit)
		if err != nil {
			return fmt.Errorf("store: claim devinfo: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("store: claim devinfo: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: claim devinfo: %w", err)
		}
		for _, id := range ids {
			if _, err := c.exec(ctx, `UPDATE devinfo_queue SET claimed_until = ? WHERE tenant_id = ? AND id = ?`,
				micros(now.Add(lease)), tenantID, id); err != nil {
				return dbError(err, "claim devinfo", "", "")
			}
		}
		return nil
	})
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	// The claim's deadline marks the ops; the ids filter out any claimed
	// at the same microsecond by another push of the tenant (after this
	// one's claim ended).
	ops, err := db.devinfoOpsOn(ctx, db.reader(), `WHERE tenant_id = ? AND claimed_until = ? ORDER BY sequence, id`,
		tenantID, micros(now.Add(lease)))
	if err != nil {
		return nil, err
	}
	claimed := make(map[string]bool, len(ids))
	for _, id := range ids {
		claimed[id] = true
	}
	out := ops[:0]
	for _, op := range ops {
		if claimed[op.ID] {
			out = append(out, op)
		}
	}
	return out, nil
}

// ReleaseDevinfo ends the claim on the tenant's ops ids without counting
// an attempt: the push stopped (its process is shutting down) before it
// could tell Jira.
func (db *DB) ReleaseDevinfo(ctx context.Context, tenantID string, ids []string) error {
	return db.inTxRepeatable(ctx, func(c conn) error {
		for _, id := range ids {
			if _, err := c.exec(ctx, `UPDATE devinfo_queue SET claimed_until = 0 WHERE tenant_id = ? AND id = ?`, tenantID, id); err != nil {
				return dbError(err, "release devinfo", "", "")
			}
		}
		return nil
	})
}

// QueuedDevinfo lists the tenant's queued ops, oldest first.
func (db *DB) QueuedDevinfo(ctx context.Context, tenantID string, limit int) ([]DevinfoOp, error) {
	return db.devinfoOps(ctx, `WHERE tenant_id = ? ORDER BY sequence, id LIMIT ?`, tenantID, limit)
}

func (db *DB) devinfoOps(ctx context.Context, where string, args ...any) ([]DevinfoOp, error) {
	return db.devinfoOpsOn(ctx, db.reader(), where, args...)
}

func (db *DB) devinfoOpsOn(ctx context.Context, c conn, where string, args ...any) ([]DevinfoOp, error) {
	rows, err := c.query(ctx, `SELECT `+devinfoColumns+` FROM devinfo_queue `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list devinfo queue: %w", err)
	}
	defer rows.Close()
	var out []DevinfoOp
	for rows.Next() {
		var (
			op            DevinfoOp
			payload       string
			next, created int64
		)
		if err := rows.Scan(&op.TenantID, &op.ID, &op.Op, &payload, &op.Sequence, &op.Attempts, &next,
			&op.LastError, &created); err != nil {
			return nil, fmt.Errorf("store: list devinfo queue: %w", err)
		}
		op.Payload = json.RawMessage(payload)
		op.NextAttemptAt, op.CreatedAt = fromMicros(next), fromMicros(created)
		out = append(out, op)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list devinfo queue: %w", err)
	}
	return out, nil
}

// CompleteDevinfo removes the tenant's ops ids from the queue and records
// failures, in one transaction.
func (db *DB) CompleteDevinfo(ctx context.Context, tenantID string, ids []string, failures []DevinfoFailure) error {
	now := db.now()
	// Repeatable, and settled when the answer to its COMMIT is lost (the
	// ops are gone from the queue when it committed): after Jira accepted
	// the ops, a lost connection must not put them back in the queue to be
	// pushed again.
	return db.runTx(ctx, func(c conn) error {
		for _, id := range ids {
			if _, err := c.exec(ctx, `DELETE FROM devinfo_queue WHERE tenant_id = ? AND id = ?`, tenantID, id); err != nil {
				return dbError(err, "complete devinfo", "", "")
			}
		}
		for _, f := range failures {
			keys, err := json.Marshal(orEmpty(f.IssueKeys))
			if err != nil {
				return err
			}
			if f.ID == "" {
				f.ID = relay.NewID()
			}
			if f.At.IsZero() {
				f.At = now
			}
			_, err = c.exec(ctx, `INSERT INTO devinfo_failures (tenant_id, id, occurred_at, entity_type, entity_id,
				repository_id, issue_keys, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				tenantID, f.ID, micros(f.At), f.EntityType, f.EntityID, f.RepositoryID, string(keys), f.Reason)
			if err != nil {
				return dbError(err, "record devinfo failure", "", "")
			}
		}
		return nil
	}, true, func(ctx context.Context) (bool, error) {
		if len(ids) == 0 {
			return false, nil // nothing tells: run it again
		}
		args := []any{tenantID}
		for _, id := range ids {
			args = append(args, id)
		}
		var left int
		err := db.conn(db.write).queryRow(context.WithoutCancel(ctx), `SELECT COUNT(*) FROM devinfo_queue
			WHERE tenant_id = ? AND id IN (`+placeholders(len(ids))+`)`, args...).Scan(&left)
		return left == 0, err
	})
}

// RetryDevinfo postpones the tenant's ops ids to at, counting the attempt
// and remembering why it failed.
func (db *DB) RetryDevinfo(ctx context.Context, tenantID string, ids []string, at time.Time, reason string) error {
	return db.inTxRepeatable(ctx, func(c conn) error {
		for _, id := range ids {
			_, err := c.exec(ctx, `UPDATE devinfo_queue SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?,
				claimed_until = 0 WHERE tenant_id = ? AND id = ?`, micros(at), reason, tenantID, id)
			if err != nil {
				return dbError(err, "retry devinfo", "", "")
			}
		}
		return nil
	})
}

// DevinfoFailures lists the tenant's recorded failures, newest first.
func (db *DB) DevinfoFailures(ctx context.Context, tenantID string, limit int) ([]DevinfoFailure, error) {
	rows, err := db.reader().query(ctx, `SELECT id, occurred_at, entity_type, entity_id, repository_id, issue_keys, reason
		FROM devinfo_failures WHERE tenant_id = ? ORDER BY occurred_at DESC, id DESC LIMIT ?`, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list devinfo failures: %w", err)
	}
	defer rows.Close()
	out := []DevinfoFailure{}
	for rows.Next() {
		f := DevinfoFailure{TenantID: tenantID}
		var (
			at   int64
			keys string
		)
		if err := rows.Scan(&f.ID, &at, &f.EntityType, &f.EntityID, &f.RepositoryID, &keys, &f.Reason); err != nil {
			return nil, fmt.Errorf("store: list devinfo failures: %w", err)
		}
		f.At = fromMicros(at)
		if err := json.Unmarshal([]byte(keys), &f.IssueKeys); err != nil {
			return nil, fmt.Errorf("store: list devinfo failures: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list devinfo failures: %w", err)
	}
	return out, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
