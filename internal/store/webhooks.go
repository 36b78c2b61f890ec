package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// msgWebhookNotFound is the answer for an integration whose webhook was
// never set up (its secret is made on first read).
const msgWebhookNotFound = "This integration has no webhook yet."

const webhookColumns = `w.tenant_id, w.integration_id, i.kind, i.enabled, w.secret_sealed, w.created_at, w.rotated_at,
	w.deliveries, w.refused, w.last_delivery_at, w.last_refused_at`

func scanWebhook(row interface{ Scan(...any) error }) (relay.Webhook, error) {
	var w relay.Webhook
	var created, rotated int64
	var lastDelivery, lastRefused sql.NullInt64
	err := row.Scan(&w.TenantID, &w.IntegrationID, &w.Kind, &w.Enabled, &w.SealedSecret, &created, &rotated,
		&w.Deliveries, &w.Refused, &lastDelivery, &lastRefused)
	if err != nil {
		return relay.Webhook{}, err
	}
	w.CreatedAt, w.RotatedAt = fromMicros(created), fromMicros(rotated)
	if lastDelivery.Valid {
		w.LastDeliveryAt = fromMicros(lastDelivery.Int64)
	}
	if lastRefused.Valid {
		w.LastRefusedAt = fromMicros(lastRefused.Int64)
	}
	return w, nil
}

// Webhook returns the integration's webhook, or ENotFound when it has
// none yet.
func (db *DB) Webhook(ctx context.Context, tenantID, integrationID string) (relay.Webhook, error) {
	w, err := scanWebhook(db.reader().queryRow(ctx, `SELECT `+webhookColumns+`
		FROM integration_webhooks w JOIN integrations i ON i.tenant_id = w.tenant_id AND i.id = w.integration_id
		WHERE w.tenant_id = ? AND w.integration_id = ?`, tenantID, integrationID))
	return w, dbError(err, "read webhook", msgWebhookNotFound, "")
}

// WebhookOfIntegration returns the webhook of the integration id, whatever
// its tenant: the delivery URL names the integration only. ENotFound when
// there is none.
func (db *DB) WebhookOfIntegration(ctx context.Context, integrationID string) (relay.Webhook, error) {
	w, err := scanWebhook(db.reader().queryRow(ctx, `SELECT `+webhookColumns+`
		FROM integration_webhooks w JOIN integrations i ON i.tenant_id = w.tenant_id AND i.id = w.integration_id
		WHERE w.integration_id = ?`, integrationID))
	return w, dbError(err, "read webhook", msgWebhookNotFound, "")
}

// PutWebhookSecret sets the integration's webhook secret (sealed), making
// the webhook if it has none; a replaced secret stops verifying at once.
// When onlyIfAbsent is true an existing secret is kept and created reports
// false. ENotFound when the integration does not exist. A rotation moves
// rotated_at forward even when the clock did not (it names the secret a
// registration carries: relay.WebhookRegistration.SecretAt).
func (db *DB) PutWebhookSecret(ctx context.Context, tenantID, integrationID string, sealed []byte, at time.Time, onlyIfAbsent bool) (created bool, err error) {
	err = db.inTx(ctx, func(c conn) error {
		if !onlyIfAbsent {
			res, err := c.exec(ctx, `UPDATE integration_webhooks SET secret_sealed = ?,
					rotated_at = CASE WHEN rotated_at < ? THEN ? ELSE rotated_at + 1 END
				WHERE tenant_id = ? AND integration_id = ?`,
				sealed, micros(at), micros(at), tenantID, integrationID)
			if err != nil {
				return dbError(err, "rotate webhook secret", "", "")
			}
			if n, err := res.RowsAffected(); err != nil {
				return dbError(err, "rotate webhook secret", "", "")
			} else if n > 0 {
				return nil
			}
		}
		res, err := c.exec(ctx, `INSERT INTO integration_webhooks (tenant_id, integration_id, secret_sealed, created_at, rotated_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, tenantID, integrationID, sealed, micros(at), micros(at))
		if err != nil {
			return dbError(err, "create webhook", msgIntegrationNotFound, "")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbError(err, "create webhook", "", "")
		}
		created = n > 0
		return nil
	})
	return created, err
}

// CountWebhookDelivery counts one delivery to the integration's webhook:
// verified (accepted) or refused, at the given time. A webhook that no
// longer exists is not an error.
func (db *DB) CountWebhookDelivery(ctx context.Context, tenantID, integrationID string, accepted bool, at time.Time) error {
	q := `UPDATE integration_webhooks SET deliveries = deliveries + 1, last_delivery_at = ? WHERE tenant_id = ? AND integration_id = ?`
	if !accepted {
		q = `UPDATE integration_webhooks SET refused = refused + 1, last_refused_at = ? WHERE tenant_id = ? AND integration_id = ?`
	}
	_, err := db.conn(db.write).exec(ctx, q, micros(at), tenantID, integrationID)
	return dbError(err, "count webhook delivery", "", "")
}

// QueueRepositoryChange records that a repository changed, for the
// indexer: one row per repository, whose time (and event) a later change
// moves. ENotFound when the integration does not exist.
func (db *DB) QueueRepositoryChange(ctx context.Context, ch relay.RepositoryChange) error {
	_, err := db.conn(db.write).exec(ctx, `INSERT INTO repository_changes (tenant_id, integration_id, repository, repository_id, event, received_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, integration_id, repository) DO UPDATE SET
			repository_id = excluded.repository_id, event = excluded.event, received_at = excluded.received_at`,
		ch.TenantID, ch.IntegrationID, ch.Repository, ch.RepositoryID, ch.Event, micros(ch.ReceivedAt))
	return dbError(err, "queue repository change", msgIntegrationNotFound, "")
}

// RepositoryChanges lists queued changes, across tenants, oldest first, at
// most limit.
func (db *DB) RepositoryChanges(ctx context.Context, limit int) ([]relay.RepositoryChange, error) {
	rows, err := db.reader().query(ctx, `SELECT tenant_id, integration_id, repository, repository_id, event, received_at
		FROM repository_changes ORDER BY received_at, tenant_id, integration_id, repository LIMIT ?`, limit)
	if err != nil {
		return nil, dbError(err, "list repository changes", "", "")
	}
	defer rows.Close()
	var out []relay.RepositoryChange
	for rows.Next() {
		var ch relay.RepositoryChange
		var at int64
		if err := rows.Scan(&ch.TenantID, &ch.IntegrationID, &ch.Repository, &ch.RepositoryID, &ch.Event, &at); err != nil {
			return nil, dbError(err, "list repository changes", "", "")
		}
		ch.ReceivedAt = fromMicros(at)
		out = append(out, ch)
	}
	return out, dbError(rows.Err(), "list repository changes", "", "")
}

// DoneRepositoryChange removes a queued change after its read, unless a
// newer delivery moved it meanwhile (then it stays, for another read); it
// reports whether it removed it.
func (db *DB) DoneRepositoryChange(ctx context.Context, ch relay.RepositoryChange) (bool, error) {
	res, err := db.conn(db.write).exec(ctx, `DELETE FROM repository_changes
		WHERE tenant_id = ? AND integration_id = ? AND repository = ? AND received_at = ?`,
		ch.TenantID, ch.IntegrationID, ch.Repository, micros(ch.ReceivedAt))
	if err != nil {
		return false, dbError(err, "complete repository change", "", "")
	}
	n, err := res.RowsAffected()
	return n > 0, dbError(err, "complete repository change", "", "")
}

// RecordWebhookRegistration records that gitrelay registered the
// integration's webhook on a repository with the secret of reg.SecretAt
// (replacing an earlier record of it), and records e, in one
// transaction: e completes the registration's pending audit row.
func (db *DB) RecordWebhookRegistration(ctx context.Context, reg relay.WebhookRegistration, e relay.AuditEvent) error {
	return db.changeWithAudit(ctx, reg.TenantID, e, "record webhook registration", "",
		`INSERT INTO webhook_registrations (tenant_id, integration_id, repository_id, repository, secret_at, registered_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, integration_id, repository_id) DO UPDATE SET
				repository = excluded.repository, secret_at = excluded.secret_at, registered_at = excluded.registered_at`,
		reg.TenantID, reg.IntegrationID, reg.RepositoryID, reg.Repository, micros(reg.SecretAt), micros(db.orNow(reg.RegisteredAt)))
}

// WebhookRegistrations lists where gitrelay registered the integration's
// webhook, by repository full name.
func (db *DB) WebhookRegistrations(ctx context.Context, tenantID, integrationID string) ([]relay.WebhookRegistration, error) {
	rows, err := db.reader().query(ctx, `SELECT repository_id, repository, secret_at, registered_at
		FROM webhook_registrations WHERE tenant_id = ? AND integration_id = ? ORDER BY repository, repository_id`, tenantID, integrationID)
	if err != nil {
		return nil, dbError(err, "list webhook registrations", "", "")
	}
	defer rows.Close()
	out := []relay.WebhookRegistration{}
	for rows.Next() {
		r := relay.WebhookRegistration{TenantID: tenantID, IntegrationID: integrationID}
		var secretAt, registeredAt int64
		if err := rows.Scan(&r.RepositoryID, &r.Repository, &secretAt, &registeredAt); err != nil {
			return nil, dbError(err, "list webhook registrations", "", "")
		}
		r.SecretAt, r.RegisteredAt = fromMicros(secretAt), fromMicros(registeredAt)
		out = append(out, r)
	}
	return out, dbError(rows.Err(), "list webhook registrations", "", "")
}
