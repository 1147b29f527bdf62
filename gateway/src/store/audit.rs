//! The audit log's table. Other store files write their event inside their own transaction with
//! `insert_audit!`, so a change and its audit row commit (or fail) together.

use super::{Store, StoreResult, with_pool};
use crate::model::{AuditEntry, AuditEvent};

pub(super) const INSERT_AUDIT: &str =
    "INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)";

/// Writes `$event` (an `&AuditEvent`) through `$conn` (a transaction or pool).
macro_rules! insert_audit {
    ($conn:expr, $event:expr) => {{
        let event: &$crate::model::AuditEvent = $event;
        sqlx::query($crate::store::audit::INSERT_AUDIT)
            .bind(event.at)
            .bind(&event.actor)
            .bind(&event.action)
            .bind(&event.target)
            .bind(&event.detail)
            .execute($conn)
            .await?;
    }};
}
pub(super) use insert_audit;

type AuditRow = (i64, i64, String, String, String, String);

impl Store {
    pub async fn insert_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        with_pool!(self, pool => insert_audit!(pool, event));
        Ok(())
    }

    /// Newest first; `before` pages back from an entry id.
    pub async fn list_audit(
        &self,
        limit: i64,
        before: Option<i64>,
    ) -> StoreResult<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, at, actor, action, target, detail FROM audit_log \
             WHERE id < $1 ORDER BY id DESC LIMIT $2")
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(id, at, actor, action, target, detail)| AuditEntry {
                id,
                event: AuditEvent {
                    at,
                    actor,
                    action,
                    target,
                    detail,
                },
            })
            .collect())
    }
}
