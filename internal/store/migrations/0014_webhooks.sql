-- One webhook per integration: the secret hosts sign (or send) deliveries
-- with, sealed by the vault and bound to the row, and what was received.
--
-- integration_id is unique on its own as well: the delivery URL names the
-- integration only (/hooks/{integration_id}), and the row says which
-- tenant it belongs to. deliveries counts verified deliveries, refused the
-- ones whose signature, token or password did not verify. No cascade, as
-- for the cached repository list: DeleteIntegration deletes it.

CREATE TABLE integration_webhooks (
    tenant_id        TEXT      NOT NULL,
    integration_id   TEXT      NOT NULL,
    secret_sealed    {{bytes}} NOT NULL,
    created_at       BIGINT    NOT NULL,
    rotated_at       BIGINT    NOT NULL,
    deliveries       BIGINT    NOT NULL DEFAULT 0,
    refused          BIGINT    NOT NULL DEFAULT 0,
    last_delivery_at BIGINT,
    last_refused_at  BIGINT,
    PRIMARY KEY (tenant_id, integration_id),
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id)
);
CREATE UNIQUE INDEX integration_webhooks_integration ON integration_webhooks (integration_id);
