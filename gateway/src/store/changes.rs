//! The change feed's database side (SPEC §10): what other processes changed in tables this one
//! caches, as `kind:key` lines written by the triggers of migration 0012 in the changing transaction.
//!
//! PostgreSQL delivers them by `LISTEN gateway_changes` on a dedicated connection; a connection lost
//! is reopened with backoff, and then the reader is told to re-read everything (`Resync`), since
//! whatever was sent while it was away is gone. SQLite (one serving process, CLI commands beside
//! it) appends them to `change_feed`, which the serving process reads every `SQLITE_POLL` and
//! empties behind itself.

use super::{Backend, Store};
use sqlx::postgres::PgListener;
use sqlx::{PgPool, SqlitePool};
use std::collections::VecDeque;
use std::time::Duration;

/// The PostgreSQL channel the triggers notify.
pub const CHANNEL: &str = "gateway_changes";
/// How often the serving process reads SQLite's `change_feed`.
const SQLITE_POLL: Duration = Duration::from_millis(200);
/// Rows read from `change_feed` at a time.
const SQLITE_BATCH: i64 = 1000;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// One attempt to listen again; the pool's own acquire timeout is far longer.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(2);

/// One thing the feed says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// A `kind:key` line, as the trigger wrote it.
    Changed(String),
    /// Changes may have been missed (the listener reconnected): re-read everything.
    Resync,
    /// The listener lost its connection: changes are missed until the next `Resync`.
    Lost,
}

pub struct Feed {
    source: Source,
}

enum Source {
    Postgres {
        pool: PgPool,
        listener: Option<PgListener>,
        backoff: Duration,
    },
    Sqlite {
        pool: SqlitePool,
        after: i64,
        pending: VecDeque<String>,
    },
}

impl Store {
    /// Opens the feed. On SQLite it starts after the last row present: the caller has just loaded
    /// what it caches.
    pub async fn change_feed(&self) -> Feed {
        let source = match &self.backend {
            Backend::Postgres(pool) => Source::Postgres {
                pool: pool.clone(),
                listener: None,
                backoff: FIRST_BACKOFF,
            },
            Backend::Sqlite(pool) => {
                let after: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM change_feed")
                    .fetch_one(pool)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "reading the change feed's position failed");
                        None
                    });
                let after = after.unwrap_or(0);
                // What CLI commands appended while nothing served is already in what was loaded.
                if let Err(e) = sqlx::query("DELETE FROM change_feed WHERE id <= $1")
                    .bind(after)
                    .execute(pool)
                    .await
                {
                    tracing::warn!(error = %e, "emptying the change feed failed");
                }
                Source::Sqlite {
                    pool: pool.clone(),
                    after,
                    pending: VecDeque::new(),
                }
            }
        };
        Feed { source }
    }
}

impl Feed {
    /// True on PostgreSQL: changes arrive only while a listener is connected.
    pub fn needs_listener(&self) -> bool {
        matches!(self.source, Source::Postgres { .. })
    }

    /// The next event. Never fails: database errors are logged and retried with backoff, and a
    /// (re)opened PostgreSQL listener first yields `Resync`.
    pub async fn next(&mut self) -> FeedEvent {
        match &mut self.source {
            Source::Postgres {
                pool,
                listener,
                backoff,
            } => loop {
                let Some(open) = listener else {
                    let attempt = tokio::time::timeout(LISTEN_TIMEOUT, listen(pool)).await;
                    match attempt.unwrap_or(Err(sqlx::Error::PoolTimedOut)) {
                        Ok(l) => {
                            *listener = Some(l);
                            *backoff = FIRST_BACKOFF;
                            return FeedEvent::Resync;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, retry_ms = backoff.as_millis(), "change feed: listening failed");
                            tokio::time::sleep(*backoff).await;
                            *backoff = (*backoff * 2).min(MAX_BACKOFF);
                            continue;
                        }
                    }
                };
                match open.try_recv().await {
                    Ok(Some(n)) => return FeedEvent::Changed(n.payload().to_owned()),
                    Ok(None) => {
                        tracing::warn!("change feed: lost the database connection; reconnecting");
                        *listener = None;
                        return FeedEvent::Lost;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "change feed: receiving failed; reconnecting");
                        *listener = None;
                        return FeedEvent::Lost;
                    }
                }
            },
            Source::Sqlite {
                pool,
                after,
                pending,
            } => loop {
                if let Some(what) = pending.pop_front() {
                    return FeedEvent::Changed(what);
                }
                tokio::time::sleep(SQLITE_POLL).await;
                match read_sqlite(pool, *after).await {
                    Ok(rows) => {
                        if let Some((last, _)) = rows.last() {
                            *after = *last;
                        }
                        pending.extend(rows.into_iter().map(|(_, what)| what));
                    }
                    Err(e) => tracing::warn!(error = %e, "change feed: reading change_feed failed"),
                }
            },
        }
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // Reconnecting is ours to do (with backoff, and a resync after it).
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// The rows after `after`, deleting them: only the serving process reads this table.
async fn read_sqlite(pool: &SqlitePool, after: i64) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, what FROM change_feed WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(SQLITE_BATCH)
            .fetch_all(pool)
            .await?;
    if let Some((last, _)) = rows.last() {
        sqlx::query("DELETE FROM change_feed WHERE id <= $1")
            .bind(last)
            .execute(pool)
            .await?;
    }
    Ok(rows)
}
