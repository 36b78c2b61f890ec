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
	panelTokensQuery = `SELECT x.token_valid, x.granted, v.version, ` + tokenColumnsOrZero("t") + `
		FROM (SELECT ` + tokenCheckColumns + `, CAST(? AS TEXT) AS tenant_id) x
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
// the user may see). The slices are never nil; the integrations may be
// shared with other callers and must not be modified.
//
// It reads the user's tokens with the version of the tenant's
// integrations (and the request's token check, if any), then the records,
// then the index: on PostgreSQL the three statements are sent together,
// one round trip; on SQLite, in process, one after the other. The
// integrations come from
// integrationCache when it holds that version, and are read (one more
// trip) otherwise.
func (db *DB) PanelReads(ctx context.Context, tenantID, userID, issueKey string) (relay.PanelReads, error) {
	r := relay.PanelReads{Tokens: []relay.UserToken{}}
	c, check := db.hotChecking(ctx)
	tokenArgs := append(tokenCheckArgs(check), tenantID, userID)
	var version sql.NullInt64
	indexArgs := issueIndexArgs(tenantID, issueKey)
	if db.dialect == DialectPostgres {
		err := db.batch(ctx, c, []batchQuery{
			{pgPanelQueries[0], tokenArgs, func(rows scanRows) (err error) {
				r.Tokens, version, err = scanPanelTokens(rows, check)
				return err
			}},
			{pgPanelQueries[1], []any{tenantID, issueKey, tenantID, issueKey}, func(rows scanRows) (err error) {
				r.Branches, r.PullRequests, err = scanIssueRecords(rows, tenantID, issueKey)
				return err
			}},
			{pgPanelQueries[2], indexArgs, func(rows scanRows) (err error) {
				r.Index, err = scanIssueIndex(rows, issueKey, nil)
				return err
			}},
		})
		if err != nil {
			return relay.PanelReads{}, err
		}
	} else {
		rows, err := c.query(ctx, panelTokensQuery, tokenArgs...)
		if err != nil {
			return relay.PanelReads{}, fmt.Errorf("store: read development panel: %w", err)
		}
		r.Tokens, version, err = scanPanelTokens(rows, check)
		rows.Close()
		if err != nil {
			return relay.PanelReads{}, err
		}
		if r.Branches, r.PullRequests, err = db.issueRecords(ctx, tenantID, issueKey); err != nil {
			return relay.PanelReads{}, err
		}
		rows, err = c.query(ctx, issueIndexQuery, indexArgs...)
		if err != nil {
			return relay.PanelReads{}, dbError(err, "read issue index", "", "")
		}
		r.Index, err = scanIssueIndex(rows, issueKey, nil)
		rows.Close()
		if err != nil {
			return relay.PanelReads{}, err
		}
	}
	var err error
	if r.Integrations, err = db.cachedIntegrations(ctx, tenantID, version); err != nil {
		return relay.PanelReads{}, err
	}
	return r, nil
}

// scanPanelTokens reads panelTokensQuery's rows: the user's tokens and
// the version of the tenant's integrations, after recording the token
// check (when check is not nil) from the first row. A failed check is
// returned as the error: nothing of its request is kept or shown.
func scanPanelTokens(rows scanRows, check *relay.TokenCheck) ([]relay.UserToken, sql.NullInt64, error) {
	tokens := []relay.UserToken{}
	var (
		version             sql.NullInt64
		tokenValid, granted bool
		tok                 userTokenScan
		hasToken            bool
	)
	// One set of destinations for every row (see scanIssueRecords).
	dest := append([]any{&tokenValid, &granted, &version, &hasToken}, tok.dest()...)
	for rows.Next() {
		tok = userTokenScan{}
		if err := rows.Scan(dest...); err != nil {
			return nil, version, fmt.Errorf("store: read development panel: %w", err)
		}
		if check != nil {
			if err := check.Record(tokenValid, granted); err != nil {
				return nil, version, err
			}
			check = nil
		}
		if hasToken {
			t, err := tok.token()
			if err != nil {
				return nil, version, fmt.Errorf("store: read development panel: %w", err)
			}
			tokens = append(tokens, t)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, version, fmt.Errorf("store: read development panel: %w", err)
	}
	return tokens, version, nil
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
		return make([]any, 7, 10)
	}
	var project any
	if check.Project != "" {
		project = check.Project
	}
	return append(make([]any, 0, 10), check.Hash, check.TenantID, check.UserID, micros(check.Now),
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
