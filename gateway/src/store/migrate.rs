//! Schema migrations, one ordered list per backend, applied at start and by `gateway migrate`.
//! Several replicas may start at once: on PostgreSQL an advisory lock serialises them.

use super::{Backend, Store, StoreError, StoreResult};

/// Applies one migration inside the caller's transaction unless it is recorded as applied.
macro_rules! apply_one {
    ($tx:expr, $version:expr, $sql:expr) => {{
        let version: i64 = $version;
        let done: Option<(i64,)> =
            sqlx::query_as("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *$tx)
                .await?;
        if done.is_none() {
            sqlx::raw_sql(sqlx::AssertSqlSafe($sql))
                .execute(&mut *$tx)
                .await
                .map_err(|source| StoreError::Migration { version, source })?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(0_i64)
                .execute(&mut *$tx)
                .await?;
        }
        done.is_none()
    }};
}

const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_manifests.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_accounting.sql"),
    ),
    (
        4,
        include_str!("../../migrations/sqlite/0004_connections.sql"),
    ),
    (
        5,
        include_str!("../../migrations/sqlite/0005_usermap_trust.sql"),
    ),
    (
        6,
        include_str!("../../migrations/sqlite/0006_sign_in_throttle.sql"),
    ),
    (
        7,
        include_str!("../../migrations/sqlite/0007_key_revocation.sql"),
    ),
    (
        9,
        include_str!("../../migrations/sqlite/0009_sealed_signing_keys.sql"),
    ),
    (
        10,
        include_str!("../../migrations/sqlite/0010_identities.sql"),
    ),
    (
        11,
        include_str!("../../migrations/sqlite/0011_federated_principal.sql"),
    ),
];
const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_manifests.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_accounting.sql"),
    ),
    (
        4,
        include_str!("../../migrations/postgres/0004_connections.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_usermap_trust.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_sign_in_throttle.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_key_revocation.sql"),
    ),
    (
        9,
        include_str!("../../migrations/postgres/0009_sealed_signing_keys.sql"),
    ),
    (
        10,
        include_str!("../../migrations/postgres/0010_identities.sql"),
    ),
    (
        11,
        include_str!("../../migrations/postgres/0011_federated_principal.sql"),
    ),
];

/// Arbitrary constant naming this project's migration lock.
const PG_LOCK_KEY: i64 = 0x0067_6174_6577_6179;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";

impl Store {
    /// Applies every migration not yet applied; returns the versions it applied.
    pub async fn migrate(&self) -> StoreResult<Vec<i64>> {
        let mut applied = Vec::new();
        match &self.backend {
            Backend::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query(CREATE_TABLE).execute(&mut *tx).await?;
                for (version, sql) in SQLITE {
                    if apply_one!(tx, *version, *sql) {
                        applied.push(*version);
                    }
                }
                tx.commit().await?;
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PG_LOCK_KEY)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(CREATE_TABLE).execute(&mut *tx).await?;
                for (version, sql) in POSTGRES {
                    if apply_one!(tx, *version, *sql) {
                        applied.push(*version);
                    }
                }
                tx.commit().await?;
            }
        }
        Ok(applied)
    }
}
