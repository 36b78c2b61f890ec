-- State that replicas serving one database share.
--
-- signin_failures counts wrong passwords per client address (username '',
-- the address's own count) and per username from that address, each in a
-- window that starts at its first failure. A row whose window has passed
-- means nothing and is deleted by the next failure, so the table holds at
-- most the last window's failures: one row per address, and per address at
-- most as many usernames as the address may fail with before it is
-- blocked.
--
-- repository_reads leases the full read of an integration's repository
-- list from its host to one replica at a time (owner, until leased_until),
-- and keeps when the last read started (started_at), which spaces reads by
-- the minimum interval across replicas. No cascade, as for the cached list:
-- DeleteIntegration deletes it.

CREATE TABLE signin_failures (
    tenant_id    TEXT   NOT NULL,
    address      TEXT   NOT NULL,
    username     TEXT   NOT NULL,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, address, username)
);
CREATE INDEX signin_failures_window ON signin_failures (window_start);

CREATE TABLE repository_reads (
    tenant_id      TEXT   NOT NULL,
    integration_id TEXT   NOT NULL,
    started_at     BIGINT NOT NULL,
    leased_until   BIGINT NOT NULL,
    owner          TEXT   NOT NULL,
    PRIMARY KEY (tenant_id, integration_id),
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id)
);
