-- API tokens may expire, and a removed Jira tenant stays known as removed.
--
-- api_tokens.expires_at: NULL = the token does not expire. An expired
-- token is refused by the same query that finds it, on every replica.
--
-- tenants.removed_at: when a Jira site disconnected or uninstalled
-- gitrelay (NULL = live). The row stays so that the tenant's audit trail
-- keeps a name, and so that a Forge invocation for the removed
-- installation is refused instead of bringing the tenant back.

ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE tenants ADD COLUMN removed_at BIGINT;
