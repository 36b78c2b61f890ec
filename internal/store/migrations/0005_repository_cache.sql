-- The repositories each integration's account can see, kept so that the
-- repository picker searches the database instead of listing every
-- repository from the host on each keystroke.
--
-- repository_cache_syncs says when an integration's list was last read in
-- full from the host; a missing row means never. repository_cache holds
-- that list and is only ever replaced whole, together with the sync time.
-- full_name_key is the lower-cased full name, so that a case-insensitive
-- substring search is the same plain LIKE on both dialects.
--
-- No cascade, as for user_tokens: DeleteIntegration deletes both itself.

CREATE TABLE repository_cache_syncs (
    tenant_id      TEXT   NOT NULL,
    integration_id TEXT   NOT NULL,
    synced_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, integration_id),
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id)
);

CREATE TABLE repository_cache (
    tenant_id      TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    repository_id  TEXT NOT NULL,
    name           TEXT NOT NULL,
    full_name      TEXT NOT NULL,
    full_name_key  TEXT NOT NULL,
    default_branch TEXT NOT NULL,
    web_url        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, integration_id, repository_id),
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id)
);
CREATE INDEX repository_cache_full_name ON repository_cache (tenant_id, integration_id, full_name_key);
