-- SPEC §4 ▲: the completion code the gateway hands the provider in the report's answer; only its
-- hash is kept, and the browser's return must carry the code itself.
ALTER TABLE connection_attempts ADD COLUMN code_hash TEXT;

-- SPEC §4 ▲ implicit flow: who made a brokered request to a provider since their connection last
-- ended. Written once per (provider, user) by the broker (an in-memory set spares the hot path the
-- write), deleted when the connection ends.
CREATE TABLE brokered_users (
    provider_id TEXT NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    first_at BIGINT NOT NULL,
    PRIMARY KEY (provider_id, user_id)
);
