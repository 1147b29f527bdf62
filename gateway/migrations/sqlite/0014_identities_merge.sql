-- Issue 12 (SPEC §8, §4): linking an identity to the signed-in account, and the renames owed to
-- providers after an account merge.

-- A sign-in started to link an identity to this user's account (NULL: a plain sign-in). Such an
-- attempt's browser_hash is the hash of the session that started it.
ALTER TABLE oidc_attempts ADD COLUMN link_user BIGINT;

-- `POST {provider}/ucloud/{id}/usermap/rename {"from","to"}` owed after a merge: written in the
-- merge's transaction, deleted once the provider took it, retried with backoff until then.
CREATE TABLE pending_renames (
    id TEXT PRIMARY KEY,
    provider_id TEXT NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
    from_username TEXT NOT NULL,
    to_username TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT
);
CREATE INDEX pending_renames_due ON pending_renames(next_attempt_at);
