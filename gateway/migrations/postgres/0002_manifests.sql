CREATE TABLE provider_manifests (
    provider_id TEXT PRIMARY KEY REFERENCES providers(id) ON DELETE CASCADE,
    -- The last valid manifest, as JSON; NULL until one has been fetched.
    manifest TEXT,
    -- JSON array of warnings that came with it.
    warnings TEXT NOT NULL DEFAULT '[]',
    etag TEXT,
    fetched_at BIGINT,
    -- The last attempt, successful or not, and its error.
    checked_at BIGINT,
    last_error TEXT,
    failures BIGINT NOT NULL DEFAULT 0,
    next_fetch_at BIGINT NOT NULL DEFAULT 0
);
