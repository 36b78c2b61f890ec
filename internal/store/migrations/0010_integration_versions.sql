-- integration_versions counts, per tenant, the changes to its
-- integrations. Every transaction that creates, changes or deletes an
-- integration (or removes a Jira tenant) adds one in the same
-- transaction, so each process may keep the tenant's integrations in
-- memory for the development panel and know, from the version read with
-- the user's tokens, whether what it keeps is still what the database
-- holds, whichever replica changed it. The row outlives its tenant: a
-- version never goes back, so a kept list can never match again once
-- changed.

CREATE TABLE integration_versions (
    tenant_id TEXT   NOT NULL PRIMARY KEY,
    version   BIGINT NOT NULL
);

INSERT INTO integration_versions (tenant_id, version)
    SELECT tenant_id, 1 FROM integrations GROUP BY tenant_id;
