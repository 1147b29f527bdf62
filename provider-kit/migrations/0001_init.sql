-- The mapping store: local accounts, mappings of gateway users to them, pending attempts.
CREATE TABLE local_accounts (
    name        TEXT    NOT NULL PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 32),
    uid         INTEGER NOT NULL UNIQUE CHECK (uid > 0),
    gid         INTEGER NOT NULL UNIQUE CHECK (gid > 0),
    home        TEXT    NOT NULL,
    shell       TEXT    NOT NULL,
    gecos       TEXT    NOT NULL,
    -- The gateway user an automatic account was made for; NULL for an account a user proved.
    created_for TEXT    UNIQUE,
    created_at  INTEGER NOT NULL
);
CREATE TABLE mappings (
    gateway_username TEXT    NOT NULL PRIMARY KEY,
    local_account    TEXT    NOT NULL UNIQUE REFERENCES local_accounts (name),
    created_at       INTEGER NOT NULL,
    -- When the gateway accepted the report; NULL until then, so a failed report is retried.
    reported_at      INTEGER
);
CREATE TABLE attempts (
    id_hash          TEXT    NOT NULL PRIMARY KEY,
    nonce            TEXT    NOT NULL UNIQUE,
    gateway_username TEXT    NOT NULL,
    full_name        TEXT    NOT NULL,
    return_url       TEXT    NOT NULL,
    csrf             TEXT    NOT NULL,
    expires_at       INTEGER NOT NULL,
    used_at          INTEGER,
    -- Wrong passwords given for this attempt; past a few, it is closed.
    failures         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL
);
CREATE INDEX attempts_expiry ON attempts (expires_at);
-- Monotonic counters: uids, gids and anonymized names are never handed out twice.
CREATE TABLE counters (
    name  TEXT    NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL
);
