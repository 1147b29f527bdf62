//! Pending connection attempts (SPEC §4 steps 2–5) in the store: one row per usermap token the
//! provider accepted, keyed by the hash of the browser's attempt cookie, single-use through `used_at`
//! and refused after `expires_at`. The nonce is UNIQUE, so a usermap token is accepted only once.

use super::{AccountTx, MappingStore, StoreResult, conflict};

/// An attempt to record.
#[derive(Debug, Clone, Copy)]
pub struct NewAttempt<'a> {
    /// SHA-256 (hex) of the attempt id in the browser's cookie; the id itself is never stored.
    pub id_hash: &'a str,
    pub nonce: &'a str,
    pub gateway_username: &'a str,
    pub full_name: &'a str,
    pub return_url: &'a str,
    pub csrf: &'a str,
    pub expires_at: i64,
    pub created_at: i64,
}

/// An attempt as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttempt {
    pub nonce: String,
    pub gateway_username: String,
    pub full_name: String,
    pub return_url: String,
    pub csrf: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// Wrong passwords given so far.
    pub failures: i64,
}

/// What claiming an attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The attempt was pending and is now used.
    Claimed(StoredAttempt),
    Unknown,
    Used,
    Expired,
}

type AttemptRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    i64,
);

const BY_ID: &str = "SELECT nonce, gateway_username, full_name, return_url, csrf, expires_at, used_at, \
     failures FROM attempts WHERE id_hash = ?";

fn attempt(row: AttemptRow) -> StoredAttempt {
    let (nonce, gateway_username, full_name, return_url, csrf, expires_at, used_at, failures) = row;
    StoredAttempt {
        nonce,
        gateway_username,
        full_name,
        return_url,
        csrf,
        expires_at,
        used_at,
        failures,
    }
}

/// Rows are kept this long after they expire, past any clock leeway, then purged.
const KEEP_EXPIRED_SECS: i64 = 3_600;

impl MappingStore {
    /// Records a new attempt; `Conflict("nonce")` when this nonce was seen before.
    pub(crate) async fn insert_attempt(&self, new: NewAttempt<'_>) -> StoreResult<()> {
        sqlx::query("DELETE FROM attempts WHERE expires_at < ?")
            .bind(new.created_at.saturating_sub(KEEP_EXPIRED_SECS))
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO attempts (id_hash, nonce, gateway_username, full_name, return_url, csrf, \
             expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.id_hash)
        .bind(new.nonce)
        .bind(new.gateway_username)
        .bind(new.full_name)
        .bind(new.return_url)
        .bind(new.csrf)
        .bind(new.expires_at)
        .bind(new.created_at)
        .execute(self.pool())
        .await
        .map_err(conflict("nonce"))?;
        Ok(())
    }

    /// The attempt behind a cookie, used or not.
    pub(crate) async fn attempt(&self, id_hash: &str) -> StoreResult<Option<StoredAttempt>> {
        let row: Option<AttemptRow> = sqlx::query_as(BY_ID)
            .bind(id_hash)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(attempt))
    }
}

impl AccountTx {
    /// Marks the attempt used if it is pending and not expired at `now`.
    pub(crate) async fn claim_attempt(&mut self, id_hash: &str, now: i64) -> StoreResult<Claim> {
        let claimed = sqlx::query(
            "UPDATE attempts SET used_at = ?1 WHERE id_hash = ?2 AND used_at IS NULL \
             AND expires_at > ?1",
        )
        .bind(now)
        .bind(id_hash)
        .execute(&mut *self.conn())
        .await?
        .rows_affected()
            == 1;
        let row: Option<AttemptRow> = sqlx::query_as(BY_ID)
            .bind(id_hash)
            .fetch_optional(&mut *self.conn())
            .await?;
        Ok(match row.map(attempt) {
            None => Claim::Unknown,
            Some(found) if claimed => Claim::Claimed(found),
            Some(found) if found.used_at.is_some() => Claim::Used,
            Some(_) => Claim::Expired,
        })
    }
}

impl MappingStore {
    /// Counts a wrong password against an attempt.
    pub(crate) async fn attempt_failed(&self, id_hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE attempts SET failures = failures + 1 WHERE id_hash = ?")
            .bind(id_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Makes a claimed attempt pending again, when what followed the claim could not be finished
    /// (the gateway did not take the report) and the user should be able to try again.
    pub(crate) async fn release_attempt(&self, id_hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE attempts SET used_at = NULL WHERE id_hash = ?")
            .bind(id_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
