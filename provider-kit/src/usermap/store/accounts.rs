//! Local accounts and mappings in the store: the steps of one write transaction (`AccountTx`) that
//! the account and flow code combine, and the few reads that need no transaction.

use sqlx::{Sqlite, Transaction};

use super::{MappingStore, StoreError, StoreResult, conflict, id};
use crate::usermap::model::{LocalAccount, Mapping};

/// Which id a range hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Uid,
    Gid,
}

impl std::fmt::Display for IdKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Uid => "uid",
            Self::Gid => "gid",
        })
    }
}

/// Ids no account gets whatever the range says: `nobody`/`nogroup` and the 16- and 32-bit `-1`.
pub(crate) const NEVER_HANDED_OUT: [i64; 4] = [65_534, 65_535, 4_294_967_294, 4_294_967_295];

/// An account to insert; ids come from `AccountTx::allocate_id`.
#[derive(Debug, Clone, Copy)]
pub struct NewAccount<'a> {
    pub name: &'a str,
    pub uid: u32,
    pub gid: u32,
    pub home: &'a str,
    pub shell: &'a str,
    pub gecos: &'a str,
    pub created_for: Option<&'a str>,
    pub created_at: i64,
    /// Whether the account gets its own primary group named like it (the LDAP backend makes it);
    /// `false` when every account shares the configured `primary_group`.
    pub own_group: bool,
}

impl<'a> NewAccount<'a> {
    /// The row recording `account`, which exists in a backend already.
    pub fn mirror_of(account: &'a LocalAccount) -> Self {
        Self {
            name: &account.name,
            uid: account.uid,
            gid: account.gid,
            home: &account.home,
            shell: &account.shell,
            gecos: &account.gecos,
            created_for: account.created_for.as_deref(),
            created_at: account.created_at,
            own_group: false,
        }
    }
}

type AccountRow = (
    String,
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    i64,
);
/// A mapping's own columns, then the account's in `AccountRow` order.
type MappingRow = (
    String,
    i64,
    Option<i64>,
    String,
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    i64,
);

const ACCOUNTS_BY_NAME: &str = "SELECT name, uid, gid, home, shell, gecos, created_for, created_at \
     FROM local_accounts WHERE name = ?";
const ACCOUNTS_BY_CREATOR: &str = "SELECT name, uid, gid, home, shell, gecos, created_for, created_at \
     FROM local_accounts WHERE created_for = ?";
const ACCOUNTS_BY_UID: &str = "SELECT name, uid, gid, home, shell, gecos, created_for, created_at \
     FROM local_accounts ORDER BY uid";

fn account(row: AccountRow) -> StoreResult<LocalAccount> {
    let (name, uid, gid, home, shell, gecos, created_for, created_at) = row;
    Ok(LocalAccount {
        name,
        uid: id(uid)?,
        gid: id(gid)?,
        home,
        shell,
        gecos,
        created_for,
        created_at,
    })
}

fn mapping(row: MappingRow) -> StoreResult<Mapping> {
    let (
        gateway_username,
        created_at,
        reported_at,
        name,
        uid,
        gid,
        home,
        shell,
        gecos,
        created_for,
        account_created,
    ) = row;
    Ok(Mapping {
        gateway_username,
        created_at,
        reported_at,
        account: account((
            name,
            uid,
            gid,
            home,
            shell,
            gecos,
            created_for,
            account_created,
        ))?,
    })
}

const MAPPING_BY_USER: &str = "SELECT m.gateway_username, m.created_at, m.reported_at, a.name, a.uid, \
     a.gid, a.home, a.shell, a.gecos, a.created_for, a.created_at FROM mappings m \
     JOIN local_accounts a ON a.name = m.local_account WHERE m.gateway_username = ?";

const MAPPINGS_ALL: &str = "SELECT m.gateway_username, m.created_at, m.reported_at, a.name, a.uid, \
     a.gid, a.home, a.shell, a.gecos, a.created_for, a.created_at FROM mappings m \
     JOIN local_accounts a ON a.name = m.local_account ORDER BY m.gateway_username";

/// One write transaction; dropped without `commit`, it rolls back.
pub struct AccountTx {
    tx: Transaction<'static, Sqlite>,
}

impl AccountTx {
    pub(super) fn new(tx: Transaction<'static, Sqlite>) -> Self {
        Self { tx }
    }

    pub(super) fn conn(&mut self) -> &mut sqlx::SqliteConnection {
        &mut self.tx
    }

    pub(crate) async fn commit(self) -> StoreResult<()> {
        Ok(self.tx.commit().await?)
    }

    /// The mapping of `gateway_username`, if any.
    pub(crate) async fn mapping(&mut self, gateway_username: &str) -> StoreResult<Option<Mapping>> {
        let row: Option<MappingRow> = sqlx::query_as(MAPPING_BY_USER)
            .bind(gateway_username)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(mapping).transpose()
    }

    pub(crate) async fn account(&mut self, name: &str) -> StoreResult<Option<LocalAccount>> {
        let row: Option<AccountRow> = sqlx::query_as(ACCOUNTS_BY_NAME)
            .bind(name)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(account).transpose()
    }

    /// The automatic account once made for `gateway_username`, mapped or not.
    pub(crate) async fn account_created_for(
        &mut self,
        gateway_username: &str,
    ) -> StoreResult<Option<LocalAccount>> {
        let row: Option<AccountRow> = sqlx::query_as(ACCOUNTS_BY_CREATOR)
            .bind(gateway_username)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(account).transpose()
    }

    /// The gateway user `account` is mapped to, if any.
    pub(crate) async fn mapped_to(&mut self, account: &str) -> StoreResult<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT gateway_username FROM mappings WHERE local_account = ?")
                .bind(account)
                .fetch_optional(&mut *self.tx)
                .await?;
        Ok(row.map(|(username,)| username))
    }

    /// The next value of counter `name` (starting at `start`), which is then never returned again.
    pub(crate) async fn next_counter(
        &mut self,
        name: &'static str,
        start: i64,
    ) -> StoreResult<i64> {
        let (value,): (i64,) = sqlx::query_as(
            "INSERT INTO counters (name, value) VALUES (?1, ?2 + 1) \
             ON CONFLICT (name) DO UPDATE SET value = max(value, ?2) + 1 RETURNING value - 1",
        )
        .bind(name)
        .bind(start)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(value)
    }

    /// The lowest id of `min..=max` that was never handed out: the counter only moves forward, so an
    /// id whose account was deleted is not given to anyone else; nor is one the quarantine ledger
    /// holds at `now` (an account linked by name may have brought it in).
    pub(crate) async fn allocate_id(
        &mut self,
        kind: IdKind,
        min: u32,
        max: u32,
        now: i64,
    ) -> StoreResult<u32> {
        let (counter, used_query) = match kind {
            IdKind::Uid => ("uid", "SELECT 1 FROM local_accounts WHERE uid = ?"),
            IdKind::Gid => ("gid", "SELECT 1 FROM local_accounts WHERE gid = ?"),
        };
        let exhausted = StoreError::RangeExhausted { kind, min, max };
        loop {
            let candidate = self.next_counter(counter, i64::from(min.max(1))).await?;
            if candidate > i64::from(max) {
                return Err(exhausted);
            }
            if NEVER_HANDED_OUT.contains(&candidate) {
                continue;
            }
            let used: Option<(i64,)> = sqlx::query_as(used_query)
                .bind(candidate)
                .fetch_optional(&mut *self.tx)
                .await?;
            if used.is_none() && !self.id_held(kind, candidate, now).await? {
                return id(candidate);
            }
        }
    }

    /// Inserts `new`; `false` when its name is taken (the caller tries its next name). A taken uid
    /// or gid is an error: `allocate_id` never hands one out.
    pub(crate) async fn insert_account(&mut self, new: NewAccount<'_>) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO local_accounts (name, uid, gid, home, shell, gecos, created_for, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(new.name)
        .bind(i64::from(new.uid))
        .bind(i64::from(new.gid))
        .bind(new.home)
        .bind(new.shell)
        .bind(new.gecos)
        .bind(new.created_for)
        .bind(new.created_at)
        .execute(&mut *self.tx)
        .await
        .map_err(conflict("uid, gid or creator of the account"))?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn insert_mapping(
        &mut self,
        gateway_username: &str,
        account: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO mappings (gateway_username, local_account, created_at) VALUES (?, ?, ?)",
        )
        .bind(gateway_username)
        .bind(account)
        .bind(now)
        .execute(&mut *self.tx)
        .await
        .map_err(conflict("mapping"))?;
        Ok(())
    }

    /// Removes the mapping of `gateway_username`; `false` when there was none.
    pub(crate) async fn delete_mapping(&mut self, gateway_username: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM mappings WHERE gateway_username = ?")
            .bind(gateway_username)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl MappingStore {
    /// The mapping of `gateway_username`, if any.
    pub async fn mapping(&self, gateway_username: &str) -> StoreResult<Option<Mapping>> {
        let mut tx = AccountTx::new(self.pool().begin().await?);
        tx.mapping(gateway_username).await
    }

    /// Every local account, by uid: what `accounts export` writes.
    pub async fn accounts(&self) -> StoreResult<Vec<LocalAccount>> {
        let rows: Vec<AccountRow> = sqlx::query_as(ACCOUNTS_BY_UID)
            .fetch_all(self.pool())
            .await?;
        rows.into_iter().map(account).collect()
    }

    /// Every mapping, by gateway username.
    pub async fn mappings(&self) -> StoreResult<Vec<Mapping>> {
        let rows: Vec<MappingRow> = sqlx::query_as(MAPPINGS_ALL).fetch_all(self.pool()).await?;
        rows.into_iter().map(mapping).collect()
    }

    /// Records that the gateway accepted the report of `gateway_username`'s mapping.
    pub async fn mark_reported(&self, gateway_username: &str, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE mappings SET reported_at = ? WHERE gateway_username = ?")
            .bind(now)
            .bind(gateway_username)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
