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

-- Accounts an operator pre-created for an email (`gateway users invite`): the first identity whose
-- IdP vouches for that email (email_verified) is linked to it, once.
CREATE TABLE invitations (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX invitations_email ON invitations(email);
