-- Issue 12 (SPEC §8): identities at OpenID Providers and the sign-ins under way.

-- An identity (issuer, subject) decides the account it signs into.
CREATE TABLE identities (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    idp_id TEXT NOT NULL,            -- the configured identity provider's id
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    email TEXT,
    linked_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    UNIQUE (issuer, subject)
);
CREATE INDEX identities_user ON identities(user_id);

-- One row per redirect to an IdP: single use (deleted by the callback that reads it), short-lived,
-- bound to the browser by the hash of a secret kept in a cookie.
CREATE TABLE oidc_attempts (
    state_hash TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    idp_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    next_path TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
