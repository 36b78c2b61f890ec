-- The web app's state: browser sessions and per-user preferences.
--
-- Sessions live in the database (not in process memory) so that every
-- replica behind a load balancer accepts the same cookie. Only the SHA-256
-- hash of a session token is stored: a copy of this table does not let
-- anyone sign in.

CREATE TABLE web_sessions (
    token_hash   {{bytes}} NOT NULL PRIMARY KEY,
    tenant_id    TEXT      NOT NULL,
    user_id      TEXT      NOT NULL,
    created_at   BIGINT    NOT NULL,
    expires_at   BIGINT    NOT NULL
);
-- Signing out everywhere (after a password change) deletes by user; the
-- expiry sweep deletes by time.
CREATE INDEX web_sessions_user    ON web_sessions (tenant_id, user_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- The repository (and base branch) a user made the default for a project
-- in the Create branch dialog. One row per (tenant, user, project).
CREATE TABLE web_repo_defaults (
    tenant_id       TEXT   NOT NULL,
    user_id         TEXT   NOT NULL,
    project_key     TEXT   NOT NULL,
    integration_id  TEXT   NOT NULL,
    repository_id   TEXT   NOT NULL,
    repository_name TEXT   NOT NULL,
    base_branch     TEXT   NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, project_key)
);
