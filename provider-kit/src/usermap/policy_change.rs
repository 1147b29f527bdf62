//! Changing the username policy without surprises: `Accounts::plan_policy` says, changing nothing,
//! what every automatic account would be called under another policy and every collision on the
//! way; `Accounts::apply_policy` renames them (home, ids and files stay), keeps each old name as an
//! alias for `rename_grace_days` (given to no one else meanwhile), and reports each mapped account's
//! new local identity to the gateway. A rename never takes a name that is taken, reserved, held by
//! the quarantine ledger or by an alias.

use std::collections::HashSet;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::accounts::{AccountError, Accounts};
use super::model::{Alias, LocalAccount};
use super::names::{NameSequence, UsernamePolicy, is_reserved};
use super::store::{AccountTx, StoreError};
use crate::protocol::{MappingReport, Principal};

/// What an automatic account's name was made from (stored with it as JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NamedFrom {
    username: String,
    first_name: String,
    last_name: String,
    email: String,
    site_username: Option<String>,
}

impl NamedFrom {
    pub(crate) fn of(principal: &Principal) -> Self {
        Self {
            username: principal.username.clone(),
            first_name: principal.first_name.clone(),
            last_name: principal.last_name.clone(),
            email: principal.email.clone(),
            site_username: principal.site_username.clone(),
        }
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// For accounts made before names were recorded: the gateway username and the gecos.
    fn guessed(account: &LocalAccount, username: &str) -> Self {
        let mut words = account.gecos.split_whitespace();
        let first = words.next().unwrap_or_default().to_owned();
        Self {
            username: username.to_owned(),
            first_name: first,
            last_name: words.collect::<Vec<_>>().join(" "),
            email: String::new(),
            site_username: None,
        }
    }

    fn principal(&self) -> Principal {
        Principal {
            username: self.username.clone(),
            role: "USER".into(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            uid: 0,
            email: self.email.clone(),
            two_factor_authentication: false,
            organization: None,
            assurance: Vec::new(),
            identity_provider: None,
            site_username: self.site_username.clone(),
        }
    }
}

/// Why a policy's first choice for an account could not be had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "reason", content = "name")]
pub enum Collision {
    /// Another account (or, during a change, another account's new name) has it.
    Taken(String),
    /// The quarantine ledger or an alias of a renamed account holds it.
    Held(String),
    /// A system or configured reserved name.
    Reserved(String),
}

impl std::fmt::Display for Collision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Taken(name) => write!(f, "{name} is taken"),
            Self::Held(name) => write!(f, "{name} is held (quarantine or alias)"),
            Self::Reserved(name) => write!(f, "{name} is reserved"),
        }
    }
}

/// One account under the new policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedName {
    pub account: String,
    pub uid: u32,
    /// The gateway user mapped to it, if any.
    pub gateway_username: Option<String>,
    /// The name under the new policy; `None` when the account keeps its name because no policy
    /// names it (one a user proved, or a policy that names no one).
    pub new_name: Option<String>,
    pub collision: Option<Collision>,
}

impl PlannedName {
    /// Whether this account would get another name.
    pub fn renamed(&self) -> bool {
        self.new_name.as_ref().is_some_and(|n| *n != self.account)
    }
}

/// Every account under a new policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyPlan {
    pub policy: UsernamePolicy,
    pub accounts: Vec<PlannedName>,
}

impl PolicyPlan {
    pub fn renames(&self) -> impl Iterator<Item = &PlannedName> {
        self.accounts.iter().filter(|a| a.renamed())
    }

    pub fn collisions(&self) -> impl Iterator<Item = &PlannedName> {
        self.accounts.iter().filter(|a| a.collision.is_some())
    }

    /// `old → new` per account, each collision named, and a summary line first.
    pub fn render_text(&self) -> String {
        let policy = serde_json::to_value(self.policy)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut out = format!(
            "policy {policy}: {} accounts, {} renamed, {} collisions\n",
            self.accounts.len(),
            self.renames().count(),
            self.collisions().count()
        );
        for planned in &self.accounts {
            let _ = match (&planned.new_name, &planned.collision) {
                (None, _) => writeln!(
                    out,
                    "{} (uid {}) kept: not named by a policy",
                    planned.account, planned.uid
                ),
                (Some(_), None) if !planned.renamed() => {
                    writeln!(out, "{} (uid {}) unchanged", planned.account, planned.uid)
                }
                (Some(new), None) => {
                    writeln!(out, "{} → {new} (uid {})", planned.account, planned.uid)
                }
                (Some(new), Some(why)) => writeln!(
                    out,
                    "{} → {new} (uid {}) collision: {why}",
                    planned.account, planned.uid
                ),
            };
        }
        out
    }
}

/// What `apply_policy` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyApplied {
    pub plan: PolicyPlan,
    pub aliases: Vec<Alias>,
    /// Gateway users whose new local identity the gateway did not take yet; it is sent again on
    /// their next request.
    pub unreported: Vec<String>,
}

/// Names under the new policy are chosen in uid order, against everything that holds a name.
struct Taken {
    names: HashSet<String>,
    held: HashSet<String>,
}

impl Accounts {
    /// What `policy` would call every account; changes nothing.
    pub async fn plan_policy(&self, policy: UsernamePolicy) -> Result<PolicyPlan, AccountError> {
        let mut tx = self.store().begin().await?;
        self.plan_in(&mut tx, policy).await
    }

    /// Renames as `plan_policy` says, in one transaction; each old name stays an alias for
    /// `rename_grace_days`; each mapped account's new name is reported to the gateway.
    #[tracing::instrument(skip_all, fields(policy = ?policy))]
    pub async fn apply_policy(
        &self,
        policy: UsernamePolicy,
    ) -> Result<PolicyApplied, AccountError> {
        let now = self.clock().now_unix();
        let until = now + i64::from(self.config().rename_grace_days) * 86_400;
        let mut tx = self.store().begin().await?;
        let plan = self.plan_in(&mut tx, policy).await?;
        let accounts = self.store().accounts().await?;
        let mut aliases = Vec::new();
        for planned in plan.renames() {
            let (Some(new), Some(account)) = (
                planned.new_name.as_deref(),
                accounts.iter().find(|a| a.name == planned.account),
            ) else {
                continue;
            };
            if !self.backend().rename(&mut tx, account, new).await? {
                return Err(AccountError::Store(StoreError::Conflict(
                    "a renamed account's new name",
                )));
            }
            let alias = Alias {
                alias: planned.account.clone(),
                account: new.to_owned(),
                uid: planned.uid,
                renamed_at: now,
                until,
            };
            tx.insert_alias(&alias).await?;
            aliases.push(alias);
        }
        tx.commit().await?;
        let mut unreported = Vec::new();
        for planned in plan.renames() {
            let (Some(user), Some(new)) = (&planned.gateway_username, &planned.new_name) else {
                continue;
            };
            let report = MappingReport::renamed(user, &planned.account, new);
            match self.reporter().report(&report).await {
                Ok(_) => {
                    self.store()
                        .mark_reported(user, self.clock().now_unix())
                        .await?
                }
                Err(error) => {
                    tracing::warn!(%error, account = %new, "the gateway did not take a renamed account; will retry");
                    unreported.push(user.clone());
                }
            }
        }
        tracing::info!(renamed = aliases.len(), "applied a username policy");
        Ok(PolicyApplied {
            plan,
            aliases,
            unreported,
        })
    }

    async fn plan_in(
        &self,
        tx: &mut AccountTx,
        policy: UsernamePolicy,
    ) -> Result<PolicyPlan, AccountError> {
        let now = self.clock().now_unix();
        let accounts = self.store().accounts().await?;
        let mappings = self.store().mappings().await?;
        let principals: std::collections::HashMap<_, _> =
            tx.principals().await?.into_iter().collect();
        let mut held: HashSet<String> = self
            .store()
            .quarantine(now)
            .await?
            .into_iter()
            .map(|e| e.name)
            .collect();
        held.extend(tx.aliases(now).await?.into_iter().map(|a| a.alias));
        let mut names = self.backend().names().await?;
        names.extend(accounts.iter().map(|a| a.name.clone()));
        let mut taken = Taken { names, held };
        let mut planned = Vec::with_capacity(accounts.len());
        for account in &accounts {
            let gateway_username = mappings
                .iter()
                .find(|m| m.account.name == account.name)
                .map(|m| m.gateway_username.clone());
            let named_from = account.created_for.as_ref().map(|creator| {
                principals
                    .get(&account.name)
                    .and_then(|json| json.as_deref())
                    .and_then(|json| serde_json::from_str::<NamedFrom>(json).ok())
                    .unwrap_or_else(|| NamedFrom::guessed(account, creator))
            });
            let sequence = named_from.and_then(|from| {
                NameSequence::with_fallback(
                    policy,
                    self.config().identity_claim_fallback,
                    &from.principal(),
                    &self.config().prefix,
                )
            });
            let (new_name, collision) = match sequence {
                Some(sequence) => {
                    let (name, collision) = self.choose(&sequence, &account.name, &mut taken)?;
                    (Some(name), collision)
                }
                None => (None, None),
            };
            planned.push(PlannedName {
                account: account.name.clone(),
                uid: account.uid,
                gateway_username,
                new_name,
                collision,
            });
        }
        Ok(PolicyPlan {
            policy,
            accounts: planned,
        })
    }

    /// The first name of `sequence` that is `own` or free; the reason the first choice was not.
    fn choose(
        &self,
        sequence: &NameSequence,
        own: &str,
        taken: &mut Taken,
    ) -> Result<(String, Option<Collision>), AccountError> {
        let (claimed, rest) = match sequence {
            NameSequence::Claimed { name, then } => (Some(name.clone()), &**then),
            other => (None, other),
        };
        let candidates = claimed
            .into_iter()
            .chain((0..10_000u32).map(|n| match rest {
                NameSequence::Suffixed { stem, plain_first } => {
                    NameSequence::suffixed(stem, if *plain_first { n } else { n + 1 })
                }
                NameSequence::Counter { prefix } => NameSequence::counted(prefix, i64::from(n) + 1),
                NameSequence::Claimed { name, .. } => name.clone(),
            }));
        let mut first_refusal = None;
        for name in candidates {
            if name == own {
                return Ok((name, first_refusal));
            }
            let refusal = if is_reserved(&name, &self.config().reserved_names) {
                Some(Collision::Reserved(name.clone()))
            } else if taken.held.contains(&name) {
                Some(Collision::Held(name.clone()))
            } else if taken.names.contains(&name) {
                Some(Collision::Taken(name.clone()))
            } else {
                None
            };
            match refusal {
                None => {
                    taken.names.insert(name.clone());
                    return Ok((name, first_refusal));
                }
                Some(why) => {
                    first_refusal.get_or_insert(why);
                }
            }
        }
        Err(AccountError::NamesExhausted)
    }
}
