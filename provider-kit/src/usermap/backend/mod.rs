//! Where local accounts live: the `AccountBackend` trait and its two implementations, the mapping
//! store's own SQLite table (`SqliteBackend`, the default) and an LDAP directory (`LdapBackend`,
//! `posixAccount`/`posixGroup` entries). `Accounts` decides names and policies; a backend only
//! hands out ids nobody holds and creates an account under a name nobody holds, refusing (with
//! `false`) a name that is taken so the caller walks on to its next name.
//!
//! Every call gets the mapping store's write transaction: the SQLite backend writes in it, so an
//! account and its mapping commit together; the LDAP backend writes the directory first and then
//! records the account in the transaction (a mirror row), so mappings and `accounts export` see it.

mod ldap;
mod ldap_ids;

use std::future::Future;
use std::pin::Pin;

pub use ldap::{LdapBackend, LdapConfig};

use super::config::IdRange;
use super::model::LocalAccount;
use super::store::{AccountTx, IdKind, NewAccount, StoreError};

/// Why a backend could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The directory refused or could not be reached; the text is the directory's answer.
    #[error("LDAP {operation}: {detail}")]
    Ldap {
        operation: &'static str,
        detail: String,
    },
    /// The directory holds something this code cannot read as a POSIX account.
    #[error("LDAP entry {dn}: {detail}")]
    Entry { dn: String, detail: String },
}

pub type BackendResult<T> = Result<T, BackendError>;
pub type BackendFuture<'a, T> = Pin<Box<dyn Future<Output = BackendResult<T>> + Send + 'a>>;

/// Which backend an `accounts.backend` section chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Ldap,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Ldap => "ldap",
        }
    }
}

/// The account store behind `Accounts`.
pub trait AccountBackend: Send + Sync + 'static {
    fn kind(&self) -> BackendKind;

    /// The account named `name` if the backend holds one (made by provider-kit or not), recorded
    /// in `tx` so a mapping can point at it.
    fn find<'a>(
        &'a self,
        tx: &'a mut AccountTx,
        name: &'a str,
    ) -> BackendFuture<'a, Option<LocalAccount>>;

    /// An id of `range` that no account or group holds, that was never handed out before and
    /// that the quarantine ledger does not hold at `now` (never 0, never `nobody`), reserved so
    /// that no concurrent caller gets it too.
    fn allocate<'a>(
        &'a self,
        tx: &'a mut AccountTx,
        kind: IdKind,
        range: IdRange,
        now: i64,
    ) -> BackendFuture<'a, u32>;

    /// Removes the account `name` (and the primary group made with it) from the backend and
    /// from `tx`; `false` when the backend holds no such account.
    fn remove<'a>(
        &'a self,
        tx: &'a mut AccountTx,
        account: &'a LocalAccount,
    ) -> BackendFuture<'a, bool>;

    /// Every name the backend holds beyond the mapping store's accounts (entries someone else
    /// made): what a policy change must not plan to take.
    fn names(&self) -> BackendFuture<'_, std::collections::HashSet<String>>;

    /// Renames `account` to `to` (its entry and its own primary group; home, ids and files stay)
    /// in the backend and in `tx`; `false` when `to` is taken, nothing renamed.
    fn rename<'a>(
        &'a self,
        tx: &'a mut AccountTx,
        account: &'a LocalAccount,
        to: &'a str,
    ) -> BackendFuture<'a, bool>;

    /// Creates `new` (and, when `new.own_group`, its primary group named like it); `false` when
    /// the name is taken, nothing created.
    fn insert<'a>(&'a self, tx: &'a mut AccountTx, new: NewAccount<'a>) -> BackendFuture<'a, bool>;
}

/// The default: accounts are rows of the mapping store's `local_accounts` table, unique by its
/// constraints, written in the caller's transaction.
#[derive(Debug, Default, Clone, Copy)]
pub struct SqliteBackend;

impl AccountBackend for SqliteBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Sqlite
    }

    fn find<'a>(
        &'a self,
        tx: &'a mut AccountTx,
        name: &'a str,
    ) -> BackendFuture<'a, Option<LocalAccount>> {
        Box::pin(async move { Ok(tx.account(name).await?) })
    }

    fn allocate<'a>(
        &'a self,
        tx: &'a mut AccountTx,
        kind: IdKind,
        range: IdRange,
        now: i64,
    ) -> BackendFuture<'a, u32> {
        Box::pin(async move { Ok(tx.allocate_id(kind, range.min, range.max, now).await?) })
    }

    fn remove<'a>(
        &'a self,
        tx: &'a mut AccountTx,
        account: &'a LocalAccount,
    ) -> BackendFuture<'a, bool> {
        Box::pin(async move { Ok(tx.delete_account(&account.name).await?) })
    }

    fn rename<'a>(
        &'a self,
        tx: &'a mut AccountTx,
        account: &'a LocalAccount,
        to: &'a str,
    ) -> BackendFuture<'a, bool> {
        Box::pin(async move { Ok(tx.rename_account(&account.name, to).await?) })
    }

    fn names(&self) -> BackendFuture<'_, std::collections::HashSet<String>> {
        Box::pin(async { Ok(std::collections::HashSet::new()) })
    }

    fn insert<'a>(&'a self, tx: &'a mut AccountTx, new: NewAccount<'a>) -> BackendFuture<'a, bool> {
        Box::pin(async move { Ok(tx.insert_account(new).await?) })
    }
}
