package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// The reads of the hot paths (an action's prologue, the development panel
// every issue view asks for) join what they need into as few round trips
// to the database as they can: on PostgreSQL each one is a network round
// trip.

// The hot reads' texts, built once.
var (
	// tokenCheckColumns read a request's relay.TokenCheck (tokenCheckArgs):
	// whether the API token is still the user's and unexpired, and whether
	// the user (or everyone) has View Development Tools on the project.
	// Both are false for a request without a check (every argument NULL).
	tokenCheckColumns = `EXISTS (SELECT 1 FROM api_tokens k JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id
			WHERE k.hash = ? AND k.tenant_id = ? AND k.user_id = ? AND (k.expires_at IS NULL OR k.expires_at > ?)) AS token_valid,
		EXISTS (SELECT 1 FROM project_grants g WHERE g.tenant_id = ? AND g.project_key = ? AND g.user_id IN (?, '')) AS granted`
	actionReadsQuery = `SELECT ` + tokenCheckColumns + `, ` + prefixed(integrationColumns, "i") + `,
			s.tenant_id IS NOT NULL, COALESCE(s.branches_enabled, FALSE), COALESCE(s.pull_requests_enabled, FALSE),
			COALESCE(s.branch_template, ''), COALESCE(s.name_separator, ''), COALESCE(s.max_branch_length, 0),
			` + tokenColumnsOrZero("t") + `
		FROM integrations i
		LEFT JOIN settings s ON s.tenant_id = i.tenant_id
		LEFT JOIN user_tokens t ON t.tenant_id = i.tenant_id AND t.integration_id = i.id AND t.user_id = ?
		WHERE i.tenant_id = ? AND i.id = ?`
	panelTokensQuery = `SELECT x.token_valid, x.granted, v.version, x.record_version, x.index_version, ` + tokenColumnsOrZero("t") + `
		FROM (SELECT ` + tokenCheckColumns + `, CAST(? AS TEXT) AS tenant_id,
			` + recordVersion + ` AS record_version, ` + indexVersion + ` AS index_version) x
		LEFT JOIN integration_versions v ON v.tenant_id = x.tenant_id
		LEFT JOIN user_tokens t ON t.tenant_id = x.tenant_id AND t.user_id = ?
		ORDER BY t.integration_id`
	panelIntegrationsQuery = `SELECT (SELECT version FROM integration_versions WHERE tenant_id = ?),
			` + integrationColumns + `
		FROM integrations WHERE tenant_id = ? ORDER BY created_at, id`
)

// ActionReads returns in one round trip what an action's prologue reads:
// the tenant's settings, the integration and the user's saved token for
// it. When the integration does not exist the answer holds the settings
// (read again on their own: a refusal may cost a second trip) and
// Found is false. No credential is read here: the integration's is read
// only when it acts (IntegrationCredential).
func (db *DB) ActionReads(ctx context.Context, tenantID, userID, integrationID string) (relay.ActionReads, error) {
	c, check := db.hotChecking(ctx)
	rows, err := c.query(ctx, actionReadsQuery, append(tokenCheckArgs(check), userID, tenantID, integrationID)...)
	if err != nil {
		return relay.ActionReads{}, fmt.Errorf("store: read action context: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return relay.ActionReads{}, fmt.Errorf("store: read action context: %w", err)
		}
		rows.Close()
		// Settings makes the token check, if any, on its own.
		st, err := db.Settings(ctx, tenantID)
		return relay.ActionReads{Settings: st}, err
	}
	var (
		r                   relay.ActionReads
		in                  integrationScan
		tok                 userTokenScan
		saved               bool
		maxLen              int64
		hasToken            bool
		tokenValid, granted bool
	)
	dest := append([]any{&tokenValid, &granted}, in.dest()...)
	dest = append(dest, &saved, &r.Settings.BranchesEnabled, &r.Settings.PullRequestsEnabled,
		&r.Settings.BranchTemplate, &r.Settings.Separator, &maxLen, &hasToken)
	if err := rows.Scan(append(dest, tok.dest()...)...); err != nil {
		return relay.ActionReads{}, fmt.Errorf("store: read action context: %w", err)
	}
	if check != nil {
		if err := check.Record(tokenValid, granted); err != nil {
			return relay.ActionReads{}, err
		}
	}
	if r.Integration, err = in.integration(); err != nil {
		return relay.ActionReads{}, fmt.Errorf("store: read action context: %w", err)
	}
	r.Found = true
	r.Settings.MaxBranchLength = int(maxLen)
	if !saved {
		r.Settings = relay.DefaultSettings()
	}
	if hasToken {
		t, err := tok.token()
		if err != nil {
			return relay.ActionReads{}, fmt.Errorf("store: read action context: %w", err)
		}
		r.Token = &t
	}
	return r, rows.Err()
}

// pgPanelQueries are the panel's statements with PostgreSQL's placeholders,
// rebound once rather than on every read (rebind leaves them as they are).
var pgPanelQueries = [...]string{rebind(true, panelTokensQuery), rebind(true, issueRecordsQuery), rebind(true, issueIndexQuery)}

// PanelReads returns what an issue's development panel shows: the
// tenant's integrations (oldest first) with the user's saved tokens, the
// issue's branch and pull request records (oldest first), and what the
// index holds for the issue from every integration (the caller keeps what
// the user may see). The slices are never nil; all but the tokens may be
// shared with other callers and must not be modified.
//
// Its first statement reads the user's tokens with the request's token
// check (if any) and the versions of the tenant's integrations, of the
// issue's records and of the tenant's index. What this process keeps of
// those (integrationCache, panelCache) is used when of the version read;
// what is not is read then (on PostgreSQL the statements are sent
// together): an issue viewed again unchanged costs one statement.
func (db *DB) PanelReads(ctx context.Context, tenantID, userID, issueKey string) (relay.PanelReads, error) {
	r := relay.PanelReads{Tokens: []relay.UserToken{}}
	c, check := db.hotChecking(ctx)
	key := panelKey{tenantID, issueKey}
	kept := db.panels.get(key)
	var v panelVersions
	err := db.panelStatements(ctx, c, panelStatement{pgPanelQueries[0], panelTokensQuery,
		append(tokenCheckArgs(check), tenantID, tenantID, issueKey, tenantID, userID), "read development panel",
		func(rows scanRows) (err error) {
			r.Tokens, v, err = scanPanelTokens(rows, check)
			return err
		}})
	if err != nil {
		return relay.PanelReads{}, err
	}
	// The parts changed since kept, each read with its version in one
	// statement (a change made since the first statement is read too).
	read := kept
	var changed []panelStatement
	if v.records != kept.records.version {
		changed = append(changed, panelStatement{pgPanelQueries[1], issueRecordsQuery, issueRecordsArgs(tenantID, issueKey),
			"list issue records", func(rows scanRows) (err error) {
				read.records, err = scanIssueRecords(rows, tenantID, issueKey)
				return err
			}})
	}
	if v.index != kept.indexVersion {
		changed = append(changed, panelStatement{pgPanelQueries[2], issueIndexQuery, issueIndexArgs(tenantID, issueKey),
			"read issue index", func(rows scanRows) (err error) {
				read.index, read.indexVersion, err = scanIssueIndex(rows, issueKey, nil)
				return err
			}})
	}
	if len(changed) > 0 {
		if err := db.panelStatements(ctx, db.hot(), changed...); err != nil {
			return relay.PanelReads{}, err
		}
		db.panels.put(key, read)
	}
	r.Branches, r.PullRequests, r.Index = read.records.branches, read.records.pullRequests, read.index
	if r.Integrations, err = db.cachedIntegrations(ctx, tenantID, v.integrations); err != nil {
		return relay.PanelReads{}, err
	}
	return r, nil
}

// panelStatement is one of the panel's statements: its text on PostgreSQL
// and as written, its arguments, what its failure is called and what
// reads its rows.
type panelStatement struct {
	pg, query string
	args      []any
	what      string
	read      func(rows scanRows) error
}

// panelStatements runs the statements on c: on PostgreSQL together, one
// round trip; on SQLite, in process, one after the other.
func (db *DB) panelStatements(ctx context.Context, c conn, statements ...panelStatement) error {
	if db.dialect == DialectPostgres {
		queries := make([]batchQuery, len(statements))
		for i, s := range statements {
			queries[i] = batchQuery{s.pg, s.args, s.read}
		}
		return db.batch(ctx, c, queries)
	}
	for _, s := range statements {
		if err := readRows(ctx, c, s.what, s.query, s.args, s.read); err != nil {
			return err
		}
	}
	return nil
}

// readRows runs a query on c and hands its rows to read; a failure is
// named what.
func readRows(ctx context.Context, c conn, what, query string, args []any, read func(rows scanRows) error) error {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return dbError(err, what, "", "")
	}
	defer rows.Close()
	if err := read(rows); err != nil {
		return err
	}
	return dbError(rows.Err(), what, "", "")
}

// panelVersions are the versions panelTokensQuery reads: of the tenant's
// integrations (none when it has never had any), of the issue's records
// and of the tenant's index.
type panelVersions struct {
	integrations   sql.NullInt64
	records, index int64
}

// scanPanelTokens reads panelTokensQuery's rows: the user's tokens and
// the versions, after recording the token check (when check is not nil)
// from the first row. A failed check is returned as the error: nothing of
// its request is kept or shown.
func scanPanelTokens(rows scanRows, check *relay.TokenCheck) ([]relay.UserToken, panelVersions, error) {
	tokens := []relay.UserToken{}
	var (
		v                   panelVersions
		tokenValid, granted bool
		tok                 userTokenScan
		hasToken            bool
	)
	// One set of destinations for every row (see scanIssueRecords).
	dest := append([]any{&tokenValid, &granted, &v.integrations, &v.records, &v.index, &hasToken}, tok.dest()...)
	for rows.Next() {
		tok = userTokenScan{}
		if err := rows.Scan(dest...); err != nil {
			return nil, v, fmt.Errorf("store: read development panel: %w", err)
		}
		if check != nil {
			if err := check.Record(tokenValid, granted); err != nil {
				return nil, v, err
			}
			check = nil
		}
		if hasToken {
			t, err := tok.token()
			if err != nil {
				return nil, v, fmt.Errorf("store: read development panel: %w", err)
			}
			tokens = append(tokens, t)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, v, fmt.Errorf("store: read development panel: %w", err)
	}
	return tokens, v, nil
}

// hotChecking is hot for a read that makes the request's token check, if
// one is pending, within its own statement: it returns the check to pass
// to tokenCheckArgs and to record, nil when there is none to make.
func (db *DB) hotChecking(ctx context.Context) (conn, *relay.TokenCheck) {
	check := relay.TokenCheckFrom(ctx)
	if check == nil || !check.Pending() {
		return db.hot(), nil
	}
	return db.hot().checking(), check
}

// tokenCheckArgs are tokenCheckColumns' arguments for check (nil: no
// check, every argument NULL).
func tokenCheckArgs(check *relay.TokenCheck) []any {
	if check == nil {
		return make([]any, 7, 12)
	}
	var project any
	if check.Project != "" {
		project = check.Project
	}
	return append(make([]any, 0, 12), check.Hash, check.TenantID, check.UserID, micros(check.Now),
		check.TenantID, project, check.UserID)
}

// integrationCache keeps each tenant's integrations as of a version of
// integration_versions. The version is read from the database on every
// use, in the same statement as data that is never kept (the user's
// tokens), and every change to a tenant's integrations adds one to it in
// its own transaction: so a kept list is used only while it is still what
// the database holds, whichever process changed it. Credentials are
// never kept.
type integrationCache struct {
	mu      sync.Mutex
	tenants map[string]cachedIntegrations
}

type cachedIntegrations struct {
	version int64
	list    []relay.Integration
}

// maxCachedTenants bounds the cache; when full it starts over.
const maxCachedTenants = 1024

// cachedIntegrations returns the tenant's integrations at version: kept
// ones when they are of that version, otherwise read anew (and kept when
// they are of the version the database names).
func (db *DB) cachedIntegrations(ctx context.Context, tenantID string, version sql.NullInt64) ([]relay.Integration, error) {
	c := &db.integrations
	if version.Valid {
		c.mu.Lock()
		got, ok := c.tenants[tenantID]
		c.mu.Unlock()
		if ok && got.version == version.Int64 {
			return got.list, nil
		}
	}
	// The list and its version, in one statement (one snapshot). A tenant
	// without integrations has no rows, and nothing is kept.
	rows, err := db.hot().query(ctx, panelIntegrationsQuery, tenantID, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: list integrations: %w", err)
	}
	defer rows.Close()
	list := []relay.Integration{}
	var read sql.NullInt64
	for rows.Next() {
		var in integrationScan
		if err := rows.Scan(append([]any{&read}, in.dest()...)...); err != nil {
			return nil, fmt.Errorf("store: list integrations: %w", err)
		}
		i, err := in.integration()
		if err != nil {
			return nil, fmt.Errorf("store: list integrations: %w", err)
		}
		list = append(list, i)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list integrations: %w", err)
	}
	if read.Valid {
		c.mu.Lock()
		if c.tenants == nil || len(c.tenants) >= maxCachedTenants {
			c.tenants = map[string]cachedIntegrations{}
		}
		if old, ok := c.tenants[tenantID]; !ok || old.version < read.Int64 {
			c.tenants[tenantID] = cachedIntegrations{version: read.Int64, list: list}
		}
		c.mu.Unlock()
	}
	return list, nil
}

// tokenColumnsOrZero is a LEFT JOINed alias's user token: first whether
// there is one, then userTokenColumns, those never NULL in a row given a
// zero value when there is none, so that userTokenScan reads them either
// way.
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
	return alias + ".user_id IS NOT NULL, " + strings.Join(cols, ", ")
}
