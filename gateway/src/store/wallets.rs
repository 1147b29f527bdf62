//! Wallets and charges (SPEC §5). A charge is one transaction that begins with its write: the charge
//! row is inserted first (`ON CONFLICT DO NOTHING` makes a repeated `chargeId` a no-op), then the
//! wallet row is locked and debited only if it holds enough. SQLite thus takes its write lock at the
//! first statement (never upgrading a stale read snapshot), and PostgreSQL makes a concurrent insert
//! of the same `chargeId` wait for the first one to commit.

use super::audit::insert_audit;
use super::{Store, StoreError, StoreResult, with_pool};
use crate::model::{
    AuditEvent, ChargeOutcome, ChargeRecord, ChargeResult, NewCharge, Owner, Wallet,
};

type WalletRow = (
    Option<i64>,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
);

const WALLET_SELECT: &str = "SELECT w.owner_user, u.username, w.owner_project, w.provider_id, \
     w.balance, w.updated_at FROM wallets w LEFT JOIN users u ON u.id = w.owner_user";

fn wallet(row: WalletRow) -> StoreResult<Wallet> {
    let (owner_user, username, owner_project, provider, balance, updated_at) = row;
    let owner = match (owner_user, username, owner_project) {
        (Some(id), Some(username), None) => Owner::User { id, username },
        (None, _, Some(id)) => Owner::Project { id },
        _ => {
            return Err(StoreError::Corrupt(format!(
                "a wallet of {provider} has no single owner"
            )));
        }
    };
    Ok(Wallet {
        owner,
        provider,
        balance,
        updated_at,
    })
}

fn owner_columns(owner: &Owner) -> (Option<i64>, Option<&str>) {
    match owner {
        Owner::User { id, .. } => (Some(*id), None),
        Owner::Project { id } => (None, Some(id.as_str())),
    }
}

/// (owner_key, units, description, outcome, balance) of a recorded charge.
type FirstAnswerRow = (String, i64, String, String, i64);

fn repeated(charge: &NewCharge, key: &str, first: FirstAnswerRow) -> StoreResult<ChargeResult> {
    let (owner_key, units, description, outcome, balance) = first;
    if owner_key != key || units != charge.units || description != charge.description {
        return Ok(ChargeResult::Mismatch);
    }
    ChargeOutcome::parse(&outcome, balance)
        .map(ChargeResult::Duplicate)
        .ok_or_else(|| {
            StoreError::Corrupt(format!(
                "charge {:?} has outcome {outcome}",
                charge.charge_id
            ))
        })
}

impl Store {
    /// Adds `units` to the owner's wallet at `provider`, creating it. `None` (and nothing changed)
    /// when the balance would pass `max_balance`. `audit` gets the new balance.
    pub async fn grant(
        &self,
        owner: &Owner,
        provider: &str,
        units: i64,
        max_balance: i64,
        now: i64,
        audit: impl FnOnce(i64) -> AuditEvent,
    ) -> StoreResult<Option<i64>> {
        let (user, project) = owner_columns(owner);
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let balance: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO wallets (provider_id, owner_key, owner_user, owner_project, balance, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 ON CONFLICT (provider_id, owner_key) DO UPDATE \
                 SET balance = wallets.balance + excluded.balance, updated_at = excluded.updated_at \
                 WHERE wallets.balance <= $7 - excluded.balance \
                 RETURNING balance")
                .bind(provider)
                .bind(owner.key())
                .bind(user)
                .bind(project)
                .bind(units)
                .bind(now)
                .bind(max_balance)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((balance,)) = balance else {
                return Ok(None);
            };
            insert_audit!(&mut *tx, &audit(balance));
            tx.commit().await?;
            Ok(Some(balance))
        })
    }

    /// Records and applies a charge exactly once per (provider, chargeId); see the module comment.
    pub async fn charge(&self, charge: &NewCharge) -> StoreResult<ChargeResult> {
        let key = charge.owner.key();
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO charges (provider_id, charge_id, owner_key, units, description, outcome, balance, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6) ON CONFLICT (provider_id, charge_id) DO NOTHING")
                .bind(&charge.provider)
                .bind(&charge.charge_id)
                .bind(&key)
                .bind(charge.units)
                .bind(&charge.description)
                .bind(charge.at)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if !inserted {
                let first: FirstAnswerRow = sqlx::query_as(
                    "SELECT owner_key, units, description, outcome, balance FROM charges \
                     WHERE provider_id = $1 AND charge_id = $2")
                    .bind(&charge.provider)
                    .bind(&charge.charge_id)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.rollback().await?;
                return repeated(charge, &key, first);
            }
            // A no-op write locks the wallet row, so the balance read here is the one we decide on.
            let held: Option<(i64,)> = sqlx::query_as(
                "UPDATE wallets SET balance = balance WHERE provider_id = $1 AND owner_key = $2 RETURNING balance")
                .bind(&charge.provider)
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await?;
            let held = held.map_or(0, |(b,)| b);
            let outcome = if held >= charge.units {
                let (balance,): (i64,) = sqlx::query_as(
                    "UPDATE wallets SET balance = balance - $1, updated_at = $2 \
                     WHERE provider_id = $3 AND owner_key = $4 AND balance >= $1 RETURNING balance")
                    .bind(charge.units)
                    .bind(charge.at)
                    .bind(&charge.provider)
                    .bind(&key)
                    .fetch_one(&mut *tx)
                    .await?;
                ChargeOutcome::Accepted { balance }
            } else {
                ChargeOutcome::Insufficient { balance: held }
            };
            sqlx::query("UPDATE charges SET outcome = $1, balance = $2 WHERE provider_id = $3 AND charge_id = $4")
                .bind(outcome.as_str())
                .bind(outcome.balance())
                .bind(&charge.provider)
                .bind(&charge.charge_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(ChargeResult::First(outcome))
        })
    }

    pub async fn wallet(&self, owner: &Owner, provider: &str) -> StoreResult<Option<Wallet>> {
        let sql = format!("{WALLET_SELECT} WHERE w.owner_key = $1 AND w.provider_id = $2");
        let row: Option<WalletRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(owner.key())
            .bind(provider)
            .fetch_optional(pool)
            .await?);
        row.map(wallet).transpose()
    }

    /// The user's own wallets, then those of the projects they are a member of.
    pub async fn wallets_of_user(&self, user_id: i64) -> StoreResult<Vec<Wallet>> {
        let sql = format!(
            "{WALLET_SELECT} WHERE w.owner_user = $1 \
             OR w.owner_project IN (SELECT project_id FROM project_members WHERE user_id = $1) \
             ORDER BY CASE WHEN w.owner_user IS NULL THEN 1 ELSE 0 END, w.owner_project, w.provider_id"
        );
        let rows: Vec<WalletRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(wallet).collect()
    }

    pub async fn wallets_of_owner(&self, owner: &Owner) -> StoreResult<Vec<Wallet>> {
        let sql = format!("{WALLET_SELECT} WHERE w.owner_key = $1 ORDER BY w.provider_id");
        let rows: Vec<WalletRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(owner.key())
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(wallet).collect()
    }

    /// The owner's recent charges, newest first, at one provider or all.
    pub async fn charges_of(
        &self,
        owner: &Owner,
        provider: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<ChargeRecord>> {
        type Row = (String, String, i64, String, String, i64, i64);
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(
            "SELECT charge_id, provider_id, units, description, outcome, balance, created_at FROM charges \
             WHERE owner_key = $1 AND ($2 IS NULL OR provider_id = $2) AND outcome <> 'pending' \
             ORDER BY id DESC LIMIT $3")
            .bind(owner.key())
            .bind(provider)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        rows.into_iter()
            .map(
                |(charge_id, provider, units, description, outcome, balance, at)| {
                    let outcome = ChargeOutcome::parse(&outcome, balance).ok_or_else(|| {
                        StoreError::Corrupt(format!("charge {charge_id:?} has outcome {outcome}"))
                    })?;
                    Ok(ChargeRecord {
                        charge_id,
                        provider,
                        units,
                        description,
                        outcome,
                        at,
                    })
                },
            )
            .collect()
    }
}
