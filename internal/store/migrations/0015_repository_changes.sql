-- Repositories a verified webhook delivery said changed, waiting for an
-- incremental read by the indexer. One row per repository: a second
-- delivery before the read only moves received_at, and the indexer removes
-- the row only if received_at is still the one it read, so that a change
-- announced during the read is never lost. No cascade: DeleteIntegration
-- deletes the rows.

CREATE TABLE repository_changes (
    tenant_id      TEXT   NOT NULL,
    integration_id TEXT   NOT NULL,
    repository     TEXT   NOT NULL, -- the host's full name, as in the delivery
    repository_id  TEXT   NOT NULL, -- the host's id when the delivery names it, else ''
    event          TEXT   NOT NULL, -- push, pull_request
    received_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, integration_id, repository),
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id)
);
CREATE INDEX repository_changes_received ON repository_changes (received_at);
