//! Acceptances of the gateway's agreements and of providers' terms (SPEC §9). An acceptance and its
//! audit event commit together; accepting a version twice keeps the first record.

use super::audit::insert_audit;
use super::{Store, StoreResult, with_pool};
use crate::model::AuditEvent;

/// One recorded acceptance: `kind` is `gateway` or `provider`, `subject` the agreement's or the
/// provider's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptanceRow {
    pub username: String,
    pub kind: String,
    pub subject: String,
    pub version: String,
    pub accepted_at: i64,
}

type Row = (String, String, String, String, i64);

fn row((username, kind, subject, version, accepted_at): Row) -> AcceptanceRow {
    AcceptanceRow {
        username,
        kind,
        subject,
        version,
        accepted_at,
    }
}

const COLUMNS: &str = "SELECT u.username, a.kind, a.subject, a.version, a.accepted_at \
     FROM agreement_acceptances a JOIN users u ON u.id = a.user_id";

impl Store {
    /// Records the acceptance unless this version was accepted before; true when it is new (then
    /// `audit` is written with it).
    pub async fn insert_acceptance(
        &self,
        user_id: i64,
        kind: &str,
        subject: &str,
        version: &str,
        at: i64,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO agreement_acceptances (user_id, kind, subject, version, accepted_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, kind, subject, version) DO NOTHING")
                .bind(user_id)
                .bind(kind)
                .bind(subject)
                .bind(version)
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected() == 1;
            if inserted {
                insert_audit!(&mut *tx, audit);
            }
            tx.commit().await?;
            Ok(inserted)
        })
    }

    /// The user's acceptances, oldest first.
    pub async fn acceptances_of(&self, user_id: i64) -> StoreResult<Vec<AcceptanceRow>> {
        let sql = format!("{COLUMNS} WHERE a.user_id = $1 ORDER BY a.accepted_at, a.id");
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(row).collect())
    }

    /// Every acceptance, newest first, at most `limit`.
    pub async fn all_acceptances(&self, limit: i64) -> StoreResult<Vec<AcceptanceRow>> {
        let sql = format!("{COLUMNS} ORDER BY a.accepted_at DESC, a.id DESC LIMIT $1");
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(row).collect())
    }

    /// `gateway users set-assurance`: what a local account carries (SPEC §9).
    pub async fn set_assurance(
        &self,
        user_id: i64,
        assurance: &[String],
        two_factor: Option<bool>,
    ) -> StoreResult<bool> {
        let json = serde_json::to_string(assurance).unwrap_or_else(|_| "[]".into());
        let done = with_pool!(self, pool => sqlx::query(
            "UPDATE users SET assurance = $1, two_factor = COALESCE($2, two_factor) WHERE id = $3")
            .bind(&json)
            .bind(two_factor)
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }
}

impl Store {
    /// Fills in a missing email (an `invalid` local account completing itself); false when the
    /// account already has one.
    pub async fn complete_email(&self, user_id: i64, email: &str) -> StoreResult<bool> {
        let done = with_pool!(self, pool => sqlx::query(
            "UPDATE users SET email = $1 WHERE id = $2 AND email = ''")
            .bind(email)
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }
}
