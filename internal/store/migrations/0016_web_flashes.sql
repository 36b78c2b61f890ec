-- A page's message to the next page of the same browser session, across a
-- redirect (POST, redirect, GET): the error of a refused form and what the
-- user typed (never a secret), or a notice. Kept in the database so that
-- any replica serves the page after the redirect; read once, and only
-- within minutes. Keyed by the session's token hash (never the token) and
-- the page's path.

CREATE TABLE web_flashes (
    token_hash {{bytes}} NOT NULL,
    path       TEXT      NOT NULL,
    tenant_id  TEXT      NOT NULL,
    data       TEXT      NOT NULL,
    expires_at BIGINT    NOT NULL,
    PRIMARY KEY (token_hash, path)
);
CREATE INDEX web_flashes_expires ON web_flashes (expires_at);
