//! Schema migrations: a database made by the hand-written runner that came before `sqlx::migrate!`
//! upgrades cleanly, and both backends' schemas declare the same tables and columns.

use crate::on_both_backends;
use crate::support::{Backend, TestDb};
use gateway::model::NewUser;
use gateway::model::Role;
use gateway::store::Store;
use sqlx::Connection;
use std::collections::BTreeSet;
use std::str::FromStr;

/// The migration files of one backend, as `(version, file name, text)`, in order.
fn migration_files(backend: Backend) -> Vec<(i64, String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        });
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".sql"))
        .map(|name| {
            let version = name[..4].parse().unwrap();
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            (version, name, text)
        })
        .collect();
    files.sort();
    files
}

/// Runs `sql` (several statements) on the test database with a raw connection.
async fn execute(backend: Backend, url: &str, sql: String) {
    match backend {
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                .unwrap()
                .create_if_missing(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

/// Rows of a two-column text query, for catalog reads.
async fn pairs(backend: Backend, url: &str, sql: &'static str) -> BTreeSet<(String, String)> {
    let rows: Vec<(String, String)> = match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap()
        }
    };
    rows.into_iter().collect()
}

/// `(version, lowercase hex SHA-384 checksum)` of every migration recorded by sqlx.
async fn recorded(backend: Backend, url: &str) -> BTreeSet<(String, String)> {
    pairs(
        backend,
        url,
        match backend {
            Backend::Sqlite => {
                "SELECT CAST(version AS TEXT), lower(hex(checksum)) FROM _sqlx_migrations WHERE success"
            }
            Backend::Postgres => {
                "SELECT version::text, encode(checksum, 'hex') FROM _sqlx_migrations WHERE success"
            }
        },
    )
    .await
}

fn sha384_hex(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

async fn a_database_made_by_the_old_runner_upgrades(backend: Backend) {
    let db = TestDb::new(backend).await;
    let files = migration_files(backend);
    let (old, new): (Vec<_>, Vec<_>) = files.iter().partition(|(v, _, _)| *v <= 7);
    assert!(!new.is_empty(), "a migration after 7 exists to be applied");

    // Exactly what the old runner did: its table, then each script and its row, in one transaction.
    let mut script = String::from(
        "BEGIN;\nCREATE TABLE IF NOT EXISTS schema_migrations \
         (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL);\n",
    );
    for (version, _, text) in &old {
        script.push_str(text);
        script.push_str(&format!(
            "\nINSERT INTO schema_migrations (version, applied_at) VALUES ({version}, 0);\n"
        ));
    }
    script.push_str(
        "INSERT INTO users (username, email, first_name, last_name, role, password_hash, created_at) \
         VALUES ('ada', 'ada@example.org', 'Ada', 'Lovelace', 'ADMIN', NULL, 1000);\nCOMMIT;\n",
    );
    execute(backend, &db.url, script).await;

    let store = Store::connect_without_migrating(&db.url).await.unwrap();
    let applied = store.migrate().await.unwrap();
    assert_eq!(
        applied,
        new.iter().map(|(v, _, _)| *v).collect::<Vec<_>>(),
        "only the migrations the old runner had not applied run"
    );
    let expected: BTreeSet<_> = files
        .iter()
        .map(|(v, _, text)| (v.to_string(), sha384_hex(text)))
        .collect();
    assert_eq!(
        recorded(backend, &db.url).await,
        expected,
        "every version recorded with its file's checksum"
    );
    let tables = table_columns(backend, &db.url).await;
    assert!(
        !tables.iter().any(|(t, _)| t == "schema_migrations"),
        "the old table is gone"
    );

    let ada = store.user_by_username("ada").await.unwrap().unwrap();
    assert_eq!(ada.role, Role::Admin, "rows made before the switch survive");
    store
        .insert_user(
            &NewUser {
                username: "bob".into(),
                email: "bob@example.org".into(),
                first_name: "Bob".into(),
                last_name: "B".into(),
                organization: None,
                role: Role::User,
                password_hash: None,
            },
            2_000,
        )
        .await
        .unwrap();
    store.close().await;

    // A second start validates the recorded checksums against the files and applies nothing.
    let store = Store::connect(&db.url).await.unwrap();
    assert!(store.migrate().await.unwrap().is_empty());
    store.close().await;
}
on_both_backends!(
    old_runner_database_upgrades,
    a_database_made_by_the_old_runner_upgrades
);

/// `(table, column)` of every table the migrations made, read from the backend's catalog.
async fn table_columns(backend: Backend, url: &str) -> BTreeSet<(String, String)> {
    pairs(
        backend,
        url,
        match backend {
            Backend::Sqlite => {
                "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
                 AND m.name <> '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'"
            }
        },
    )
    .await
}

/// Not per backend: it compares the two. Both backends' migrations must build one schema.
#[tokio::test]
async fn sqlite_and_postgres_declare_the_same_tables_and_columns() {
    let sqlite = TestDb::new(Backend::Sqlite).await;
    let postgres = TestDb::new(Backend::Postgres).await;
    Store::connect(&sqlite.url).await.unwrap().close().await;
    Store::connect(&postgres.url).await.unwrap().close().await;
    let (s, p) = (
        table_columns(Backend::Sqlite, &sqlite.url).await,
        table_columns(Backend::Postgres, &postgres.url).await,
    );
    assert!(s.len() > 20, "the catalog was read: {s:?}");
    // The one table a backend has on its own: SQLite's stand-in for PostgreSQL's LISTEN/NOTIFY.
    let sqlite_feed = |(table, _): &&(String, String)| table == "change_feed";
    assert!(s.iter().any(|c| sqlite_feed(&c)), "SQLite's change feed");
    let s: BTreeSet<_> = s.iter().filter(|c| !sqlite_feed(c)).cloned().collect();
    assert_eq!(
        s.difference(&p).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "in SQLite only"
    );
    assert_eq!(
        p.difference(&s).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "in PostgreSQL only"
    );
}
