//! Account lifecycle (after Perun and Arvados): active, suspended (until a date or indefinitely),
//! expired (the membership end date has passed), disabled. Every authenticated path of `Accounts`
//! (session, API token, sign-in, token creation) calls `ensure_active`, so an admin's change takes
//! effect on the caller's next request. Admin actions are audited in the same transaction.

use super::{AccountError, Accounts};
use crate::audit::{Actor, AuditAction, event};
use crate::clock::rfc3339;
use crate::model::{AccountStateRecord, AccountStatus, User};
use serde_json::json;
use std::fmt;

/// What an account's stored record means at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    Active,
    Suspended {
        until: Option<i64>,
    },
    Expired {
        since: i64,
    },
    Disabled,
    /// Created by a federated sign-in and waiting for an admin (SPEC §8).
    PendingApproval,
}

impl AccountState {
    /// Disabled beats suspended beats expired; a suspension whose end has passed is over.
    pub fn at(record: &AccountStateRecord, now: i64) -> Self {
        match record.status {
            AccountStatus::Disabled => return Self::Disabled,
            AccountStatus::PendingApproval => return Self::PendingApproval,
            AccountStatus::Suspended if record.suspended_until.is_none_or(|end| end > now) => {
                return Self::Suspended {
                    until: record.suspended_until,
                };
            }
            _ => {}
        }
        match record.expires_at {
            Some(since) if since <= now => Self::Expired { since },
            _ => Self::Active,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended { .. } => "suspended",
            Self::Expired { .. } => "expired",
            Self::Disabled => "disabled",
            Self::PendingApproval => "pendingApproval",
        }
    }

    /// The problem code of a request refused because of this state.
    pub fn code(self) -> &'static str {
        match self {
            Self::Active => "accountActive",
            Self::Suspended { .. } => "accountSuspended",
            Self::Expired { .. } => "accountExpired",
            Self::Disabled => "accountDisabled",
            Self::PendingApproval => "accountPendingApproval",
        }
    }
}

impl fmt::Display for AccountState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Active => f.write_str("the account is active"),
            Self::Suspended { until: Some(end) } => {
                write!(f, "the account is suspended until {}", rfc3339(*end))
            }
            Self::Suspended { until: None } => f.write_str("the account is suspended"),
            Self::Expired { since } => write!(f, "the account expired on {}", rfc3339(*since)),
            Self::Disabled => f.write_str("the account is disabled"),
            Self::PendingApproval => f.write_str("the account awaits approval by an administrator"),
        }
    }
}

/// An account's lifecycle as admins see it.
#[derive(Debug, Clone)]
pub struct AccountLifecycle {
    pub user: User,
    pub state: AccountState,
    pub record: AccountStateRecord,
}

impl Accounts {
    /// The user's state now. The broker calls this (through `ensure_active`) before forwarding.
    pub async fn state_of(&self, user: &User) -> Result<AccountState, AccountError> {
        let record = self.store.account_state(user.id).await?.unwrap_or_default();
        Ok(AccountState::at(&record, self.clock.now_ms()))
    }

    /// `Err(Inactive)` unless the account is active.
    pub async fn ensure_active(&self, user: &User) -> Result<(), AccountError> {
        match self.state_of(user).await? {
            AccountState::Active => Ok(()),
            other => Err(AccountError::Inactive(other)),
        }
    }

    pub async fn lifecycle(&self, username: &str) -> Result<AccountLifecycle, AccountError> {
        let user = self.user(username).await?;
        let record = self.store.account_state(user.id).await?.unwrap_or_default();
        let state = AccountState::at(&record, self.clock.now_ms());
        Ok(AccountLifecycle {
            user,
            state,
            record,
        })
    }

    /// Suspends until `until` (which must be in the future) or, with `None`, indefinitely.
    /// Suspending a suspended account replaces the end date; a disabled one must be resumed first.
    pub async fn suspend(
        &self,
        actor: &Actor,
        username: &str,
        until: Option<i64>,
    ) -> Result<AccountLifecycle, AccountError> {
        let now = self.clock.now_ms();
        if until.is_some_and(|end| end <= now) {
            return Err(AccountError::Invalid("until: must be in the future".into()));
        }
        let current = self.lifecycle(username).await?;
        refuse_self(actor, &current.user, "suspend")?;
        let from = current.record.status;
        if from == AccountStatus::Disabled {
            return Err(transition(username, "disabled", "suspended"));
        }
        let audit = event(
            now,
            actor,
            AuditAction::UserSuspended,
            username,
            json!({ "until": until.map(rfc3339) }),
        );
        let to = AccountStatus::Suspended;
        if !self
            .store
            .transition_account(current.user.id, from, to, until, now, &audit)
            .await?
        {
            return Err(changed_meanwhile(username));
        }
        self.credentials.clear();
        tracing::info!(user = %username, actor = %actor.name(), "account suspended");
        self.lifecycle(username).await
    }

    /// Ends a suspension or a disabling. An expired account stays expired until its end date moves.
    pub async fn resume(
        &self,
        actor: &Actor,
        username: &str,
    ) -> Result<AccountLifecycle, AccountError> {
        let now = self.clock.now_ms();
        let current = self.lifecycle(username).await?;
        let from = current.record.status;
        if matches!(from, AccountStatus::Active | AccountStatus::PendingApproval) {
            return Err(transition(
                username,
                "neither suspended nor disabled",
                "resumed",
            ));
        }
        let audit = event(
            now,
            actor,
            AuditAction::UserResumed,
            username,
            json!({ "from": from.as_str() }),
        );
        let to = AccountStatus::Active;
        if !self
            .store
            .transition_account(current.user.id, from, to, None, now, &audit)
            .await?
        {
            return Err(changed_meanwhile(username));
        }
        self.credentials.clear();
        tracing::info!(user = %username, actor = %actor.name(), "account resumed");
        self.lifecycle(username).await
    }

    /// Activates an account that waits for approval (SPEC §8); any other state is refused.
    pub async fn approve(
        &self,
        actor: &Actor,
        username: &str,
    ) -> Result<AccountLifecycle, AccountError> {
        let now = self.clock.now_ms();
        let current = self.lifecycle(username).await?;
        let from = current.record.status;
        if from != AccountStatus::PendingApproval {
            return Err(transition(username, from.as_str(), "approved"));
        }
        let audit = event(now, actor, AuditAction::UserApproved, username, json!({}));
        if !self
            .store
            .transition_account(
                current.user.id,
                from,
                AccountStatus::Active,
                None,
                now,
                &audit,
            )
            .await?
        {
            return Err(changed_meanwhile(username));
        }
        self.credentials.clear();
        tracing::info!(user = %username, actor = %actor.name(), "account approved");
        self.lifecycle(username).await
    }

    /// Users waiting for approval, oldest first.
    pub async fn pending(&self) -> Result<Vec<User>, AccountError> {
        Ok(self.store.pending_users().await?)
    }

    /// Disables the account and, in the same transaction, revokes all its sessions and API tokens.
    /// `App::disable_user` also ends the user's provider connections.
    pub async fn disable(
        &self,
        actor: &Actor,
        username: &str,
    ) -> Result<AccountLifecycle, AccountError> {
        let now = self.clock.now_ms();
        let current = self.lifecycle(username).await?;
        refuse_self(actor, &current.user, "disable")?;
        let from = current.record.status;
        if from == AccountStatus::Disabled {
            return Err(transition(username, "disabled", "disabled"));
        }
        let audit = |sessions, tokens| {
            let detail = json!({ "sessionsRevoked": sessions, "apiTokensRevoked": tokens });
            event(now, actor, AuditAction::UserDisabled, username, detail)
        };
        let Some((sessions, tokens)) = self
            .store
            .disable_account(current.user.id, from, now, audit)
            .await?
        else {
            return Err(changed_meanwhile(username));
        };
        self.credentials.clear();
        tracing::info!(user = %username, actor = %actor.name(), sessions, tokens, "account disabled");
        self.lifecycle(username).await
    }

    /// Sets the end of the user's membership (`None`: no end). A date not after now expires the
    /// account at once; a later date (or none) brings an expired account back.
    pub async fn set_expiry(
        &self,
        actor: &Actor,
        username: &str,
        expires_at: Option<i64>,
    ) -> Result<AccountLifecycle, AccountError> {
        let now = self.clock.now_ms();
        let user = self.user(username).await?;
        let detail = json!({ "expiresAt": expires_at.map(rfc3339) });
        let audit = event(now, actor, AuditAction::UserExpirySet, username, detail);
        self.store
            .set_account_expiry(user.id, expires_at, now, &audit)
            .await?;
        self.credentials.clear();
        tracing::info!(user = %username, actor = %actor.name(), "account expiry set");
        self.lifecycle(username).await
    }
}

/// An admin locking themselves out over the API is always a mistake; the command line still can.
pub(super) fn refuse_self(actor: &Actor, user: &User, verb: &str) -> Result<(), AccountError> {
    match actor {
        Actor::User(name) if *name == user.username => Err(AccountError::Invalid(format!(
            "username: you cannot {verb} your own account"
        ))),
        _ => Ok(()),
    }
}

fn transition(username: &str, status: &str, verb: &str) -> AccountError {
    AccountError::InvalidTransition(format!(
        "the account {username:?} is {status} and cannot be {verb}"
    ))
}

fn changed_meanwhile(username: &str) -> AccountError {
    AccountError::InvalidTransition(format!(
        "the account {username:?} changed while this action ran; read it and try again"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        status: AccountStatus,
        until: Option<i64>,
        expires: Option<i64>,
    ) -> AccountStateRecord {
        AccountStateRecord {
            status,
            suspended_until: until,
            expires_at: expires,
            updated_at: 0,
        }
    }

    #[test]
    fn the_state_follows_the_record_and_the_clock() {
        use AccountStatus::*;
        let cases = [
            (record(Active, None, None), AccountState::Active),
            (record(Active, None, Some(200)), AccountState::Active),
            (
                record(Active, None, Some(100)),
                AccountState::Expired { since: 100 },
            ),
            (
                record(Suspended, None, None),
                AccountState::Suspended { until: None },
            ),
            (
                record(Suspended, Some(101), None),
                AccountState::Suspended { until: Some(101) },
            ),
            (record(Suspended, Some(100), None), AccountState::Active),
            (
                record(Suspended, Some(100), Some(50)),
                AccountState::Expired { since: 50 },
            ),
            (
                record(Suspended, None, Some(50)),
                AccountState::Suspended { until: None },
            ),
            (record(Disabled, None, Some(50)), AccountState::Disabled),
        ];
        for (record, expected) in cases {
            assert_eq!(AccountState::at(&record, 100), expected, "{record:?}");
        }
    }

    #[test]
    fn refused_states_have_their_own_codes() {
        let codes: Vec<_> = [
            AccountState::Suspended { until: None },
            AccountState::Expired { since: 0 },
            AccountState::Disabled,
            AccountState::PendingApproval,
        ]
        .iter()
        .map(|s| s.code())
        .collect();
        assert_eq!(
            codes,
            [
                "accountSuspended",
                "accountExpired",
                "accountDisabled",
                "accountPendingApproval"
            ]
        );
    }
}
