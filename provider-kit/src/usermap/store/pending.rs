//! Pending connections in the store: one row per gateway user whose connection waits on the
//! provider, with what the user is told and whether the gateway has been told.

use super::{MappingStore, StoreError, StoreResult};
use crate::protocol::ReportedState;
use crate::usermap::model::PendingConnection;

type PendingRow = (String, String, String, Option<String>, i64, i64, bool);

fn state_name(state: ReportedState) -> &'static str {
    match state {
        ReportedState::Ok => "ok",
        ReportedState::PendingAccountLinking => "pendingAccountLinking",
        ReportedState::PendingAdditionalValidation => "pendingAdditionalValidation",
    }
}

fn pending(row: PendingRow) -> StoreResult<PendingConnection> {
    let (gateway_username, state, comment, comment_url, since, next_retry_at, reported) = row;
    let state = match state.as_str() {
        "pendingAccountLinking" => ReportedState::PendingAccountLinking,
        "pendingAdditionalValidation" => ReportedState::PendingAdditionalValidation,
        _ => return Err(StoreError::Corrupt("pending state")),
    };
    Ok(PendingConnection {
        gateway_username,
        state,
        comment,
        comment_url,
        since,
        next_retry_at,
        reported,
    })
}

const BY_USER: &str = "SELECT gateway_username, state, comment, comment_url, since, \
     next_retry_at, reported FROM pending WHERE gateway_username = ?";
const DUE: &str = "SELECT gateway_username, state, comment, comment_url, since, next_retry_at, \
     reported FROM pending WHERE next_retry_at <= ? ORDER BY next_retry_at";

impl MappingStore {
    /// The pending connection of `gateway_username`, if any.
    pub async fn pending(&self, gateway_username: &str) -> StoreResult<Option<PendingConnection>> {
        let row: Option<PendingRow> = sqlx::query_as(BY_USER)
            .bind(gateway_username)
            .fetch_optional(self.pool())
            .await?;
        row.map(pending).transpose()
    }

    /// Every pending connection due at `now`.
    pub async fn pending_due(&self, now: i64) -> StoreResult<Vec<PendingConnection>> {
        let rows: Vec<PendingRow> = sqlx::query_as(DUE).bind(now).fetch_all(self.pool()).await?;
        rows.into_iter().map(pending).collect()
    }

    /// Sets the pending state of a user; `true` when it is a transition (new, or another state,
    /// comment or URL), which is then marked unreported.
    pub(crate) async fn upsert_pending(&self, entry: &PendingConnection) -> StoreResult<bool> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let old: Option<PendingRow> = sqlx::query_as(BY_USER)
            .bind(&entry.gateway_username)
            .fetch_optional(&mut *tx)
            .await?;
        let old = old.map(pending).transpose()?;
        let changed = old.as_ref().is_none_or(|old| {
            (old.state, &old.comment, &old.comment_url)
                != (entry.state, &entry.comment, &entry.comment_url)
        });
        let since = match &old {
            Some(old) if !changed => old.since,
            _ => entry.since,
        };
        let reported = !changed && old.as_ref().is_some_and(|o| o.reported);
        sqlx::query(
            "INSERT INTO pending (gateway_username, state, comment, comment_url, since, next_retry_at, reported) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (gateway_username) DO UPDATE SET \
             state = excluded.state, comment = excluded.comment, comment_url = excluded.comment_url, \
             since = excluded.since, next_retry_at = excluded.next_retry_at, reported = excluded.reported",
        )
        .bind(&entry.gateway_username)
        .bind(state_name(entry.state))
        .bind(&entry.comment)
        .bind(&entry.comment_url)
        .bind(since)
        .bind(entry.next_retry_at)
        .bind(reported)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(changed)
    }

    pub(crate) async fn mark_pending_reported(&self, gateway_username: &str) -> StoreResult<()> {
        sqlx::query("UPDATE pending SET reported = 1 WHERE gateway_username = ?")
            .bind(gateway_username)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub(crate) async fn delete_pending(&self, gateway_username: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM pending WHERE gateway_username = ?")
            .bind(gateway_username)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
