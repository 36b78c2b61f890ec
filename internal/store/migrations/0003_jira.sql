-- Jira Cloud: Forge installations (one tenant each), Sign in with Atlassian
-- grants, and the durable queue of development information for Jira.
--
-- The tenant id of a Jira site is the Forge installation id (an ARI).

CREATE TABLE jira_installations (
    tenant_id           TEXT      NOT NULL PRIMARY KEY,
    app_id              TEXT      NOT NULL,
    cloud_id            TEXT      NOT NULL,
    site_url            TEXT      NOT NULL,
    api_base_url        TEXT      NOT NULL,
    -- The Forge app system token (x-forge-oauth-system), sealed by the vault
    -- for this tenant; NULL until Forge has sent one.
    system_token_sealed {{bytes}},
    system_token_at     BIGINT,
    installed_at        BIGINT    NOT NULL,
    updated_at          BIGINT    NOT NULL
);
-- A reinstall creates a new installation for the same site (cloud id); the
-- old one is found through this index and removed.
CREATE INDEX jira_installations_cloud ON jira_installations (cloud_id);

-- Sign in with Atlassian (OAuth 2.0 3LO): one refresh token per account
-- and tenant, sealed by the vault.
CREATE TABLE jira_oauth_grants (
    tenant_id            TEXT      NOT NULL,
    account_id           TEXT      NOT NULL,
    display_name         TEXT      NOT NULL,
    refresh_token_sealed {{bytes}} NOT NULL,
    updated_at           BIGINT    NOT NULL,
    PRIMARY KEY (tenant_id, account_id)
);

-- The last updateSequenceId handed out per tenant: Jira keeps an entity's
-- data only when the incoming sequence id is higher, so it must never go
-- backwards, across restarts too.
CREATE TABLE devinfo_sequences (
    tenant_id  TEXT   NOT NULL PRIMARY KEY,
    last_value BIGINT NOT NULL
);

-- Pushes to Jira's development information API not yet accepted.
CREATE TABLE devinfo_queue (
    tenant_id       TEXT    NOT NULL,
    id              TEXT    NOT NULL, -- time-ordered: the queue's order
    op              TEXT    NOT NULL, -- upsert_branch, upsert_pull_request, delete_branch
    payload         TEXT    NOT NULL, -- JSON, the operation's data
    sequence        BIGINT  NOT NULL, -- the updateSequenceId it is sent with
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX devinfo_queue_due ON devinfo_queue (next_attempt_at, tenant_id, id);

-- What Jira refused (failedDevinfoEntities, unknownIssueKeys, entities too
-- large), for administrators to see.
CREATE TABLE devinfo_failures (
    tenant_id     TEXT   NOT NULL,
    id            TEXT   NOT NULL,
    occurred_at   BIGINT NOT NULL,
    entity_type   TEXT   NOT NULL,
    entity_id     TEXT   NOT NULL,
    repository_id TEXT   NOT NULL,
    issue_keys    TEXT   NOT NULL, -- JSON array
    reason        TEXT   NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX devinfo_failures_time ON devinfo_failures (tenant_id, occurred_at, id);
