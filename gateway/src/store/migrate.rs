//! Schema migrations: `migrations/<backend>/NNNN_name.sql`, embedded by `sqlx::migrate!` and
//! recorded with their checksums in `_sqlx_migrations`, applied at start and by `gateway migrate`.
//! Several replicas may start at once: on PostgreSQL an advisory lock serialises them.
//!
//! Databases made before the switch to sqlx's runner record their versions in `schema_migrations`
//! (no checksums). The first run under sqlx's runner moves those versions into `_sqlx_migrations`
//! with the checksums of the same files, then drops the old table; nothing is re-applied.

use sqlx::migrate::Migrator;
use sqlx::{PgConnection, SqliteConnection};

use super::{Backend, Store, StoreResult};

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// Arbitrary constant naming this project's migration lock.
const PG_LOCK_KEY: i64 = 0x0067_6174_6577_6179;

/// The table the hand-written runner kept, before `_sqlx_migrations`.
const LEGACY_TABLE: &str = "schema_migrations";

/// sqlx's own table, created here exactly as sqlx creates it (its `CREATE TABLE IF NOT EXISTS`
/// then finds it). `installed_on` keeps its default.
const SQLITE_SQLX_TABLE: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
)";
const POSTGRES_SQLX_TABLE: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL,
    execution_time BIGINT NOT NULL
)";

const RECORD: &str = "INSERT INTO _sqlx_migrations \
     (version, description, success, checksum, execution_time) VALUES ($1, $2, TRUE, $3, 0) \
     ON CONFLICT (version) DO NOTHING";

impl Store {
    /// Applies every migration not yet applied; returns the versions it applied.
    pub async fn migrate(&self) -> StoreResult<Vec<i64>> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                // One write transaction (sqlx's per-migration transactions become savepoints):
                // a second process waits for it, then finds everything applied.
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let before = sqlite_switch_and_list(&mut tx).await?;
                SQLITE.run(&mut tx).await?;
                tx.commit().await?;
                Ok(newly_applied(&SQLITE, &before))
            }
            Backend::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(PG_LOCK_KEY)
                    .execute(&mut *conn)
                    .await?;
                let result = async {
                    let before = postgres_switch_and_list(&mut conn).await?;
                    POSTGRES.run(&mut *conn).await?;
                    Ok(newly_applied(&POSTGRES, &before))
                }
                .await;
                sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(PG_LOCK_KEY)
                    .execute(&mut *conn)
                    .await?;
                result
            }
        }
    }
}

/// The migrator's versions not in `before` (every one the run just applied, as it succeeded).
fn newly_applied(migrator: &Migrator, before: &[i64]) -> Vec<i64> {
    migrator
        .iter()
        .map(|m| m.version)
        .filter(|v| !before.contains(v))
        .collect()
}

/// Moves a legacy `schema_migrations` table into `_sqlx_migrations`, then lists the versions
/// recorded as applied. The caller holds a write transaction.
async fn sqlite_switch_and_list(conn: &mut SqliteConnection) -> StoreResult<Vec<i64>> {
    let exists = |name: &'static str| {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
        )
        .bind(name)
    };
    if exists(LEGACY_TABLE).fetch_one(&mut *conn).await? > 0 {
        sqlx::query(SQLITE_SQLX_TABLE).execute(&mut *conn).await?;
        let legacy: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&mut *conn)
            .await?;
        for migration in SQLITE.iter().filter(|m| legacy.contains(&m.version)) {
            sqlx::query(RECORD)
                .bind(migration.version)
                .bind(&*migration.description)
                .bind(&*migration.checksum)
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query("DROP TABLE schema_migrations")
            .execute(&mut *conn)
            .await?;
    }
    if exists("_sqlx_migrations").fetch_one(&mut *conn).await? == 0 {
        return Ok(Vec::new());
    }
    Ok(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// As [`sqlite_switch_and_list`], for PostgreSQL; the caller holds the migration lock.
async fn postgres_switch_and_list(conn: &mut PgConnection) -> StoreResult<Vec<i64>> {
    let exists = |name: &'static str| {
        sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL").bind(name)
    };
    if exists(LEGACY_TABLE).fetch_one(&mut *conn).await? {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::query(POSTGRES_SQLX_TABLE).execute(&mut *tx).await?;
        let legacy: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&mut *tx)
            .await?;
        for migration in POSTGRES.iter().filter(|m| legacy.contains(&m.version)) {
            sqlx::query(RECORD)
                .bind(migration.version)
                .bind(&*migration.description)
                .bind(&*migration.checksum)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DROP TABLE schema_migrations")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    if !exists("_sqlx_migrations").fetch_one(&mut *conn).await? {
        return Ok(Vec::new());
    }
    Ok(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&mut *conn)
            .await?,
    )
}
