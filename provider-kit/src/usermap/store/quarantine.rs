//! The quarantine ledger in the store: what a removed account leaves behind (its name, uid and
//! gid, held until a date), consulted by every path that hands out a name or an id.

use super::accounts::{AccountTx, IdKind};
use super::{MappingStore, StoreResult, id};
use crate::usermap::model::{LocalAccount, QuarantineEntry};

type EntryRow = (String, i64, i64, Option<String>, i64, i64);

fn entry(row: EntryRow) -> StoreResult<QuarantineEntry> {
    let (name, uid, gid, created_for, removed_at, until) = row;
    Ok(QuarantineEntry {
        name,
        uid: id(uid)?,
        gid: id(gid)?,
        created_for,
        removed_at,
        until,
    })
}

impl AccountTx {
    /// Removes the account row `name` (its mapping must be gone); `false` when there was none.
    pub(crate) async fn delete_account(&mut self, name: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM local_accounts WHERE name = ?")
            .bind(name)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that `account` was removed at `now` and holds its name and ids until `until`.
    pub(crate) async fn quarantine(
        &mut self,
        account: &LocalAccount,
        now: i64,
        until: i64,
    ) -> StoreResult<QuarantineEntry> {
        sqlx::query(
            "INSERT INTO quarantine (name, uid, gid, created_for, removed_at, until) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&account.name)
        .bind(i64::from(account.uid))
        .bind(i64::from(account.gid))
        .bind(&account.created_for)
        .bind(now)
        .bind(until)
        .execute(self.conn())
        .await?;
        Ok(QuarantineEntry {
            name: account.name.clone(),
            uid: account.uid,
            gid: account.gid,
            created_for: account.created_for.clone(),
            removed_at: now,
            until,
        })
    }

    /// The ledger entry holding `name` at `now`, if any.
    pub(crate) async fn name_held(
        &mut self,
        name: &str,
        now: i64,
    ) -> StoreResult<Option<QuarantineEntry>> {
        let row: Option<EntryRow> = sqlx::query_as(
            "SELECT name, uid, gid, created_for, removed_at, until FROM quarantine \
             WHERE name = ? AND until > ? ORDER BY until DESC LIMIT 1",
        )
        .bind(name)
        .bind(now)
        .fetch_optional(self.conn())
        .await?;
        row.map(entry).transpose()
    }

    /// Whether the ledger holds `value` as a uid (gid) at `now`.
    pub(crate) async fn id_held(
        &mut self,
        kind: IdKind,
        value: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let query = match kind {
            IdKind::Uid => "SELECT 1 FROM quarantine WHERE uid = ? AND until > ? LIMIT 1",
            IdKind::Gid => "SELECT 1 FROM quarantine WHERE gid = ? AND until > ? LIMIT 1",
        };
        let row: Option<(i64,)> = sqlx::query_as(query)
            .bind(value)
            .bind(now)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.is_some())
    }
}

impl AccountTx {
    /// Every uid (gid) the ledger holds at `now`.
    pub(crate) async fn held_ids(
        &mut self,
        kind: IdKind,
        now: i64,
    ) -> StoreResult<std::collections::BTreeSet<u32>> {
        let query = match kind {
            IdKind::Uid => "SELECT uid FROM quarantine WHERE until > ?",
            IdKind::Gid => "SELECT gid FROM quarantine WHERE until > ?",
        };
        let rows: Vec<(i64,)> = sqlx::query_as(query)
            .bind(now)
            .fetch_all(self.conn())
            .await?;
        rows.into_iter().map(|(value,)| id(value)).collect()
    }
}

impl MappingStore {
    /// The ledger entries still holding at `now`, soonest released first.
    pub async fn quarantine(&self, now: i64) -> StoreResult<Vec<QuarantineEntry>> {
        let rows: Vec<EntryRow> = sqlx::query_as(
            "SELECT name, uid, gid, created_for, removed_at, until FROM quarantine \
             WHERE until > ? ORDER BY until, name",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(entry).collect()
    }
}
