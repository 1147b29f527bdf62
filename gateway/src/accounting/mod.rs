//! Accounting (SPEC §5): wallets of integer units per owner (a user or a project) per provider,
//! grants by admins, and the providers' charges (`charge.rs`). Wallets are per provider, so a
//! provider can only ever reach its own: the charging provider's id is part of every wallet key.

mod charge;

pub use charge::{ChargeRequest, Charged};

use crate::audit::{Actor, AuditAction, event};
use crate::clock::SharedClock;
use crate::model::{ChargeRecord, Owner, OwnerRef, User, Wallet};
use crate::store::{Store, StoreError};
use serde_json::json;

/// Most units one grant or one charge may move.
pub const MAX_UNITS: i64 = 1_000_000_000_000;
/// Most units one wallet may hold, far from `i64::MAX`, so no sum can overflow.
pub const MAX_BALANCE: i64 = 1_000_000_000_000_000;
/// Charges one listing returns by default, and at most.
pub const DEFAULT_CHARGES_LISTED: i64 = 50;
pub const MAX_CHARGES_LISTED: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum AccountingError {
    #[error("{0}")]
    Invalid(String),
    /// Worded as `AccountError::NoSuchUser`: one sentence for a missing user everywhere.
    #[error("no such user: {0}")]
    NoSuchUser(String),
    #[error("no project {0:?}")]
    NoSuchProject(String),
    #[error("no provider {0:?}")]
    NoSuchProvider(String),
    /// Nothing was taken. `duplicate` when this is the repeated first answer to a `chargeId`.
    #[error("the wallet holds {balance} units and the charge needs {units}; nothing was taken")]
    InsufficientFunds {
        units: i64,
        balance: i64,
        duplicate: bool,
    },
    #[error("chargeId {0:?} was already used with a different body")]
    ChargeIdReused(String),
    #[error("the grant would take the balance past {MAX_BALANCE} units")]
    BalanceLimit,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Accounting {
    store: Store,
    clock: SharedClock,
    /// Providers' charges by outcome.
    pub charges: crate::metrics::Charges,
}

impl Accounting {
    pub fn new(store: Store, clock: SharedClock) -> Self {
        Self {
            store,
            clock,
            charges: Default::default(),
        }
    }

    /// Adds `units` to the owner's wallet at `provider` (creating it); returns the wallet.
    pub async fn grant(
        &self,
        actor: &Actor,
        owner: &OwnerRef,
        provider: &str,
        units: i64,
    ) -> Result<Wallet, AccountingError> {
        if !(1..=MAX_UNITS).contains(&units) {
            return Err(AccountingError::Invalid(format!(
                "units: must be a whole number from 1 to {MAX_UNITS}"
            )));
        }
        let owner = self.resolve(owner).await?;
        if self.store.provider(provider).await?.is_none() {
            return Err(AccountingError::NoSuchProvider(provider.to_owned()));
        }
        let now = self.clock.now_ms();
        let target = format!("{provider}/{}", owner.key());
        let audit = |balance| {
            let detail = json!({ "provider": provider, "owner": owner_json(&owner.to_ref()), "units": units, "balance": balance });
            event(now, actor, AuditAction::WalletGranted, &target, detail)
        };
        let granted = self
            .store
            .grant(&owner, provider, units, MAX_BALANCE, now, audit)
            .await?;
        let balance = granted.ok_or(AccountingError::BalanceLimit)?;
        tracing::info!(%provider, owner = %owner.key(), units, balance, actor = %actor.name(), "units granted");
        Ok(Wallet {
            owner,
            provider: provider.to_owned(),
            balance,
            updated_at: now,
        })
    }

    /// The user's own wallets and those of their projects (SPEC §5 `GET /api/wallets`).
    pub async fn wallets(&self, user: &User) -> Result<Vec<Wallet>, AccountingError> {
        Ok(self.store.wallets_of_user(user.id).await?)
    }

    /// Any owner's wallets, for the operator's command line.
    pub async fn wallets_of(&self, owner: &OwnerRef) -> Result<Vec<Wallet>, AccountingError> {
        let owner = self.resolve(owner).await?;
        Ok(self.store.wallets_of_owner(&owner).await?)
    }

    /// Recent charges (accepted and refused) against the viewer's own wallets or, with `project`,
    /// that project's, of which the viewer must be a member. Newest first.
    pub async fn charges(
        &self,
        viewer: &User,
        project: Option<&str>,
        provider: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Vec<ChargeRecord>, AccountingError> {
        let owner = match project {
            None => Owner::User {
                id: viewer.id,
                username: viewer.username.clone(),
            },
            Some(id) => match self.store.project_role(id, viewer.id).await? {
                Some(_) => Owner::Project { id: id.to_owned() },
                None => return Err(AccountingError::NoSuchProject(id.to_owned())),
            },
        };
        let limit = limit
            .unwrap_or(DEFAULT_CHARGES_LISTED)
            .clamp(1, MAX_CHARGES_LISTED);
        Ok(self.store.charges_of(&owner, provider, limit).await?)
    }

    async fn resolve(&self, owner: &OwnerRef) -> Result<Owner, AccountingError> {
        match owner {
            OwnerRef::Username(username) => match self.store.user_by_username(username).await? {
                Some(user) => Ok(Owner::User {
                    id: user.id,
                    username: user.username,
                }),
                None => Err(AccountingError::NoSuchUser(username.clone())),
            },
            OwnerRef::Project(id) => match self.store.project(id).await? {
                Some(project) => Ok(Owner::Project { id: project.id }),
                None => Err(AccountingError::NoSuchProject(id.clone())),
            },
        }
    }
}

/// The wire form of an owner: `{"username": …}` or `{"project": …}`.
pub fn owner_json(owner: &OwnerRef) -> serde_json::Value {
    match owner {
        OwnerRef::Username(username) => json!({ "username": username }),
        OwnerRef::Project(id) => json!({ "project": id }),
    }
}
