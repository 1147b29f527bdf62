-- The quarantine ledger: a removed account's name and ids are not handed out again until `until`.
CREATE TABLE quarantine (
    name        TEXT    NOT NULL,
    uid         INTEGER NOT NULL,
    gid         INTEGER NOT NULL,
    created_for TEXT,
    removed_at  INTEGER NOT NULL,
    until       INTEGER NOT NULL
);
CREATE INDEX quarantine_name ON quarantine (name, until);
CREATE INDEX quarantine_uid ON quarantine (uid, until);
CREATE INDEX quarantine_gid ON quarantine (gid, until);
