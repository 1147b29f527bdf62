-- Accounts may share a primary group (`accounts.primary_group`, and directories where many
-- accounts have gid 100): the gid is no longer unique. The LDAP backend records its accounts here
-- too. SQLite cannot drop a constraint, so the table is rebuilt, and with it `mappings` (its
-- foreign key may not point at a table being dropped).
CREATE TEMP TABLE mappings_v2 AS SELECT * FROM mappings;
DROP TABLE mappings;
CREATE TABLE local_accounts_v3 (
    name        TEXT    NOT NULL PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 32),
    uid         INTEGER NOT NULL UNIQUE CHECK (uid > 0),
    gid         INTEGER NOT NULL CHECK (gid > 0),
    home        TEXT    NOT NULL,
    shell       TEXT    NOT NULL,
    gecos       TEXT    NOT NULL,
    created_for TEXT    UNIQUE,
    created_at  INTEGER NOT NULL
);
INSERT INTO local_accounts_v3 SELECT name, uid, gid, home, shell, gecos, created_for, created_at
    FROM local_accounts;
DROP TABLE local_accounts;
ALTER TABLE local_accounts_v3 RENAME TO local_accounts;
CREATE TABLE mappings (
    gateway_username TEXT    NOT NULL PRIMARY KEY,
    local_account    TEXT    NOT NULL UNIQUE REFERENCES local_accounts (name),
    created_at       INTEGER NOT NULL,
    reported_at      INTEGER
);
INSERT INTO mappings SELECT gateway_username, local_account, created_at, reported_at FROM mappings_v2;
DROP TABLE mappings_v2;
CREATE INDEX local_accounts_gid ON local_accounts (gid);
