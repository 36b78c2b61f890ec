-- The webhooks gitrelay registered on an integration's repositories, as
-- the integration account, and with which secret: secret_at is the
-- webhook's rotated_at when the secret was sent. Hosts never show a hook's
-- secret, so this is how gitrelay knows a hook it finds carries the
-- current one, and which hooks a rotation left with the old one. No
-- cascade, as for the webhook itself: DeleteIntegration deletes the rows,
-- and so does a move of the integration to another host.

CREATE TABLE webhook_registrations (
    tenant_id      TEXT   NOT NULL,
    integration_id TEXT   NOT NULL,
    repository_id  TEXT   NOT NULL, -- the host's id of the repository
    repository     TEXT   NOT NULL, -- its full name when registered
    secret_at      BIGINT NOT NULL,
    registered_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, integration_id, repository_id),
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id)
);
