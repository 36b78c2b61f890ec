package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// BeginHostWrite records w.Event as a pending attempt, with what
// reconciliation needs, before the host write is sent. Recording the event
// again with Completes set (AppendAudit, RecordBranch, ForgetBranch,
// RecordPullRequest) completes it.
func (db *DB) BeginHostWrite(ctx context.Context, w relay.HostWrite) error {
	e := w.Event
	if e.TenantID == "" || e.ID == "" {
		return fmt.Errorf("store: begin host write: the event needs a tenant and an id")
	}
	e.Outcome, e.Completes = relay.OutcomePending, false
	e.At = db.orNow(e.At)
	return db.changeWithAudit(ctx, e.TenantID, e, "begin host write", "a pending host write with this id already exists",
		`INSERT INTO pending_host_writes (tenant_id, audit_id, started_at, repository_id, target, attempts, last_error)
			VALUES (?, ?, ?, ?, ?, 0, '')`,
		e.TenantID, e.ID, micros(e.At), w.RepositoryID, w.Target)
}

// PendingHostWrites lists, across every tenant, the writes that began
// before the given time and are not completed, oldest first, at most limit
// (limit <= 0: 100). Like ResealSecrets it deliberately spans tenants:
// reconciliation is the server's own work, for every tenant.
func (db *DB) PendingHostWrites(ctx context.Context, before time.Time, limit int) ([]relay.HostWrite, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.reader().query(ctx, `SELECT `+prefixed(auditColumns, "a")+`,
			p.repository_id, p.target, p.attempts, p.last_error
		FROM pending_host_writes p
		JOIN audit_events a ON a.tenant_id = p.tenant_id AND a.id = p.audit_id
		WHERE p.started_at < ?
		ORDER BY p.started_at, p.tenant_id, p.audit_id LIMIT ?`, micros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("store: list pending host writes: %w", err)
	}
	defer rows.Close()
	out := []relay.HostWrite{}
	for rows.Next() {
		var (
			r        auditRow
			w        relay.HostWrite
			attempts int64
		)
		if err := rows.Scan(append(r.dest(), &w.RepositoryID, &w.Target, &attempts, &w.LastError)...); err != nil {
			return nil, fmt.Errorf("store: list pending host writes: %w", err)
		}
		w.Event, w.Attempts = r.event(), int(attempts)
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list pending host writes: %w", err)
	}
	return out, nil
}

// DeferHostWrite counts one reconciliation that could not learn the
// write's outcome. A write completed meanwhile is not an error.
func (db *DB) DeferHostWrite(ctx context.Context, tenantID, auditID, reason string) error {
	_, err := db.conn(db.write).exec(ctx,
		`UPDATE pending_host_writes SET attempts = attempts + 1, last_error = ?
			WHERE tenant_id = ? AND audit_id = ?`, reason, tenantID, auditID)
	return dbError(err, "defer host write", "", "")
}

// prefixed qualifies each column of a column list with a table alias.
func prefixed(columns, alias string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}
