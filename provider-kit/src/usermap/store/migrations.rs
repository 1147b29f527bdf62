//! The mapping store's schema: `provider-kit/migrations/NNNN_name.sql`, embedded by `sqlx::migrate!` and
//! recorded with their checksums in `_sqlx_migrations`, applied at start-up in one write
//! transaction (a second process waits, then finds them applied).
//!
//! Stores made before the switch to sqlx's runner record their versions in `usermap_migrations`
//! (no checksums). The first run moves those versions into `_sqlx_migrations` with the checksums of
//! the same scripts, then drops the old table; nothing is re-applied.

use sqlx::SqlitePool;
use sqlx::migrate::Migrator;

use super::StoreResult;

/// Append a file, never edit a released one: its checksum is checked at every start.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// sqlx's own table, created here exactly as sqlx creates it (its `CREATE TABLE IF NOT EXISTS`
/// then finds it).
const SQLX_TABLE: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
)";

pub async fn apply(pool: &SqlitePool) -> StoreResult<()> {
    // sqlx's per-migration transactions become savepoints of this one.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let legacy: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'usermap_migrations'",
    )
    .fetch_one(&mut *tx)
    .await?;
    if legacy > 0 {
        sqlx::query(SQLX_TABLE).execute(&mut *tx).await?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM usermap_migrations")
            .fetch_all(&mut *tx)
            .await?;
        for migration in MIGRATOR.iter().filter(|m| applied.contains(&m.version)) {
            sqlx::query(
                "INSERT INTO _sqlx_migrations \
                 (version, description, success, checksum, execution_time) \
                 VALUES (?, ?, TRUE, ?, 0) ON CONFLICT (version) DO NOTHING",
            )
            .bind(migration.version)
            .bind(&*migration.description)
            .bind(&*migration.checksum)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DROP TABLE usermap_migrations")
            .execute(&mut *tx)
            .await?;
    }
    MIGRATOR.run(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
