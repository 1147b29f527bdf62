//! A mapping store made by the hand-written runner that came before `sqlx::migrate!` upgrades:
//! its versions move to `_sqlx_migrations` with the scripts' checksums, nothing runs twice, rows stay.

use sqlx::Connection;
use std::str::FromStr;

use super::support::TempFile;
use crate::usermap::MappingStore;

const INIT: &str = include_str!("../../../migrations/0001_init.sql");
const CONFIRM: &str = include_str!("../../../migrations/0002_confirm_step.sql");

async fn raw(file: &TempFile) -> sqlx::SqliteConnection {
    let options =
        sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{}", file.0.display()))
            .expect("url")
            .create_if_missing(true);
    sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("connects")
}

/// Exactly what the old runner left after applying `scripts`: its table and one row per script.
async fn old_runner_store(scripts: &[(i64, &str)]) -> TempFile {
    let file = TempFile::new("db");
    let mut conn = raw(&file).await;
    let mut sql = String::from(
        "CREATE TABLE IF NOT EXISTS usermap_migrations \
         (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL);\n",
    );
    for (version, script) in scripts {
        sql.push_str(script);
        sql.push_str(&format!(
            "\nINSERT INTO usermap_migrations (version, applied_at) VALUES ({version}, 0);\n"
        ));
    }
    sql.push_str(
        "INSERT INTO local_accounts (name, uid, gid, home, shell, gecos, created_for, created_at) \
         VALUES ('ada', 20000, 20000, '/home/ada', '/bin/bash', 'Ada Lovelace', NULL, 1);\n",
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .expect("old schema");
    file
}

async fn recorded(file: &TempFile) -> Vec<(i64, Vec<u8>)> {
    let mut conn = raw(file).await;
    sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .expect("sqlx table")
}

fn sha384(text: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, text.as_bytes())
        .as_ref()
        .to_vec()
}

/// Every script is recorded once, the two the old runner applied with their own checksums.
async fn assert_recorded(file: &TempFile) {
    let recorded = recorded(file).await;
    assert_eq!(&recorded[..2], [(1, sha384(INIT)), (2, sha384(CONFIRM))]);
    let versions: Vec<i64> = recorded.iter().map(|(v, _)| *v).collect();
    let expected: Vec<i64> = (1..=versions.len() as i64).collect();
    assert_eq!(versions, expected);
    assert!(versions.len() >= 6, "{versions:?}");
}

async fn legacy_table_exists(file: &TempFile) -> bool {
    let mut conn = raw(file).await;
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'usermap_migrations'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("catalog");
    n > 0
}

#[tokio::test]
async fn a_fully_migrated_old_store_opens_without_running_anything_again() {
    let file = old_runner_store(&[(1, INIT), (2, CONFIRM)]).await;
    let store = MappingStore::open(&file.0).await.expect("opens");
    let names: Vec<_> = store
        .accounts()
        .await
        .expect("accounts")
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["ada"], "the row made before the switch is kept");
    store.close().await;
    assert_recorded(&file).await;
    assert!(!legacy_table_exists(&file).await, "the old table is gone");
    // A second start checks the recorded checksums against the scripts.
    MappingStore::open(&file.0)
        .await
        .expect("opens again")
        .close()
        .await;
}

#[tokio::test]
async fn an_old_store_one_script_behind_gets_only_the_missing_one() {
    let file = old_runner_store(&[(1, INIT)]).await;
    let store = MappingStore::open(&file.0).await.expect("opens");
    store.close().await;
    assert_recorded(&file).await;
    let mut conn = raw(&file).await;
    let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info('attempts')")
        .fetch_all(&mut conn)
        .await
        .expect("catalog");
    assert!(columns.iter().any(|c| c == "confirm_csrf"), "{columns:?}");
}

#[tokio::test]
async fn the_gid_rebuild_keeps_accounts_and_mappings_of_an_older_store() {
    let file = old_runner_store(&[(1, INIT), (2, CONFIRM)]).await;
    {
        let mut conn = raw(&file).await;
        sqlx::raw_sql("INSERT INTO mappings VALUES ('ada#1', 'ada', 1, NULL)")
            .execute(&mut conn)
            .await
            .expect("mapping");
    }
    MappingStore::open(&file.0)
        .await
        .expect("migrates")
        .close()
        .await;
    let mut conn = raw(&file).await;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut conn)
        .await
        .expect("pragma");
    let (account,): (String,) = sqlx::query_as(
        "SELECT a.name FROM mappings m JOIN local_accounts a ON a.name = m.local_account",
    )
    .fetch_one(&mut conn)
    .await
    .expect("mapping kept");
    assert_eq!(account, "ada");
    // Two accounts may now share a gid; a uid is still unique.
    sqlx::query("INSERT INTO local_accounts (name, uid, gid, home, shell, gecos, created_for, created_at) VALUES ('bob', 20001, 20000, '/home/bob', '/bin/sh', 'Bob', NULL, 1)")
        .execute(&mut conn)
        .await
        .expect("shared gid");
    let same_uid = sqlx::query(
        "INSERT INTO local_accounts (name, uid, gid, home, shell, gecos, created_for, created_at) VALUES ('eve', 20001, 20002, '/home/eve', '/bin/sh', 'Eve', NULL, 1)",
    )
    .execute(&mut conn)
    .await;
    assert!(same_uid.is_err());
    let orphan = sqlx::query("INSERT INTO mappings VALUES ('x#2', 'nobody_here', 1, NULL)")
        .execute(&mut conn)
        .await;
    assert!(orphan.is_err(), "the foreign key still holds");
}
