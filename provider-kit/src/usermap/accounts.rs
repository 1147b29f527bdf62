//! Local accounts for gateway users: the automatic ones of the implicit flow (SPEC §4, made on a
//! user's first brokered request with the configured username policy and reported without a nonce),
//! the ones a user proves in the explicit flow, and an operator's link for `serviceProvider`.
//! Names, uids and gids are unique because the store's UNIQUE constraints say so: a taken name moves
//! on to the next name of the policy's sequence, inside one write transaction.

use std::sync::Arc;

use super::backend::{AccountBackend, BackendError};
use super::config::{AccountsConfig, AccountsConfigError};
use super::model::{Mapping, QuarantineEntry};
use super::names::{NameSequence, gecos, is_reserved, is_valid_name};
use super::report::MappingReporter;
use super::store::{AccountTx, GatewayRename, IdKind, MappingStore, NewAccount, StoreError};
use crate::auth::Clock;
use crate::client::ClientError;
use crate::protocol::{MappingReport, Principal, ReportedState};

/// Names tried for one account before giving up.
const MAX_NAME_TRIES: u32 = 10_000;

/// Why an account could not be made or mapped.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("no free {kind} left in {min}-{max}: widen accounts.{kind}_range")]
    RangeExhausted { kind: IdKind, min: u32, max: u32 },
    #[error("no free account name after {MAX_NAME_TRIES} tries")]
    NamesExhausted,
    #[error("{0:?} is not a valid account name")]
    InvalidName(String),
    #[error("the local account {0} is already connected to another gateway user")]
    AccountTaken(String),
    #[error("this gateway user is already connected to the local account {0}; disconnect first")]
    AlreadyConnected(String),
    #[error("the gateway did not take the report: {0}")]
    Report(#[source] ClientError),
    #[error(transparent)]
    Store(StoreError),
    /// The quarantine ledger holds this name: a removed account had it.
    #[error("the name {name} belonged to a removed account and is held until {until} (Unix time)")]
    Quarantined { name: String, until: i64 },
    #[error("a pending connection needs {0}")]
    InvalidPending(&'static str),
    #[error("there is no local account {0}")]
    NoSuchAccount(String),
    /// The account backend (the LDAP directory) refused or could not be reached.
    #[error("account backend: {0}")]
    Backend(String),
}

impl From<BackendError> for AccountError {
    fn from(error: BackendError) -> Self {
        match error {
            BackendError::Store(store) => store.into(),
            other => Self::Backend(other.to_string()),
        }
    }
}

impl From<StoreError> for AccountError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::RangeExhausted { kind, min, max } => {
                Self::RangeExhausted { kind, min, max }
            }
            other => Self::Store(other),
        }
    }
}

/// The parts of one automatic account that stay while its name is searched for.
struct Attempt<'a> {
    uid: u32,
    gid: u32,
    gecos: &'a str,
    creator: &'a str,
    now: i64,
}

/// What `Accounts::ensure_for` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoAccount {
    /// The user was mapped before this call.
    Existing(Mapping),
    /// Made (or re-mapped) now. `reported_at` is `None` when the gateway did not take the report;
    /// the next call tries again.
    Created(Mapping),
    /// `serviceProvider`: nothing was made; the gateway was told `pendingAccountLinking` if
    /// `reported`.
    PendingLinking { reported: bool },
}

/// Local accounts and mappings. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    store: MappingStore,
    config: Arc<AccountsConfig>,
    clock: Arc<dyn Clock>,
    reporter: Arc<dyn MappingReporter>,
    backend: Arc<dyn AccountBackend>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("config", &self.config)
            .field("backend", &self.backend.kind())
            .finish_non_exhaustive()
    }
}

impl Accounts {
    pub fn new(
        config: AccountsConfig,
        store: MappingStore,
        clock: Arc<dyn Clock>,
        reporter: Arc<dyn MappingReporter>,
    ) -> Result<Self, AccountsConfigError> {
        config.check()?;
        let backend = config.backend.build()?;
        Ok(Self::with_backend(config, store, clock, reporter, backend))
    }

    /// `new` with a backend built elsewhere (`config.backend` is then not looked at).
    pub fn with_backend(
        config: AccountsConfig,
        store: MappingStore,
        clock: Arc<dyn Clock>,
        reporter: Arc<dyn MappingReporter>,
        backend: Arc<dyn AccountBackend>,
    ) -> Self {
        Self {
            store,
            config: Arc::new(config),
            clock,
            reporter,
            backend,
        }
    }

    pub fn backend(&self) -> &dyn AccountBackend {
        &*self.backend
    }

    pub fn store(&self) -> &MappingStore {
        &self.store
    }

    pub fn config(&self) -> &AccountsConfig {
        &self.config
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    pub(crate) fn reporter(&self) -> &dyn MappingReporter {
        &*self.reporter
    }

    /// The implicit flow (`requireExplicitMapping: false`): the local account of the verified
    /// `principal`, made with the username policy on first sight and reported to the gateway
    /// (state `ok`, no nonce). The report is awaited; call this from a task if the request should
    /// not wait for the gateway.
    #[tracing::instrument(skip_all, fields(policy = ?self.config.policy))]
    pub async fn ensure_for(&self, principal: &Principal) -> Result<AutoAccount, AccountError> {
        let now = self.clock.now_unix();
        let mut tx = self.store.begin().await?;
        if let Some(existing) = tx.mapping(&principal.username).await? {
            drop(tx);
            if existing.reported_at.is_some() {
                return Ok(AutoAccount::Existing(existing));
            }
            return Ok(AutoAccount::Existing(self.report_ok(existing).await));
        }
        let Some(names) = NameSequence::with_fallback(
            self.config.policy,
            self.config.identity_claim_fallback,
            principal,
            &self.config.prefix,
        ) else {
            drop(tx);
            return Ok(AutoAccount::PendingLinking {
                reported: self.report_pending(&principal.username).await,
            });
        };
        // A user who was unlinked gets the account that was made for them back, files and all.
        let account = match tx.account_created_for(&principal.username).await? {
            Some(account) => account.name,
            None => {
                let name = self.create(&mut tx, principal, &names, now).await?;
                let named_from = super::policy_change::NamedFrom::of(principal);
                tx.set_principal(&name, &named_from.to_json()).await?;
                name
            }
        };
        let mapping = self
            .insert_mapping(tx, &principal.username, &account, now)
            .await?;
        tracing::info!(account = %mapping.account.name, uid = mapping.account.uid, "made a local account");
        crate::metrics::global().account_created(self.backend.kind().as_str());
        Ok(AutoAccount::Created(self.report_ok(mapping).await))
    }

    /// Maps `gateway_username` to the local account `account` (made, with ids from the ranges, if it
    /// does not exist) and reports it without a nonce: how an operator finishes a `serviceProvider`
    /// connection. Mapping the same pair again only reports again.
    #[tracing::instrument(skip_all)]
    pub async fn link(
        &self,
        gateway_username: &str,
        account: &str,
        full_name: &str,
    ) -> Result<Mapping, AccountError> {
        let now = self.clock.now_unix();
        let mut tx = self.store.begin().await?;
        let (mapping, _) = self
            .map_in(&mut tx, gateway_username, account, full_name, now)
            .await?;
        tx.commit().await?;
        let report = MappingReport::implicit(gateway_username, &mapping.account.name);
        self.reporter
            .report(&report)
            .await
            .map_err(AccountError::Report)?;
        self.store
            .mark_reported(gateway_username, self.clock.now_unix())
            .await?;
        self.store.delete_pending(gateway_username).await?;
        Ok(Mapping {
            reported_at: Some(now),
            ..mapping
        })
    }

    /// Removes the mapping of `gateway_username` (the account, its ids and home stay, and an
    /// automatic account comes back to the same user). `false` when there was none.
    #[tracing::instrument(skip_all)]
    pub async fn unlink(&self, gateway_username: &str) -> Result<bool, AccountError> {
        let mut tx = self.store.begin().await?;
        let removed = tx.delete_mapping(gateway_username).await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// The gateway merged `from` into `to` (SPEC §4 rename): the local account mapped to `from`
    /// is now mapped to `to`, and nothing else changes. A retry finds the rename done.
    #[tracing::instrument(skip_all)]
    pub async fn rename_user(&self, from: &str, to: &str) -> Result<GatewayRename, AccountError> {
        let mut tx = self.store.begin().await?;
        let outcome = tx.rename_gateway_user(from, to).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Removes the local account `name`: its mapping, the account in the backend (with the
    /// primary group made for it), and records its name, uid and gid in the quarantine ledger for
    /// `quarantine_days`. The gateway connection of a mapped user ends on the provider's side; the
    /// user connects again and gets a new account.
    #[tracing::instrument(skip_all)]
    pub async fn remove(&self, name: &str) -> Result<QuarantineEntry, AccountError> {
        let now = self.clock.now_unix();
        let mut tx = self.store.begin().await?;
        let Some(account) = tx.account(name).await? else {
            return Err(AccountError::NoSuchAccount(name.to_owned()));
        };
        if let Some(user) = tx.mapped_to(name).await? {
            tx.delete_mapping(&user).await?;
        }
        self.backend.remove(&mut tx, &account).await?;
        let entry = tx
            .quarantine(&account, now, now + self.config.quarantine_secs())
            .await?;
        tx.commit().await?;
        tracing::info!(account = %entry.name, uid = entry.uid, until = entry.until, "removed a local account; its name and ids are quarantined");
        Ok(entry)
    }

    /// Inside `tx`: maps `gateway_username` to `account`, making the account if it is new. Returns
    /// the mapping and whether it is new. Refuses a user mapped to another account, and an account
    /// mapped to (or made for) another user.
    pub(crate) async fn map_in(
        &self,
        tx: &mut AccountTx,
        gateway_username: &str,
        account: &str,
        full_name: &str,
        now: i64,
    ) -> Result<(Mapping, bool), AccountError> {
        if !is_valid_name(account) {
            return Err(AccountError::InvalidName(account.to_owned()));
        }
        if let Some(existing) = tx.mapping(gateway_username).await? {
            if existing.account.name == account {
                return Ok((existing, false));
            }
            return Err(AccountError::AlreadyConnected(existing.account.name));
        }
        match self.backend.find(tx, account).await? {
            Some(found) => {
                let made_for_other = found
                    .created_for
                    .as_deref()
                    .is_some_and(|owner| owner != gateway_username);
                if made_for_other || tx.mapped_to(account).await?.is_some() {
                    return Err(AccountError::AccountTaken(account.to_owned()));
                }
            }
            None => {
                if let Some(held) = tx.name_held(account, now).await? {
                    return Err(AccountError::Quarantined {
                        name: held.name,
                        until: held.until,
                    });
                }
                let (uid, gid) = self.allocate(tx).await?;
                let home = self.config.home_of(account);
                let gecos = gecos(full_name);
                let new = self.new_account(account, uid, gid, &home, &gecos, None, now);
                if !self.backend.insert(tx, new).await? {
                    return Err(AccountError::AccountTaken(account.to_owned()));
                }
            }
        }
        let mapping = self
            .insert_mapping_in(tx, gateway_username, account, now)
            .await?;
        Ok((mapping, true))
    }

    /// Makes the automatic account of `principal`, walking `names` past taken and reserved names.
    async fn create(
        &self,
        tx: &mut AccountTx,
        principal: &Principal,
        names: &NameSequence,
        now: i64,
    ) -> Result<String, AccountError> {
        let (uid, gid) = self.allocate(tx).await?;
        let gecos = gecos(&format!("{} {}", principal.first_name, principal.last_name));
        let attempt = Attempt {
            uid,
            gid,
            gecos: &gecos,
            creator: &principal.username,
            now,
        };
        let names = match names {
            NameSequence::Claimed { name, then } => {
                if self.try_name(tx, name, &attempt).await? {
                    return Ok(name.clone());
                }
                &**then
            }
            other => other,
        };
        for n in 0..MAX_NAME_TRIES {
            let name = match names {
                NameSequence::Suffixed { stem, plain_first } => {
                    NameSequence::suffixed(stem, if *plain_first { n } else { n + 1 })
                }
                NameSequence::Counter { prefix } => {
                    NameSequence::counted(prefix, tx.next_counter("anonymized", 1).await?)
                }
                NameSequence::Claimed { .. } => break,
            };
            if self.try_name(tx, &name, &attempt).await? {
                return Ok(name);
            }
        }
        Err(AccountError::NamesExhausted)
    }

    /// Creates the account `name` unless it is reserved or taken.
    async fn try_name(
        &self,
        tx: &mut AccountTx,
        name: &str,
        attempt: &Attempt<'_>,
    ) -> Result<bool, AccountError> {
        if is_reserved(name, &self.config.reserved_names)
            || tx.name_held(name, attempt.now).await?.is_some()
            || tx.alias_held(name, attempt.now).await?
        {
            return Ok(false);
        }
        let home = self.config.home_of(name);
        let new = self.new_account(
            name,
            attempt.uid,
            attempt.gid,
            &home,
            attempt.gecos,
            Some(attempt.creator),
            attempt.now,
        );
        Ok(self.backend.insert(tx, new).await?)
    }

    async fn allocate(&self, tx: &mut AccountTx) -> Result<(u32, u32), AccountError> {
        let (uids, gids) = (self.config.uid_range, self.config.gid_range);
        let now = self.clock.now_unix();
        let uid = self.backend.allocate(tx, IdKind::Uid, uids, now).await?;
        let gid = match self.config.primary_group {
            Some(shared) => shared.gid,
            None => self.backend.allocate(tx, IdKind::Gid, gids, now).await?,
        };
        Ok((uid, gid))
    }

    #[expect(clippy::too_many_arguments, reason = "one row's columns")]
    fn new_account<'a>(
        &'a self,
        name: &'a str,
        uid: u32,
        gid: u32,
        home: &'a str,
        gecos: &'a str,
        created_for: Option<&'a str>,
        now: i64,
    ) -> NewAccount<'a> {
        NewAccount {
            name,
            uid,
            gid,
            home,
            shell: &self.config.shell,
            gecos,
            created_for,
            created_at: now,
            own_group: self.config.primary_group.is_none(),
        }
    }

    async fn insert_mapping(
        &self,
        mut tx: AccountTx,
        gateway_username: &str,
        account: &str,
        now: i64,
    ) -> Result<Mapping, AccountError> {
        let mapping = self
            .insert_mapping_in(&mut tx, gateway_username, account, now)
            .await?;
        tx.commit().await?;
        Ok(mapping)
    }

    async fn insert_mapping_in(
        &self,
        tx: &mut AccountTx,
        gateway_username: &str,
        account: &str,
        now: i64,
    ) -> Result<Mapping, AccountError> {
        tx.insert_mapping(gateway_username, account, now)
            .await
            .map_err(|error| match error {
                StoreError::Conflict(_) => AccountError::AccountTaken(account.to_owned()),
                other => other.into(),
            })?;
        tx.mapping(gateway_username)
            .await?
            .ok_or(AccountError::Store(StoreError::Corrupt("mapping vanished")))
    }

    /// Reports an `ok` mapping without a nonce; on success records it, on failure logs and leaves it
    /// for the next call.
    async fn report_ok(&self, mapping: Mapping) -> Mapping {
        let (user, name) = (&mapping.gateway_username, &mapping.account.name);
        let report = match self.store.renamed_from(name, self.clock.now_unix()).await {
            Ok(Some(from)) => MappingReport::renamed(user, from, name),
            Ok(None) => MappingReport::implicit(user, name),
            Err(error) => {
                tracing::warn!(%error, "could not read the account's aliases");
                return mapping;
            }
        };
        match self.reporter.report(&report).await {
            Ok(_) => {
                let now = self.clock.now_unix();
                if let Err(error) = self
                    .store
                    .mark_reported(&mapping.gateway_username, now)
                    .await
                {
                    tracing::warn!(%error, "could not record a report");
                    return mapping;
                }
                Mapping {
                    reported_at: Some(now),
                    ..mapping
                }
            }
            Err(error) => {
                tracing::warn!(account = %mapping.account.name, %error, "the gateway did not take a mapping report; will retry");
                mapping
            }
        }
    }

    /// `serviceProvider`: the connection waits for an operator; recorded as pending (retried and
    /// resolved by `link`) and reported when it is new; `true` when the gateway has it.
    async fn report_pending(&self, gateway_username: &str) -> bool {
        let marked = self
            .mark_pending(
                gateway_username,
                ReportedState::PendingAccountLinking,
                &self.config.pending_comment,
                self.config.pending_comment_url.as_deref(),
            )
            .await;
        match marked {
            Ok(pending) => pending.reported,
            Err(error) => {
                tracing::warn!(%error, "could not record a pendingAccountLinking connection");
                false
            }
        }
    }
}
