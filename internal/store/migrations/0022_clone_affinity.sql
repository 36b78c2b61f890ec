-- Clone affinity: each repository's clone lives in one replica's data
-- directory, and that replica reads it while it lives.
--
-- index_replicas has a row per data directory holding clones (its id is
-- kept in the directory itself, so a restarted replica is the same one),
-- with the last heartbeat of the replica serving it (seen_at). A replica
-- whose heartbeat is older than the index's bound (two minutes by default),
-- or that has no row, is gone. Rows of replicas gone for a day are deleted
-- by the heartbeats of the others.
--
-- index_repositories.clone_holder names the replica whose data directory
-- holds the repository's clone ('' when none does yet). It is set when a
-- replica claims the repository, and only the holder claims it while the
-- holder lives; a repository with no holder, or whose holder is gone, is
-- claimed by whichever replica asks first, which becomes its holder and
-- clones it. No foreign key: a holder without a row is a gone one.

CREATE TABLE index_replicas (
    id      TEXT   NOT NULL PRIMARY KEY,
    seen_at BIGINT NOT NULL
);

ALTER TABLE index_repositories ADD COLUMN clone_holder TEXT NOT NULL DEFAULT '';
