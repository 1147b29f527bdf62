//! Persistence. The only layer that knows sqlx.
//!
//! One `Store` surface over two real backends chosen by the URL scheme: SQLite (the embedded default,
//! WAL) and PostgreSQL (several gateway replicas). Queries are written once in the SQL both accept
//! (`$N` parameters, `RETURNING`, `ON CONFLICT`) and run through `with_pool!`, which expands the same
//! code against each backend's native pool, so both are type-checked by the compiler.

mod audit;
mod changes;
pub use changes::{CHANNEL as CHANGE_CHANNEL, Feed, FeedEvent};
mod connections;
pub use connections::NewAttempt;
mod identities;
pub use identities::CreateFederatedError;
mod keys;
mod linked;
pub use linked::Unlinked;
mod merge;
pub use keys::SealedKey;
pub use merge::{MergePlan, MergeRefusal, Merged, PendingRename};
mod lifecycle;
mod manifests;
mod migrate;
mod projects;
mod throttle;
pub use throttle::Counted;
mod providers;
mod serve_lock;
pub use serve_lock::{ServeLock, ServeLockError, lock_for_serving};
mod agreements;
mod users;
mod wallets;
pub use agreements::AcceptanceRow;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("migrating the schema: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL (expected sqlite: or postgres://)")]
    UnsupportedUrl,
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// PostgreSQL refused a text value it cannot hold (a NUL character: SQLSTATE 22021; 22P05 for
    /// an untranslatable one). The HTTP layer refuses NUL before any query; this is the net behind it.
    pub fn is_refused_text(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(e)) => {
                matches!(e.code().as_deref(), Some("22021" | "22P05"))
            }
            _ => false,
        }
    }
}

#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever native pool the store holds.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite($pool) => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

impl Store {
    /// Connects to `url` (creating a SQLite file and its folder if missing) and runs migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let store = Self::connect_without_migrating(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub async fn connect_without_migrating(url: &str) -> StoreResult<Self> {
        let backend = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            if let Some(parent) = options.get_filename().parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Backend::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Backend::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        Ok(Self { backend })
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// A trivial round trip, for `/readyz`.
    /// The connection pool: `(open connections, idle ones)`, for the metrics.
    pub fn pool_usage(&self) -> (u32, usize) {
        match &self.backend {
            Backend::Sqlite(p) => (p.size(), p.num_idle()),
            Backend::Postgres(p) => (p.size(), p.num_idle()),
        }
    }

    pub async fn ping(&self) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

/// Maps a unique-constraint violation to `Conflict(what)`, every other error to `Database`.
fn conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(e),
    }
}
