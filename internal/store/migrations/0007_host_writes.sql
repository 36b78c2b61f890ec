-- Write-ahead audit: every host write (create branch, delete branch, create
-- pull request) is recorded before it is sent, as an audit row with outcome
-- "pending" and a row here holding what reconciliation needs to ask the
-- host whether the write happened. Completing the write (success, failure,
-- or reconciliation's verdict) updates the audit row and deletes the row
-- here in the same transaction, so this table lists exactly the writes
-- whose outcome is not known yet.
--
-- No foreign key to audit_events: both rows are written and removed
-- together by the store, and the audit trail keeps no foreign keys.

CREATE TABLE pending_host_writes (
    tenant_id     TEXT    NOT NULL,
    audit_id      TEXT    NOT NULL, -- the audit_events row with outcome pending
    started_at    BIGINT  NOT NULL, -- the audit row's occurred_at
    repository_id TEXT    NOT NULL,
    target        TEXT    NOT NULL, -- a pull request's target branch
    attempts      INTEGER NOT NULL, -- reconciliations that could not tell
    last_error    TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, audit_id)
);
-- Reconciliation visits every tenant's oldest pending writes first.
CREATE INDEX pending_host_writes_started ON pending_host_writes (started_at, tenant_id, audit_id);
