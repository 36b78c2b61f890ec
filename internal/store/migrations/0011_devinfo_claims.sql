-- claimed_until is when the claim of the process pushing this op to Jira
-- ends (Unix microseconds; 0 when unclaimed). Pushes run as background jobs
-- on any replica; a push claims its tenant's due ops in one transaction,
-- and no other push takes that tenant's ops while a claim lasts, so each
-- change is sent once, in the tenant's order, whichever replica runs the
-- job. A claim left by a process that died ends by itself.
ALTER TABLE devinfo_queue ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
