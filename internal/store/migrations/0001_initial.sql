-- gitrelay's first schema.
--
-- One text for SQLite and PostgreSQL. {{bytes}} becomes BLOB on SQLite and
-- BYTEA on Postgres; nothing else differs. Timestamps are BIGINT Unix
-- microseconds UTC; booleans are BOOLEAN (stored as 0/1 by SQLite). Every
-- table carries tenant_id and leads its keys with it. There is deliberately
-- no foreign key to tenants: tenant ids come from authenticated
-- installations, and callers should not need to create a tenant row before
-- anything else works.

CREATE TABLE tenants (
    id         TEXT   NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE integrations (
    tenant_id          TEXT      NOT NULL,
    id                 TEXT      NOT NULL,
    kind               TEXT      NOT NULL,
    name               TEXT      NOT NULL,
    base_url           TEXT      NOT NULL,
    options            TEXT      NOT NULL, -- JSON object
    enabled            BOOLEAN   NOT NULL,
    require_user_pat   BOOLEAN   NOT NULL,
    projects           TEXT,               -- JSON array of project keys; NULL = every project
    account_login      TEXT      NOT NULL,
    account_name       TEXT      NOT NULL,
    account_scopes     TEXT,               -- JSON array; NULL = the host cannot tell
    account_expires_at BIGINT,             -- NULL = no known expiry
    credential_sealed  {{bytes}} NOT NULL, -- opaque, sealed by the vault
    created_at         BIGINT    NOT NULL,
    updated_at         BIGINT    NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE user_tokens (
    tenant_id          TEXT      NOT NULL,
    user_id            TEXT      NOT NULL,
    integration_id     TEXT      NOT NULL,
    account_login      TEXT      NOT NULL,
    account_name       TEXT      NOT NULL,
    account_scopes     TEXT,
    account_expires_at BIGINT,
    status             TEXT      NOT NULL,
    validated_at       BIGINT,
    updated_at         BIGINT    NOT NULL,
    token_sealed       {{bytes}} NOT NULL, -- opaque, sealed by the vault
    PRIMARY KEY (tenant_id, user_id, integration_id),
    -- No cascade: DeleteIntegration deletes the tokens itself, on purpose.
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id)
);
CREATE INDEX user_tokens_integration ON user_tokens (tenant_id, integration_id);

-- The audit trail outlives integrations and users, so it has no foreign keys.
CREATE TABLE audit_events (
    tenant_id      TEXT   NOT NULL,
    id             TEXT   NOT NULL,
    occurred_at    BIGINT NOT NULL,
    user_id        TEXT   NOT NULL,
    username       TEXT   NOT NULL,
    action         TEXT   NOT NULL,
    integration_id TEXT   NOT NULL,
    repository     TEXT   NOT NULL,
    ref            TEXT   NOT NULL,
    issue_key      TEXT   NOT NULL,
    via            TEXT   NOT NULL,
    login          TEXT   NOT NULL,
    outcome        TEXT   NOT NULL,
    error_code     TEXT   NOT NULL,
    detail         TEXT   NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- Audit lists newest first, optionally filtered on one of these columns.
CREATE INDEX audit_events_time        ON audit_events (tenant_id, occurred_at, id);
CREATE INDEX audit_events_username    ON audit_events (tenant_id, username, occurred_at, id);
CREATE INDEX audit_events_integration ON audit_events (tenant_id, integration_id, occurred_at, id);
CREATE INDEX audit_events_action      ON audit_events (tenant_id, action, occurred_at, id);
CREATE INDEX audit_events_outcome     ON audit_events (tenant_id, outcome, occurred_at, id);

-- Records of what gitrelay created are history too: no foreign keys.
CREATE TABLE branch_records (
    tenant_id      TEXT   NOT NULL,
    id             TEXT   NOT NULL,
    issue_key      TEXT   NOT NULL,
    integration_id TEXT   NOT NULL,
    repository_id  TEXT   NOT NULL,
    repository     TEXT   NOT NULL,
    name           TEXT   NOT NULL,
    url            TEXT   NOT NULL,
    via            TEXT   NOT NULL,
    login          TEXT   NOT NULL,
    created_by     TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    -- At most one live record per branch.
    UNIQUE (tenant_id, integration_id, repository_id, name)
);
CREATE INDEX branch_records_issue ON branch_records (tenant_id, issue_key, created_at);

CREATE TABLE pull_request_records (
    tenant_id      TEXT    NOT NULL,
    id             TEXT    NOT NULL,
    issue_key      TEXT    NOT NULL,
    integration_id TEXT    NOT NULL,
    repository_id  TEXT    NOT NULL,
    repository     TEXT    NOT NULL,
    number         BIGINT  NOT NULL,
    title          TEXT    NOT NULL,
    url            TEXT    NOT NULL,
    source_branch  TEXT    NOT NULL,
    target_branch  TEXT    NOT NULL,
    draft          BOOLEAN NOT NULL,
    via            TEXT    NOT NULL,
    login          TEXT    NOT NULL,
    created_by     TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, integration_id, repository_id, number)
);
CREATE INDEX pull_request_records_issue ON pull_request_records (tenant_id, issue_key, created_at);

CREATE TABLE settings (
    tenant_id             TEXT    NOT NULL PRIMARY KEY,
    branches_enabled      BOOLEAN NOT NULL,
    pull_requests_enabled BOOLEAN NOT NULL,
    branch_template       TEXT    NOT NULL,
    name_separator        TEXT    NOT NULL,
    max_branch_length     INTEGER NOT NULL,
    updated_at            BIGINT  NOT NULL
);

-- The built-in directory.

CREATE TABLE users (
    tenant_id     TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    username      TEXT    NOT NULL, -- normalised (lower case) by the caller
    display_name  TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    admin         BOOLEAN NOT NULL,
    password_hash TEXT    NOT NULL, -- as given by the caller; '' = no password
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, username)
);

CREATE TABLE api_tokens (
    tenant_id    TEXT      NOT NULL,
    id           TEXT      NOT NULL,
    user_id      TEXT      NOT NULL,
    name         TEXT      NOT NULL,
    hash         {{bytes}} NOT NULL, -- SHA-256 of the token; the token itself is never stored
    created_at   BIGINT    NOT NULL,
    last_used_at BIGINT,
    PRIMARY KEY (tenant_id, id),
    -- Unique across tenants: the hash alone finds the token and its tenant.
    UNIQUE (hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX api_tokens_user ON api_tokens (tenant_id, user_id);

CREATE TABLE projects (
    tenant_id   TEXT NOT NULL,
    project_key TEXT NOT NULL,
    name        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, project_key)
);

-- View Development Tools grants. user_id '' grants to everyone, which is why
-- user_id has no foreign key to users; DeleteUser removes grants itself.
CREATE TABLE project_grants (
    tenant_id   TEXT NOT NULL,
    project_key TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, project_key, user_id),
    FOREIGN KEY (tenant_id, project_key) REFERENCES projects (tenant_id, project_key)
);
CREATE INDEX project_grants_user ON project_grants (tenant_id, user_id);
