//! Account merge (SPEC §8) in one transaction: OLD's identities, connections, wallets (balances
//! added per provider) and project memberships move to NEW; OLD's passwords, sessions and API
//! tokens are revoked and OLD is disabled; the `usermap/rename` calls owed to providers are queued
//! (`pending_renames`) and the audit row written, all or nothing. Refusals change nothing.

use super::audit::insert_audit;
use super::{Store, StoreResult, with_pool};
use crate::model::{AuditEvent, User};

/// What a merge would do, checked inside the transaction that does it.
pub struct MergePlan<'a> {
    pub from: &'a User,
    pub into: &'a User,
    pub now: i64,
}

/// Why a merge did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeRefusal {
    /// Both accounts have a live connection to these providers.
    BothConnected(Vec<String>),
    /// The account merged into is disabled.
    IntoDisabled,
    /// The account merged from is disabled already (perhaps merged before).
    FromDisabled,
}

/// What a merge moved and revoked.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Merged {
    pub identities: u64,
    /// Providers whose connection moved.
    pub connections: Vec<String>,
    /// Providers whose wallet moved or was added to NEW's.
    pub wallets: Vec<String>,
    /// Projects whose membership moved.
    pub projects: Vec<String>,
    pub sessions_revoked: u64,
    pub api_tokens_revoked: u64,
    pub password_revoked: bool,
    /// Renames queued for providers, in order.
    #[serde(skip)]
    pub renames: Vec<PendingRename>,
}

/// A `usermap/rename` owed to a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRename {
    pub id: String,
    pub provider_id: String,
    pub from_username: String,
    pub to_username: String,
    pub attempts: i64,
}

fn rank(role: &str) -> u8 {
    match role {
        "PI" => 3,
        "ADMIN" => 2,
        _ => 1,
    }
}

impl Store {
    /// Merges `plan.from` into `plan.into`; `Ok(Err(refusal))` changed nothing. `audit` makes the
    /// audit row from what was merged; it is written in the same transaction.
    pub async fn merge_users(
        &self,
        plan: &MergePlan<'_>,
        audit: impl FnOnce(&Merged) -> AuditEvent,
    ) -> StoreResult<Result<Merged, MergeRefusal>> {
        let (from, into, now) = (plan.from.id, plan.into.id, plan.now);
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // Lock both rows (PostgreSQL) / take the write lock (SQLite) before reading anything.
            sqlx::query("UPDATE users SET username = username WHERE id = $1 OR id = $2")
                .bind(from)
                .bind(into)
                .execute(&mut *tx)
                .await?;
            let states: Vec<(i64, String)> = sqlx::query_as(
                "SELECT user_id, status FROM account_states WHERE user_id = $1 OR user_id = $2")
                .bind(from)
                .bind(into)
                .fetch_all(&mut *tx)
                .await?;
            for (user, status) in &states {
                if status == "disabled" {
                    return Ok(Err(if *user == into { MergeRefusal::IntoDisabled } else { MergeRefusal::FromDisabled }));
                }
            }
            let both: Vec<(String,)> = sqlx::query_as(
                "SELECT a.provider_id FROM connections a JOIN connections b ON a.provider_id = b.provider_id \
                 WHERE a.user_id = $1 AND b.user_id = $2 AND a.state <> 'disconnected' AND b.state <> 'disconnected' \
                 ORDER BY a.provider_id")
                .bind(from)
                .bind(into)
                .fetch_all(&mut *tx)
                .await?;
            if !both.is_empty() {
                return Ok(Err(MergeRefusal::BothConnected(both.into_iter().map(|(p,)| p).collect())));
            }
            // An ended connection gives way to a live one of the same provider.
            for (gone, kept) in [(from, into), (into, from)] {
                sqlx::query(
                    "DELETE FROM connections WHERE user_id = $1 AND state = 'disconnected' \
                     AND provider_id IN (SELECT provider_id FROM connections WHERE user_id = $2)")
                    .bind(gone)
                    .bind(kept)
                    .execute(&mut *tx)
                    .await?;
            }
            let moved: Vec<(String, String)> = sqlx::query_as(
                "SELECT provider_id, state FROM connections WHERE user_id = $1 ORDER BY provider_id")
                .bind(from)
                .fetch_all(&mut *tx)
                .await?;
            sqlx::query("UPDATE connections SET user_id = $2, updated_at = $3 WHERE user_id = $1")
                .bind(from)
                .bind(into)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM brokered_users WHERE user_id = $1")
                .bind(from)
                .execute(&mut *tx)
                .await?;
            let identities = sqlx::query("UPDATE identities SET user_id = $2 WHERE user_id = $1")
                .bind(from)
                .bind(into)
                .execute(&mut *tx)
                .await?
                .rows_affected();

            // Wallets: a provider where both have one adds OLD's balance to NEW's.
            let wallets: Vec<(String,)> = sqlx::query_as(
                "SELECT provider_id FROM wallets WHERE owner_user = $1 ORDER BY provider_id")
                .bind(from)
                .fetch_all(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE wallets SET balance = balance + (SELECT o.balance FROM wallets o \
                 WHERE o.owner_user = $1 AND o.provider_id = wallets.provider_id), updated_at = $3 \
                 WHERE owner_user = $2 AND provider_id IN (SELECT provider_id FROM wallets WHERE owner_user = $1)")
                .bind(from)
                .bind(into)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "DELETE FROM wallets WHERE owner_user = $1 \
                 AND provider_id IN (SELECT provider_id FROM wallets WHERE owner_user = $2)")
                .bind(from)
                .bind(into)
                .execute(&mut *tx)
                .await?;
            let (old_key, new_key) = (format!("user:{from}"), format!("user:{into}"));
            sqlx::query("UPDATE wallets SET owner_user = $2, owner_key = $3, updated_at = $4 WHERE owner_user = $1")
                .bind(from)
                .bind(into)
                .bind(&new_key)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            // The charges' history follows the wallet.
            sqlx::query("UPDATE charges SET owner_key = $2 WHERE owner_key = $1")
                .bind(&old_key)
                .bind(&new_key)
                .execute(&mut *tx)
                .await?;

            // Project memberships: where both are members, NEW keeps the stronger role.
            let old_roles: Vec<(String, String)> = sqlx::query_as(
                "SELECT project_id, role FROM project_members WHERE user_id = $1 ORDER BY project_id")
                .bind(from)
                .fetch_all(&mut *tx)
                .await?;
            for (project, role) in &old_roles {
                let current: Option<(String,)> = sqlx::query_as(
                    "SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2")
                    .bind(project)
                    .bind(into)
                    .fetch_optional(&mut *tx)
                    .await?;
                match current {
                    None => {
                        sqlx::query("UPDATE project_members SET user_id = $3 WHERE project_id = $1 AND user_id = $2")
                            .bind(project)
                            .bind(from)
                            .bind(into)
                            .execute(&mut *tx)
                            .await?;
                    }
                    Some((kept,)) => {
                        if rank(role) > rank(&kept) {
                            sqlx::query("UPDATE project_members SET role = $3 WHERE project_id = $1 AND user_id = $2")
                                .bind(project)
                                .bind(into)
                                .bind(role)
                                .execute(&mut *tx)
                                .await?;
                        }
                        sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2")
                            .bind(project)
                            .bind(from)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            }

            // Credentials are revoked, never moved.
            let sessions_revoked = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(from)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let api_tokens_revoked = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1")
                .bind(from)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let password_revoked = sqlx::query(
                "UPDATE users SET password_hash = NULL WHERE id = $1 AND password_hash IS NOT NULL")
                .bind(from)
                .execute(&mut *tx)
                .await?
                .rows_affected() == 1;
            for sql in [
                "DELETE FROM invitations WHERE user_id = $1",
                "DELETE FROM oidc_attempts WHERE link_user = $1",
            ] {
                sqlx::query(sql).bind(from).execute(&mut *tx).await?;
            }
            sqlx::query(
                "INSERT INTO account_states (user_id, status, suspended_until, expires_at, updated_at) \
                 VALUES ($1, 'disabled', NULL, NULL, $2) \
                 ON CONFLICT (user_id) DO UPDATE SET status = excluded.status, \
                 suspended_until = NULL, updated_at = excluded.updated_at")
                .bind(from)
                .bind(now)
                .execute(&mut *tx)
                .await?;

            let mut renames = Vec::new();
            for (provider, state) in &moved {
                if state == "disconnected" {
                    continue;
                }
                let rename = PendingRename {
                    id: crate::secrets::random_id(),
                    provider_id: provider.clone(),
                    from_username: plan.from.username.clone(),
                    to_username: plan.into.username.clone(),
                    attempts: 0,
                };
                sqlx::query(
                    "INSERT INTO pending_renames (id, provider_id, from_username, to_username, created_at, attempts, next_attempt_at, last_error) \
                     VALUES ($1, $2, $3, $4, $5, 0, $5, NULL)")
                    .bind(&rename.id)
                    .bind(&rename.provider_id)
                    .bind(&rename.from_username)
                    .bind(&rename.to_username)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                renames.push(rename);
            }
            let merged = Merged {
                identities,
                connections: moved.into_iter().map(|(p, _)| p).collect(),
                wallets: wallets.into_iter().map(|(p,)| p).collect(),
                projects: old_roles.into_iter().map(|(p, _)| p).collect(),
                sessions_revoked,
                api_tokens_revoked,
                password_revoked,
                renames,
            };
            insert_audit!(&mut *tx, &audit(&merged));
            tx.commit().await?;
            Ok(Ok(merged))
        })
    }

    /// Renames due at `now`, oldest first (a provider gets them in the order of the merges).
    pub async fn due_renames(&self, now: i64, limit: i64) -> StoreResult<Vec<PendingRename>> {
        let rows: Vec<(String, String, String, String, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, provider_id, from_username, to_username, attempts FROM pending_renames \
             WHERE next_attempt_at <= $1 ORDER BY created_at, id LIMIT $2")
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(
                |(id, provider_id, from_username, to_username, attempts)| PendingRename {
                    id,
                    provider_id,
                    from_username,
                    to_username,
                    attempts,
                },
            )
            .collect())
    }

    /// Every rename still owed, for operators and tests.
    pub async fn pending_renames(&self) -> StoreResult<Vec<PendingRename>> {
        self.due_renames(i64::MAX, 10_000).await
    }

    /// Takes the rename `id` for sending until `until` if it is still due at `now`: one sender at
    /// a time, whichever process or replica runs the round.
    pub async fn claim_rename(&self, id: &str, now: i64, until: i64) -> StoreResult<bool> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE pending_renames SET next_attempt_at = $3 WHERE id = $1 AND next_attempt_at <= $2")
            .bind(id)
            .bind(now)
            .bind(until)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    pub async fn rename_delivered(&self, id: &str) -> StoreResult<()> {
        with_pool!(self, pool => sqlx::query("DELETE FROM pending_renames WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ())?);
        Ok(())
    }

    pub async fn rename_failed(
        &self,
        id: &str,
        next_attempt_at: i64,
        error: &str,
    ) -> StoreResult<()> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE pending_renames SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 WHERE id = $1")
            .bind(id)
            .bind(next_attempt_at)
            .bind(error)
            .execute(pool)
            .await
            .map(|_| ())?);
        Ok(())
    }
}
