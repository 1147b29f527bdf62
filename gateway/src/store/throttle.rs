//! Sign-in throttling counters (SPEC §7), one row per username or client address. Kept in the
//! database so every replica counts the same failures.

use super::{Store, StoreResult, with_pool};

/// A key's state after an attempt was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Attempts in the current window, this one included.
    pub failures: i64,
    /// When the key may try again; 0 or in the past: not locked.
    pub locked_until: i64,
}

impl Store {
    /// The latest `locked_until` among `keys` (0 when none is locked or known).
    pub async fn throttle_locked_until(&self, keys: &[&str]) -> StoreResult<i64> {
        let mut latest = 0;
        for key in keys {
            let row: Option<(i64,)> = with_pool!(self, pool => {
                sqlx::query_as("SELECT locked_until FROM sign_in_throttle WHERE key = $1")
                    .bind(*key)
                    .fetch_optional(pool)
                    .await?
            });
            latest = latest.max(row.map_or(0, |r| r.0));
        }
        Ok(latest)
    }

    /// Counts one more attempt for each of `keys` (a new window when the last ran out and no lock
    /// holds), all in one transaction: concurrent attempts see the keys' counts in one order, so no
    /// attempt is refused by one key's count while another's is still within its allowance.
    pub async fn throttle_count(
        &self,
        keys: &[&str],
        now: i64,
        window_floor: i64,
    ) -> StoreResult<Vec<Counted>> {
        const COUNT: &str = "INSERT INTO sign_in_throttle (key, failures, window_start, locked_until) \
             VALUES ($1, 1, $2, 0) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN sign_in_throttle.window_start < $3 \
                                AND sign_in_throttle.locked_until <= $2 \
                          THEN 1 ELSE sign_in_throttle.failures + 1 END, \
               window_start = CASE WHEN sign_in_throttle.window_start < $3 \
                                    AND sign_in_throttle.locked_until <= $2 \
                              THEN $2 ELSE sign_in_throttle.window_start END \
             RETURNING failures, locked_until";
        let rows: Vec<(i64, i64)> = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut rows = Vec::with_capacity(keys.len());
            for key in keys {
                let row: (i64, i64) = sqlx::query_as(COUNT)
                    .bind(*key)
                    .bind(now)
                    .bind(window_floor)
                    .fetch_one(&mut *tx)
                    .await?;
                rows.push(row);
            }
            tx.commit().await?;
            rows
        });
        Ok(rows
            .into_iter()
            .map(|(failures, locked_until)| Counted {
                failures,
                locked_until,
            })
            .collect())
    }

    /// Locks `key` until `until` (never shortening a running lock).
    pub async fn throttle_lock(&self, key: &str, until: i64) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE sign_in_throttle SET locked_until = $2 WHERE key = $1 AND locked_until < $2",
            )
            .bind(key)
            .bind(until)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Claims the one attempt a key gets once its lock has run out: sets a new lock `until` only if
    /// the key had a lock that ended by `now`. False when another attempt claimed it first.
    pub async fn throttle_claim(&self, key: &str, until: i64, now: i64) -> StoreResult<bool> {
        let n = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE sign_in_throttle SET locked_until = $2 \
                 WHERE key = $1 AND locked_until > 0 AND locked_until <= $3",
            )
            .bind(key)
            .bind(until)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Gives back a claimed lock (the claiming attempt proved the password).
    pub async fn throttle_release(
        &self,
        key: &str,
        claimed: i64,
        previous: i64,
    ) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE sign_in_throttle SET locked_until = $3 WHERE key = $1 AND locked_until = $2",
            )
            .bind(key)
            .bind(claimed)
            .bind(previous)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Takes back one counted attempt of `key` (a sign-in that succeeded was not a failure).
    pub async fn throttle_uncount(&self, key: &str) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE sign_in_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0",
            )
            .bind(key)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Forgets `key` entirely (its owner proved the password).
    pub async fn throttle_clear(&self, key: &str) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM sign_in_throttle WHERE key = $1")
                .bind(key)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Removes rows whose window began before `window_floor` and whose lock has passed.
    pub async fn throttle_sweep(&self, now: i64, window_floor: i64) -> StoreResult<u64> {
        let n = with_pool!(self, pool => {
            sqlx::query("DELETE FROM sign_in_throttle WHERE window_start < $1 AND locked_until <= $2")
                .bind(window_floor)
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n)
    }
}
