//! The usermap flow's memory, and the only part of it that knows sqlx: one SQLite database holding
//! local accounts, the mappings of gateway users to them, and pending connection attempts. Every
//! rule that two requests could race on (a name, a uid, a gid, a nonce, one mapping per user) is a
//! UNIQUE constraint here, checked inside a transaction that takes SQLite's write lock first.

mod accounts;
mod attempts;
mod migrations;
mod pending;
mod quarantine;
mod renames;

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub(crate) use accounts::NEVER_HANDED_OUT;
pub use accounts::{AccountTx, IdKind, NewAccount};
pub use attempts::{Claim, NewAttempt, StoredAttempt};
pub use renames::GatewayRename;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrating the schema: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("only sqlite: URLs are supported by the mapping store")]
    UnsupportedUrl,
    /// Every id of a configured range has been handed out (ids are never reused).
    #[error("no free {kind} left in {min}-{max}")]
    RangeExhausted { kind: IdKind, min: u32, max: u32 },
    /// A UNIQUE rule refused the write: `what` names it.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// A stored value is not what this code wrote (e.g. an id out of the u32 range).
    #[error("corrupt row: {0}")]
    Corrupt(&'static str),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The file name of the mapping store in a provider's data folder, by convention.
pub const STORE_FILE: &str = "usermap.db";

/// The mapping store. Clones share one pool.
#[derive(Debug, Clone)]
pub struct MappingStore {
    pool: SqlitePool,
}

impl MappingStore {
    /// Opens (creating if missing) the SQLite database at `url` (`sqlite://path/usermap.db`) and
    /// applies the migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        if !url.starts_with("sqlite:") {
            return Err(StoreError::UnsupportedUrl);
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Database(e.into()))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        let store = Self { pool };
        migrations::apply(&store.pool).await?;
        Ok(store)
    }

    /// The store at `path` (a file), for callers that hold a path rather than a URL.
    pub async fn open(path: &std::path::Path) -> StoreResult<Self> {
        Self::connect(&format!("sqlite://{}", path.display())).await
    }

    /// The store at `path`, which must exist already: for commands that read it (`accounts
    /// export`), where creating an empty one would hide a wrong path.
    pub async fn open_existing(path: &std::path::Path) -> StoreResult<Self> {
        if !path.is_file() {
            let missing = std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no mapping store at {}", path.display()),
            );
            return Err(StoreError::Database(missing.into()));
        }
        Self::open(path).await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A write transaction: `BEGIN IMMEDIATE` takes SQLite's write lock at once, so concurrent
    /// creators queue instead of failing to upgrade a read snapshot.
    pub(crate) async fn begin(&self) -> StoreResult<AccountTx> {
        Ok(AccountTx::new(
            self.pool.begin_with("BEGIN IMMEDIATE").await?,
        ))
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// `what` for a UNIQUE violation, the error itself otherwise.
pub(crate) fn conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(error),
    }
}

/// An id read back from an INTEGER column.
pub(crate) fn id(value: i64) -> StoreResult<u32> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt("id out of range"))
}
