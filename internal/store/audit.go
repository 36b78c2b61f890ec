package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// Audit page sizes.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 10000
)

const auditColumns = `tenant_id, id, occurred_at, user_id, username, action, integration_id,
	repository, ref, issue_key, via, login, outcome, error_code, detail`

// AppendAudit records e. An empty ID gets relay.NewID() and a zero At the
// store's clock. An event with Completes set completes its pending row
// instead (see BeginHostWrite).
func (db *DB) AppendAudit(ctx context.Context, e relay.AuditEvent) error {
	if e.TenantID == "" {
		return errors.New("store: append audit: event has no tenant")
	}
	if e.Completes {
		return db.changeWithAudit(ctx, e.TenantID, e, "", "", "")
	}
	if e.ID == "" {
		e.ID = relay.NewID()
	}
	return db.inTxAudited(ctx, e.TenantID, e, func(c conn) error {
		return db.insertAudit(ctx, c, e.TenantID, e)
	})
}

// insertAudit records e inside a write method's transaction. The event
// belongs to the tenant whose data the method changes; an event naming
// another tenant is a bug that would leak one tenant's activity into
// another's audit trail, so it fails the whole write.
func (db *DB) insertAudit(ctx context.Context, c conn, tenantID string, e relay.AuditEvent) error {
	stmt, args, err := db.auditInsert(tenantID, e)
	if err != nil {
		return err
	}
	if _, err := c.exec(ctx, stmt, args...); err != nil {
		return dbError(err, "append audit", "", "an audit event with this id already exists")
	}
	return nil
}

const auditInsertSQL = `INSERT INTO audit_events (` + auditColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// auditInsert is the statement recording e, with its arguments.
func (db *DB) auditInsert(tenantID string, e relay.AuditEvent) (string, []any, error) {
	if e.TenantID == "" {
		e.TenantID = tenantID
	}
	if e.TenantID != tenantID {
		return "", nil, fmt.Errorf("store: audit event for tenant %q written with a change of tenant %q", e.TenantID, tenantID)
	}
	if e.ID == "" {
		e.ID = relay.NewID()
	}
	e.At = db.orNow(e.At)
	return auditInsertSQL, []any{e.TenantID, e.ID, micros(e.At), e.UserID, e.Username, e.Action, e.IntegrationID,
		e.Repository, e.Ref, e.IssueKey, string(e.Via), e.Login, e.Outcome, e.ErrorCode, e.Detail}, nil
}

// auditCompleteSQL completes a pending row (BeginHostWrite) with the
// attempt's outcome. A row already completed as unknown by reconciliation
// is corrected: the process that made the call knows better. A row
// completed otherwise is left alone.
const auditCompleteSQL = `UPDATE audit_events SET repository = ?, ref = ?, via = ?, login = ?,
		outcome = ?, error_code = ?, detail = ?
	WHERE tenant_id = ? AND id = ? AND outcome IN ('` + relay.OutcomePending + `', '` + relay.OutcomeUnknown + `')`

// settleSQL removes a completed write from the pending list.
const settleSQL = `DELETE FROM pending_host_writes WHERE tenant_id = ? AND audit_id = ?`

// auditWrite is the statement recording e, with its arguments: an insert,
// or when e completes a pending row, the pending list's deletion (settle)
// and the row's update.
func (db *DB) auditWrite(tenantID string, e relay.AuditEvent) (settle string, settleArgs []any, audit string, auditArgs []any, err error) {
	if !e.Completes {
		audit, auditArgs, err = db.auditInsert(tenantID, e)
		return "", nil, audit, auditArgs, err
	}
	if e.TenantID != tenantID || e.ID == "" {
		return "", nil, "", nil, fmt.Errorf("store: completing audit event %q of tenant %q written with a change of tenant %q", e.ID, e.TenantID, tenantID)
	}
	return settleSQL, []any{tenantID, e.ID},
		auditCompleteSQL, []any{e.Repository, e.Ref, string(e.Via), e.Login, e.Outcome, e.ErrorCode, e.Detail, tenantID, e.ID}, nil
}

// change is one statement of a write with its arguments, and what its
// failure is called (what) and says on a conflict.
type change struct {
	stmt           string
	args           []any
	what, conflict string
}

// changeWithAudit runs one change (stmt with args; none when stmt is
// empty) and records e with it, atomically. On Postgres all go in a single
// statement (a data-modifying WITH), one round trip instead of four
// (begin, change, audit, commit): this is the write every action ends
// with. SQLite runs a transaction, whose statements cost no round trips.
func (db *DB) changeWithAudit(ctx context.Context, tenantID string, e relay.AuditEvent, what, conflict, stmt string, args ...any) error {
	var changes []change
	if stmt != "" {
		changes = append(changes, change{stmt, args, what, conflict})
	}
	return db.changeWithAuditHook(ctx, tenantID, e, nil, changes...)
}

// changeWithAuditHook is changeWithAudit with any number of changes, run
// in order (on Postgres in one statement: each sees the rows as they were
// before it), and hook (when not nil) in the same transaction after the
// changes and the audit.
func (db *DB) changeWithAuditHook(ctx context.Context, tenantID string, e relay.AuditEvent, hook TxHook, changes ...change) error {
	if e.ID == "" {
		e.ID = relay.NewID()
	}
	settle, settleArgs, audit, auditArgs, err := db.auditWrite(tenantID, e)
	if err != nil {
		return err
	}
	if e.Completes {
		// The host write happened: record its outcome even when the
		// request that asked for it is gone.
		ctx = context.WithoutCancel(ctx)
	}
	parts := append(make([]change, 0, len(changes)+2), changes...)
	if settle != "" {
		parts = append(parts, change{settle, settleArgs, "settle host write", ""})
	}
	parts = append(parts, change{audit, auditArgs, "append audit", "an audit event with this id already exists"})
	if db.dialect == DialectPostgres && hook == nil {
		var with []string
		var all []any
		for i, p := range parts[:len(parts)-1] {
			with = append(with, fmt.Sprintf("w%d AS (%s)", i, p.stmt))
			all = append(all, p.args...)
		}
		last := parts[len(parts)-1]
		all = append(all, last.args...)
		q := last.stmt
		if len(with) > 0 {
			q = "WITH " + strings.Join(with, ", ") + " " + q
		}
		_, err := db.conn(db.write).exec(ctx, q, all...)
		if err != nil && connectionLost(err) && !notRun(err) {
			// One statement commits itself: when its answer was lost,
			// whether it ran is told by the event (see inTxAudited).
			if done, probeErr := db.auditedProbe(tenantID, e)(ctx); probeErr == nil && done {
				return nil
			}
		}
		// A failure is named after the write's own change (the last).
		named := last
		if len(changes) > 0 {
			named = changes[len(changes)-1]
		}
		return dbError(err, named.what, "", named.conflict)
	}
	return db.inTxAudited(ctx, tenantID, e, func(c conn) error {
		for _, p := range parts {
			if _, err := c.exec(ctx, p.stmt, p.args...); err != nil {
				return dbError(err, p.what, "", p.conflict)
			}
		}
		if hook != nil {
			return runHooks(ctx, c, []TxHook{hook})
		}
		return nil
	})
}

// Audit lists the tenant's events matching f, newest first (ties broken by
// id, newest first). Username, IntegrationID, Action and Outcome match
// exactly; Since is inclusive and Until exclusive. Limit defaults to
// DefaultAuditLimit and is capped at MaxAuditLimit. The slice is never nil.
func (db *DB) Audit(ctx context.Context, tenantID string, f relay.AuditFilter) ([]relay.AuditEvent, error) {
	where := []string{"tenant_id = ?"}
	args := []any{tenantID}
	for _, eq := range []struct {
		column, value string
	}{
		{"username", f.Username},
		{"integration_id", f.IntegrationID},
		{"action", f.Action},
		{"outcome", f.Outcome},
	} {
		if eq.value != "" {
			where = append(where, eq.column+" = ?")
			args = append(args, eq.value)
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "occurred_at >= ?")
		args = append(args, micros(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "occurred_at < ?")
		args = append(args, micros(f.Until))
	}
	args = append(args, auditLimit(f.Limit))

	query := `SELECT ` + auditColumns + ` FROM audit_events WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY occurred_at DESC, id DESC LIMIT ?`
	rows, err := db.reader().query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: read audit: %w", err)
	}
	defer rows.Close()
	out := []relay.AuditEvent{}
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("store: read audit: %w", err)
		}
		out = append(out, r.event())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read audit: %w", err)
	}
	return out, nil
}

// auditRow scans one row of auditColumns.
type auditRow struct {
	e   relay.AuditEvent
	at  int64
	via string
}

func (r *auditRow) dest() []any {
	e := &r.e
	return []any{&e.TenantID, &e.ID, &r.at, &e.UserID, &e.Username, &e.Action, &e.IntegrationID,
		&e.Repository, &e.Ref, &e.IssueKey, &r.via, &e.Login, &e.Outcome, &e.ErrorCode, &e.Detail}
}

func (r *auditRow) event() relay.AuditEvent {
	e := r.e
	e.At = fromMicros(r.at)
	e.Via = relay.Via(r.via)
	return e
}

// auditLimit is the page size for a requested limit.
func auditLimit(n int) int {
	if n <= 0 {
		return DefaultAuditLimit
	}
	return min(n, MaxAuditLimit)
}
