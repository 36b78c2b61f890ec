-- A user's personal access token is bound to the host it was validated
-- against.
--
-- user_tokens.origin is the origin (API root) of the integration's host
-- when the token was saved; it is also part of the token's sealing owner,
-- so a token does not open for any other origin. Tokens saved before this
-- migration read back with origin '' (unbound): they do not open for any
-- host until the server binds them at start-up, which it does only for
-- tokens saved after their integration last changed; the others are
-- deleted with a notice to their users (see user_token_notices).
--
-- user_token_notices keeps, per user and integration, why gitrelay deleted
-- the user's token (the integration now points at another host), until
-- the user saves a new one. No foreign key: notices are deleted with the
-- integration explicitly, as tokens are.

ALTER TABLE user_tokens ADD COLUMN origin TEXT NOT NULL DEFAULT '';

CREATE TABLE user_token_notices (
    tenant_id      TEXT   NOT NULL,
    user_id        TEXT   NOT NULL,
    integration_id TEXT   NOT NULL,
    reason         TEXT   NOT NULL,
    noticed_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, integration_id)
);
CREATE INDEX user_token_notices_integration ON user_token_notices (tenant_id, integration_id);
