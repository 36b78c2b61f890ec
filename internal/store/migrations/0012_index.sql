-- The index: what gitrelay read itself from each repository of an
-- integration (not only what it created), so that an issue lists every
-- branch, commit and pull request that names it.
--
-- index_repositories is the state of one repository's index: the refs as
-- of the last complete read (tips, a JSON object ref → sha, and a digest of
-- them so an unchanged poll compares one string), when it was last checked
-- and changed, when it is next due, the lease of the replica reading it now
-- (lease_owner, leased_until: a due repository is claimed with
-- UPDATE … WHERE next_poll_at <= now AND leased_until < now, so replicas
-- share the work and never read one repository twice at once), the last
-- failure and since when, the disk used by its clone, and the pull-request
-- read's own cursor (pr_cursor: the last updated time read, pr_etag: the
-- list's ETag for a conditional request). requested_at is set by a
-- re-index request and makes the repository due at once.
--
-- indexed_branches holds one row per (branch, issue key) for branches
-- whose name contains a key, with their last commit. indexed_commits
-- holds the commits whose message names a key (first line only, author,
-- date, the branches it was reached from, as JSON array), and
-- indexed_commit_issues finds them by key. indexed_pull_requests holds
-- pull requests read through the host API (state: open, draft, merged,
-- declined; times in microseconds), and indexed_pull_request_issues finds
-- them by key (a key in the title, source branch or description).
--
-- Every row of the index is derived from the host and can be read again:
-- removing a repository from an integration, the integration or the Jira
-- tenant deletes them (no cascade: deleting is explicit, in the
-- transaction that removes the owner).

CREATE TABLE index_repositories (
    tenant_id       TEXT   NOT NULL,
    integration_id  TEXT   NOT NULL,
    repository_id   TEXT   NOT NULL,
    full_name       TEXT   NOT NULL,
    web_url         TEXT   NOT NULL,
    tips            TEXT   NOT NULL, -- JSON object: ref name → sha
    tips_digest     TEXT   NOT NULL, -- '' = never read
    commits         BIGINT NOT NULL, -- commits walked so far
    last_checked_at BIGINT,
    last_changed_at BIGINT,
    next_poll_at    BIGINT NOT NULL,
    requested_at    BIGINT,
    lease_owner     TEXT   NOT NULL,
    leased_until    BIGINT NOT NULL,
    failure         TEXT   NOT NULL, -- '' when the last check succeeded
    failing_since   BIGINT,
    disk_bytes      BIGINT NOT NULL,
    pr_cursor       BIGINT,
    pr_etag         TEXT   NOT NULL,
    PRIMARY KEY (tenant_id, integration_id, repository_id),
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id)
);
CREATE INDEX index_repositories_due ON index_repositories (next_poll_at);

CREATE TABLE indexed_branches (
    tenant_id        TEXT   NOT NULL,
    integration_id   TEXT   NOT NULL,
    repository_id    TEXT   NOT NULL,
    name             TEXT   NOT NULL,
    issue_key        TEXT   NOT NULL,
    sha              TEXT   NOT NULL,
    commit_message   TEXT   NOT NULL, -- first line of the last commit
    commit_author    TEXT   NOT NULL,
    commit_at        BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL, -- when gitrelay saw it move
    PRIMARY KEY (tenant_id, integration_id, repository_id, name, issue_key)
);
CREATE INDEX indexed_branches_issue ON indexed_branches (tenant_id, issue_key);

CREATE TABLE indexed_commits (
    tenant_id      TEXT   NOT NULL,
    integration_id TEXT   NOT NULL,
    repository_id  TEXT   NOT NULL,
    sha            TEXT   NOT NULL,
    message        TEXT   NOT NULL, -- first line
    author_name    TEXT   NOT NULL,
    author_email   TEXT   NOT NULL,
    committed_at   BIGINT NOT NULL,
    branches       TEXT   NOT NULL, -- JSON array of branch names
    PRIMARY KEY (tenant_id, integration_id, repository_id, sha)
);

CREATE TABLE indexed_commit_issues (
    tenant_id      TEXT   NOT NULL,
    issue_key      TEXT   NOT NULL,
    integration_id TEXT   NOT NULL,
    repository_id  TEXT   NOT NULL,
    sha            TEXT   NOT NULL,
    committed_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, issue_key, integration_id, repository_id, sha)
);

CREATE TABLE indexed_pull_requests (
    tenant_id      TEXT   NOT NULL,
    integration_id TEXT   NOT NULL,
    repository_id  TEXT   NOT NULL,
    number         BIGINT NOT NULL,
    title          TEXT   NOT NULL,
    state          TEXT   NOT NULL, -- open, draft, merged, declined
    source_branch  TEXT   NOT NULL,
    target_branch  TEXT   NOT NULL,
    author         TEXT   NOT NULL,
    url            TEXT   NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, integration_id, repository_id, number)
);

CREATE TABLE indexed_pull_request_issues (
    tenant_id      TEXT   NOT NULL,
    issue_key      TEXT   NOT NULL,
    integration_id TEXT   NOT NULL,
    repository_id  TEXT   NOT NULL,
    number         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, issue_key, integration_id, repository_id, number)
);
