//! One `serve` process per SQLite file (SPEC §10). `gateway serve` and `gateway dev` take an
//! exclusive advisory lock on `<database file>.lock` before they open the database and hold it until
//! they exit; a second one finds it held and refuses to start. One-shot CLI commands never take it,
//! so they still run beside the server. The operating system drops the lock with the process, so a
//! killed server never leaves a stale one. PostgreSQL needs no lock: replicas share it by design.

use sqlx::sqlite::SqliteConnectOptions;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Held for as long as the serving process runs; dropping it releases the lock.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeLockError {
    #[error(
        "another `gateway serve` (or `gateway dev`) is already running on the SQLite database {}: \
         it holds the lock {}. SQLite is for one serving process; stop the other one, or run \
         several replicas on PostgreSQL (database_url: postgres://…). One-shot commands such as \
         `gateway users create` may still run beside it.",
        database.display(),
        lock.display()
    )]
    Held { database: PathBuf, lock: PathBuf },
    #[error("cannot lock {}: {source}", lock.display())]
    Io {
        lock: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid SQLite database URL: {0}")]
    Url(#[from] sqlx::Error),
}

/// Takes the serving lock of the SQLite database at `url`; `None` for PostgreSQL and for an
/// in-memory SQLite database, which no other process can open.
pub fn lock_for_serving(url: &str) -> Result<Option<ServeLock>, ServeLockError> {
    if !url.starts_with("sqlite:")
        || url.starts_with("sqlite::memory:")
        || url.contains("mode=memory")
    {
        return Ok(None);
    }
    let options = SqliteConnectOptions::from_str(url)?;
    let database = options.get_filename();
    let lock = lock_path(database);
    let io = |source| ServeLockError::Io {
        lock: lock.clone(),
        source,
    };
    if let Some(parent) = lock.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ServeLock { _file: file })),
        Err(TryLockError::WouldBlock) => Err(ServeLockError::Held {
            database: database.to_path_buf(),
            lock,
        }),
        Err(TryLockError::Error(source)) => Err(io(source)),
    }
}

/// `<database file>.lock`, next to the database.
fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_url(label: &str) -> (PathBuf, String) {
        let dir =
            std::env::temp_dir().join(format!("gw-lock-{label}-{}", crate::secrets::random_id()));
        let url = format!("sqlite://{}", dir.join("gateway.db").display());
        (dir, url)
    }

    #[test]
    fn a_second_serving_lock_on_the_same_sqlite_file_is_refused_until_the_first_is_dropped() {
        let (dir, url) = sqlite_url("twice");
        let first = lock_for_serving(&url).unwrap();
        assert!(first.is_some());
        let refused = lock_for_serving(&url).unwrap_err();
        assert!(
            matches!(&refused, ServeLockError::Held { lock, .. } if lock.ends_with("gateway.db.lock")),
            "{refused}"
        );
        assert!(refused.to_string().contains("PostgreSQL"), "{refused}");
        drop(first);
        assert!(lock_for_serving(&url).unwrap().is_some());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn postgres_and_in_memory_databases_take_no_lock() {
        assert!(
            lock_for_serving("postgres://postgres@127.0.0.1/x")
                .unwrap()
                .is_none()
        );
        assert!(lock_for_serving("sqlite::memory:").unwrap().is_none());
    }
}
