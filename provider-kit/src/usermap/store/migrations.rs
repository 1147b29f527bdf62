//! The mapping store's schema, as numbered SQL scripts applied once each at start-up, in order,
//! each in its own transaction.

use sqlx::SqlitePool;

use super::{StoreError, StoreResult};

/// `(version, script)`; append, never edit a released one.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r"
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
",
    ),
    (
        2,
        r"
-- SPEC §4 ▲: the confirm step. The organization shown beside the gateway user; the local account
-- the browser proved, waiting for the user's click; that click's own CSRF token.
ALTER TABLE attempts ADD COLUMN organization TEXT;
ALTER TABLE attempts ADD COLUMN proven_account TEXT;
ALTER TABLE attempts ADD COLUMN confirm_csrf TEXT;
",
    ),
    (
        3,
        r"
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
",
    ),
    (
        4,
        r"
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
",
    ),
    (
        5,
        r"
-- Policy changes: what an automatic account's name was made from (the principal's names, e-mail
-- and site username, JSON), so a new policy can be previewed; and the old names of renamed
-- accounts, kept as aliases (and from everyone else) until `until`.
ALTER TABLE local_accounts ADD COLUMN principal TEXT;
CREATE TABLE aliases (
    alias      TEXT    NOT NULL PRIMARY KEY,
    account    TEXT    NOT NULL,
    uid        INTEGER NOT NULL,
    renamed_at INTEGER NOT NULL,
    until      INTEGER NOT NULL
);
",
    ),
    (
        6,
        r"
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
",
    ),
];

pub async fn apply(pool: &SqlitePool) -> StoreResult<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS usermap_migrations \
         (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .execute(pool)
    .await?;
    for &(version, script) in MIGRATIONS {
        let fail = |source| StoreError::Migration { version, source };
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(fail)?;
        let done: Option<(i64,)> =
            sqlx::query_as("SELECT version FROM usermap_migrations WHERE version = ?")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(fail)?;
        if done.is_some() {
            continue;
        }
        sqlx::raw_sql(script)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        sqlx::query("INSERT INTO usermap_migrations (version, applied_at) VALUES (?, 0)")
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqlitePoolOptions;

    use super::*;

    #[tokio::test]
    async fn the_gid_rebuild_keeps_accounts_and_mappings_of_an_older_store() {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .in_memory(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("pool");
        sqlx::raw_sql(
            "CREATE TABLE usermap_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .execute(&pool)
        .await
        .expect("table");
        for &(version, script) in &MIGRATIONS[..2] {
            sqlx::raw_sql(script)
                .execute(&pool)
                .await
                .expect("old script");
            sqlx::query("INSERT INTO usermap_migrations VALUES (?, 0)")
                .bind(version)
                .execute(&pool)
                .await
                .expect("version");
        }
        sqlx::raw_sql(
            "INSERT INTO local_accounts VALUES ('ada', 20000, 20000, '/home/ada', '/bin/sh', 'Ada', 'ada#1', 1); \
             INSERT INTO mappings VALUES ('ada#1', 'ada', 1, NULL);",
        )
        .execute(&pool)
        .await
        .expect("rows");
        apply(&pool).await.expect("migrates");
        let (account,): (String,) = sqlx::query_as(
            "SELECT a.name FROM mappings m JOIN local_accounts a ON a.name = m.local_account",
        )
        .fetch_one(&pool)
        .await
        .expect("mapping kept");
        assert_eq!(account, "ada");
        // Two accounts may now share a gid; a uid is still unique.
        sqlx::query("INSERT INTO local_accounts (name, uid, gid, home, shell, gecos, created_for, created_at) VALUES ('bob', 20001, 20000, '/home/bob', '/bin/sh', 'Bob', NULL, 1)")
            .execute(&pool)
            .await
            .expect("shared gid");
        let same_uid = sqlx::query(
            "INSERT INTO local_accounts (name, uid, gid, home, shell, gecos, created_for, created_at) VALUES ('eve', 20001, 20002, '/home/eve', '/bin/sh', 'Eve', NULL, 1)",
        )
        .execute(&pool)
        .await;
        assert!(same_uid.is_err());
        let orphan = sqlx::query("INSERT INTO mappings VALUES ('x#2', 'nobody_here', 1, NULL)")
            .execute(&pool)
            .await;
        assert!(orphan.is_err(), "the foreign key still holds");
    }
}
