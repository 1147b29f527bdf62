-- Connections waiting on the provider (pendingAccountLinking, pendingAdditionalValidation): what
-- the user is told, when it is looked at again, and whether the gateway has the current state.
CREATE TABLE pending (
    gateway_username TEXT    NOT NULL PRIMARY KEY,
    state            TEXT    NOT NULL,
    comment          TEXT    NOT NULL,
    comment_url      TEXT,
    since            INTEGER NOT NULL,
    next_retry_at    INTEGER NOT NULL,
    reported         INTEGER NOT NULL DEFAULT 0
);
