-- One connection per (user, provider); its state follows SPEC §4.
CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider_id TEXT NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    local_identity TEXT,
    comment TEXT,
    comment_url TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (user_id, provider_id)
);
CREATE INDEX connections_provider ON connections(provider_id);

-- A connection attempt of the explicit flow: a single-use nonce (stored hashed) bound to the
-- session that started it.
CREATE TABLE connection_attempts (
    nonce_hash TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    session_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    reported_at BIGINT,
    used_at BIGINT
);
CREATE INDEX connection_attempts_connection ON connection_attempts(connection_id);
