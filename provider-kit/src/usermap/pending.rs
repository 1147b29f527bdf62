//! Pending connections that resolve (SPEC §4 states `pendingAccountLinking`,
//! `pendingAdditionalValidation`): each carries the comment and URL the user's connection page
//! shows; every transition is reported to the gateway (and reported again until it takes it); a
//! retry task looks at each one every `pending_retry_secs`, asking the provider's
//! `PendingResolver` whether it is resolved (link it to a local account), still waiting (perhaps
//! with a new comment), or unchanged. An operator's `link` resolves a pending connection too.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::accounts::{AccountError, Accounts};
use super::model::PendingConnection;
use crate::protocol::{MappingReport, ReportedState};

/// The longest comment a pending connection carries.
pub const MAX_PENDING_COMMENT: usize = 1_000;

/// What the provider says about a pending connection when it is looked at again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Done: map the user to this local account (made from the ranges if it does not exist).
    Account(String),
    /// Still waiting, in this state with this comment and URL (a transition if any differs).
    Pending {
        state: ReportedState,
        comment: String,
        comment_url: Option<String>,
    },
    /// Nothing new.
    Unchanged,
}

pub type ResolveFuture<'a> = Pin<Box<dyn Future<Output = Resolution> + Send + 'a>>;

/// The provider's answer for pending connections (its own validation, a ticket system, …).
pub trait PendingResolver: Send + Sync {
    fn resolve<'a>(&'a self, pending: &'a PendingConnection) -> ResolveFuture<'a>;
}

/// Nothing resolves by itself: only an operator's `link` (and the retry of unreported states).
#[derive(Debug, Default, Clone, Copy)]
pub struct OperatorResolves;

impl PendingResolver for OperatorResolves {
    fn resolve<'a>(&'a self, _: &'a PendingConnection) -> ResolveFuture<'a> {
        Box::pin(async { Resolution::Unchanged })
    }
}

/// What one retry round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryRound {
    pub looked_at: usize,
    pub resolved: usize,
    pub reported: usize,
}

impl Accounts {
    /// Puts `gateway_username`'s connection in a pending `state` with what the user is told, and
    /// reports it if it is a transition (or not yet reported). Refuses `ok`, a comment over
    /// 1,000 characters or a URL that is not http(s).
    pub async fn mark_pending(
        &self,
        gateway_username: &str,
        state: ReportedState,
        comment: &str,
        comment_url: Option<&str>,
    ) -> Result<PendingConnection, AccountError> {
        if state == ReportedState::Ok {
            return Err(AccountError::InvalidPending("a pending state, not ok"));
        }
        if comment.chars().count() > MAX_PENDING_COMMENT {
            return Err(AccountError::InvalidPending(
                "a comment of at most 1000 characters",
            ));
        }
        if let Some(url) = comment_url {
            let ok = reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                return Err(AccountError::InvalidPending("an http(s) comment URL"));
            }
        }
        let now = self.clock().now_unix();
        let entry = PendingConnection {
            gateway_username: gateway_username.to_owned(),
            state,
            comment: comment.to_owned(),
            comment_url: comment_url.map(str::to_owned),
            since: now,
            next_retry_at: now + i64::from(self.config().pending_retry_secs),
            reported: false,
        };
        self.store().upsert_pending(&entry).await?;
        self.report_pending_state(gateway_username).await?;
        Ok(self
            .store()
            .pending(gateway_username)
            .await?
            .unwrap_or(entry))
    }

    /// One round over the pending connections due now.
    #[tracing::instrument(skip_all)]
    pub async fn retry_pending(
        &self,
        resolver: &dyn PendingResolver,
    ) -> Result<RetryRound, AccountError> {
        let now = self.clock().now_unix();
        let next = now + i64::from(self.config().pending_retry_secs);
        let mut round = RetryRound::default();
        for pending in self.store().pending_due(now).await? {
            round.looked_at += 1;
            let user = pending.gateway_username.clone();
            if self.store().mapping(&user).await?.is_some() {
                self.store().delete_pending(&user).await?;
                round.resolved += 1;
                continue;
            }
            let updated = match resolver.resolve(&pending).await {
                Resolution::Account(account) => match self.link(&user, &account, "").await {
                    Ok(_) => {
                        self.store().delete_pending(&user).await?;
                        round.resolved += 1;
                        continue;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "a resolved pending connection could not be linked; will retry");
                        PendingConnection {
                            next_retry_at: next,
                            ..pending
                        }
                    }
                },
                Resolution::Pending {
                    state,
                    comment,
                    comment_url,
                } if state != ReportedState::Ok => PendingConnection {
                    state,
                    comment,
                    comment_url,
                    since: now,
                    next_retry_at: next,
                    ..pending
                },
                Resolution::Pending { .. } | Resolution::Unchanged => PendingConnection {
                    next_retry_at: next,
                    ..pending
                },
            };
            self.store().upsert_pending(&updated).await?;
            if self.report_pending_state(&user).await? {
                round.reported += 1;
            }
        }
        Ok(round)
    }

    /// Reports the stored pending state of `gateway_username` unless the gateway has it; `true`
    /// when a report was taken now.
    async fn report_pending_state(&self, gateway_username: &str) -> Result<bool, AccountError> {
        let Some(pending) = self.store().pending(gateway_username).await? else {
            return Ok(false);
        };
        if pending.reported {
            return Ok(false);
        }
        let report = MappingReport {
            nonce: None,
            username: pending.gateway_username.clone(),
            local_identity: String::new(),
            state: pending.state,
            comment: Some(pending.comment.clone()),
            comment_url: pending.comment_url.clone(),
            renamed_from: None,
        };
        match self.reporter().report(&report).await {
            Ok(_) => {
                self.store().mark_pending_reported(gateway_username).await?;
                Ok(true)
            }
            Err(error) => {
                tracing::warn!(%error, state = ?pending.state, "the gateway did not take a pending state; will retry");
                Ok(false)
            }
        }
    }
}

/// Runs `retry_pending` every `interval` until `shutdown` resolves (a named background task of
/// `serve`, or of a provider's own `main`).
pub async fn run_pending_retries(
    accounts: Accounts,
    resolver: std::sync::Arc<dyn PendingResolver>,
    interval: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticks.tick() => {
                if let Err(error) = accounts.retry_pending(&*resolver).await {
                    tracing::warn!(%error, "a pending-connection retry round failed");
                }
            }
        }
    }
}
