//! Account lifecycle state (suspended, disabled, membership end). A user without a row is active.
//! Status changes are compare-and-set on the status read before, so concurrent admin actions on
//! one account cannot silently overwrite each other.

use super::audit::insert_audit;
use super::{Store, StoreError, StoreResult, with_pool};
use crate::model::{AccountStateRecord, AccountStatus, AuditEvent};

/// Sets status and suspension end if the stored status is still `$5` (a missing row is `active`).
const TRANSITION: &str = "INSERT INTO account_states (user_id, status, suspended_until, expires_at, updated_at) \
     VALUES ($1, $2, $3, NULL, $4) \
     ON CONFLICT (user_id) DO UPDATE SET status = excluded.status, \
     suspended_until = excluded.suspended_until, updated_at = excluded.updated_at \
     WHERE account_states.status = $5";

impl Store {
    pub async fn account_state(&self, user_id: i64) -> StoreResult<Option<AccountStateRecord>> {
        let row: Option<(String, Option<i64>, Option<i64>, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT status, suspended_until, expires_at, updated_at FROM account_states WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await?);
        row.map(|(status, suspended_until, expires_at, updated_at)| {
            let status = AccountStatus::parse(&status).ok_or_else(|| {
                StoreError::Corrupt(format!("account of user {user_id}: status {status}"))
            })?;
            Ok(AccountStateRecord {
                status,
                suspended_until,
                expires_at,
                updated_at,
            })
        })
        .transpose()
    }

    /// Moves the account from `from` to `to`; false (nothing changed) if it was no longer `from`.
    pub async fn transition_account(
        &self,
        user_id: i64,
        from: AccountStatus,
        to: AccountStatus,
        suspended_until: Option<i64>,
        now: i64,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(TRANSITION)
                .bind(user_id)
                .bind(to.as_str())
                .bind(suspended_until)
                .bind(now)
                .bind(from.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            insert_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Disables the account and deletes all its sessions and API tokens in one transaction.
    /// Returns how many sessions and tokens went, or `None` if the status was no longer `from`.
    pub async fn disable_account(
        &self,
        user_id: i64,
        from: AccountStatus,
        now: i64,
        audit: impl FnOnce(u64, u64) -> AuditEvent,
    ) -> StoreResult<Option<(u64, u64)>> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(TRANSITION)
                .bind(user_id)
                .bind(AccountStatus::Disabled.as_str())
                .bind(None::<i64>)
                .bind(now)
                .bind(from.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Ok(None);
            }
            let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let tokens = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            insert_audit!(&mut *tx, &audit(sessions, tokens));
            tx.commit().await?;
            Ok(Some((sessions, tokens)))
        })
    }

    /// Sets (or with `None`, clears) the end of the user's membership.
    pub async fn set_account_expiry(
        &self,
        user_id: i64,
        expires_at: Option<i64>,
        now: i64,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO account_states (user_id, status, suspended_until, expires_at, updated_at) \
                 VALUES ($1, 'active', NULL, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET expires_at = excluded.expires_at, updated_at = excluded.updated_at")
                .bind(user_id)
                .bind(expires_at)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            insert_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
}
