-- Panel versions let each process keep what an issue's development panel
-- shows from its records and the index, and know on every read, in the
-- statement that would read it, whether what it keeps is still what the
-- database holds, whichever replica changed it.
--
-- issue_record_changes has a row per change to an issue's branch and pull
-- request records: every transaction that records, moves or forgets one
-- adds a row, in the same transaction, for the issue it belonged to and
-- for the one it belongs to now. An issue's record version is its number
-- of rows. Rows are only ever added (never updated), so that writes to the
-- same issue never wait for each other's commit.
--
-- index_versions counts, per tenant, the changes to what its index shows:
-- every transaction that saves a read of a repository that found something,
-- its pull requests, its name or address, or removes a repository's index
-- adds one. A missing row is version 0.
--
-- Both outlive their tenant: a version never goes back, so what a process
-- keeps can never match again once changed.

CREATE TABLE issue_record_changes (
    tenant_id TEXT NOT NULL,
    issue_key TEXT NOT NULL,
    change_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, issue_key, change_id)
);

CREATE TABLE index_versions (
    tenant_id TEXT   NOT NULL PRIMARY KEY,
    version   BIGINT NOT NULL
);
