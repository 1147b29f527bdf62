//! Pending connection attempts (SPEC §4 steps 2–5) in the store: one row per usermap token the
//! provider accepted, keyed by the hash of the browser's attempt cookie, single-use through `used_at`
//! and refused after `expires_at`. The nonce is UNIQUE, so a usermap token is accepted only once.
//! A sign-in records the proven local account and a confirm CSRF token (`prove_attempt`); only the
//! confirm click with that token claims the attempt (`claim_attempt`).

use super::{AccountTx, MappingStore, StoreResult, conflict};

/// An attempt to record.
#[derive(Debug, Clone, Copy)]
pub struct NewAttempt<'a> {
    /// SHA-256 (hex) of the attempt id in the browser's cookie; the id itself is never stored.
    pub id_hash: &'a str,
    pub nonce: &'a str,
    pub gateway_username: &'a str,
    pub full_name: &'a str,
    pub organization: Option<&'a str>,
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
    pub organization: Option<String>,
    pub return_url: String,
    pub csrf: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// Wrong passwords given so far.
    pub failures: i64,
    /// The local account the browser proved, awaiting the user's confirmation.
    pub proven_account: Option<String>,
    /// The confirm form's CSRF token, made when the account was proven.
    pub confirm_csrf: Option<String>,
}

/// What claiming an attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The attempt was pending and is now used.
    Claimed(Box<StoredAttempt>),
    Unknown,
    Used,
    Expired,
    /// No proven account yet, or the confirm token is not the attempt's.
    NotConfirmed,
}

type AttemptRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
    Option<i64>,
    i64,
    Option<String>,
    Option<String>,
);

const BY_ID: &str = "SELECT nonce, gateway_username, full_name, organization, return_url, csrf, \
     expires_at, used_at, failures, proven_account, confirm_csrf FROM attempts WHERE id_hash = ?";

fn attempt(row: AttemptRow) -> StoredAttempt {
    let (
        nonce,
        gateway_username,
        full_name,
        organization,
        return_url,
        csrf,
        expires_at,
        used_at,
        failures,
        proven_account,
        confirm_csrf,
    ) = row;
    StoredAttempt {
        nonce,
        gateway_username,
        full_name,
        organization,
        return_url,
        csrf,
        expires_at,
        used_at,
        failures,
        proven_account,
        confirm_csrf,
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
            "INSERT INTO attempts (id_hash, nonce, gateway_username, full_name, organization, \
             return_url, csrf, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.id_hash)
        .bind(new.nonce)
        .bind(new.gateway_username)
        .bind(new.full_name)
        .bind(new.organization)
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
    /// Marks the attempt used if it is pending, not expired at `now`, has a proven account and
    /// `confirm_csrf` is its confirm token.
    pub(crate) async fn claim_attempt(
        &mut self,
        id_hash: &str,
        confirm_csrf: &str,
        now: i64,
    ) -> StoreResult<Claim> {
        let claimed = sqlx::query(
            "UPDATE attempts SET used_at = ?1 WHERE id_hash = ?2 AND used_at IS NULL \
             AND expires_at > ?1 AND proven_account IS NOT NULL AND confirm_csrf = ?3",
        )
        .bind(now)
        .bind(id_hash)
        .bind(confirm_csrf)
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
            Some(found) if claimed => Claim::Claimed(Box::new(found)),
            Some(found) if found.used_at.is_some() => Claim::Used,
            Some(found) if found.expires_at <= now => Claim::Expired,
            Some(_) => Claim::NotConfirmed,
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

    /// Records the local account the browser proved and a new confirm token, if the attempt is
    /// pending; false if it is not (used, or unknown).
    pub(crate) async fn prove_attempt(
        &self,
        id_hash: &str,
        account: &str,
        confirm_csrf: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE attempts SET proven_account = ?, confirm_csrf = ? WHERE id_hash = ? \
             AND used_at IS NULL",
        )
        .bind(account)
        .bind(confirm_csrf)
        .bind(id_hash)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(done == 1)
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
