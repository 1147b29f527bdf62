//! User mapping (SPEC §4): connection attempts with a single-use nonce bound to the session that
//! started them, provider reports (`report.rs`), completion by that session with the attempt's
//! completion code only (`complete.rs`), the broker's record of who used a provider
//! (`brokered.rs`), and disconnection from either side. The return URL is always the gateway's own.

mod brokered;
mod complete;
mod renames;
mod report;

pub use brokered::BrokeredUsers;
pub use complete::CompletionRefused;
pub use renames::Delivered;
pub use report::ReportOutcome;

use crate::accounts::principal;
use crate::clock::SharedClock;
use crate::manifests::ProviderClients;
use crate::model::{Connection, ConnectionState, Provider, ProviderStatus, User};
use crate::registry::visible_to;
use crate::secrets::{Secret, hash_secret, random_id};
use crate::store::{NewAttempt, Store, StoreError};
use crate::tokens::Tokens;
use provider_kit::protocol::{TYP_USERMAP, UsermapClaims};

/// How long an attempt's nonce stays valid.
pub const ATTEMPT_TTL_MS: i64 = 10 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("no provider {0:?}")]
    NoSuchProvider(String),
    #[error("provider {0} is not active")]
    ProviderInactive(String),
    #[error("you are already connected to {0}; disconnect first to connect another account")]
    AlreadyConnected(String),
    #[error("connecting an account needs a signed-in browser session, not an API token")]
    SessionRequired,
    #[error("{0}")]
    InvalidReport(String),
    /// A report that names no attempt or user this provider may report on. One answer for every
    /// such report, so a report never tells a provider which usernames exist.
    #[error("no connection of this provider matches this report")]
    NoSuchConnection,
    /// The browser's return was refused; what happened, in plain words.
    #[error("{0}")]
    Completion(CompletionRefused),
    #[error(
        "{username} is connected to local account {current}; the connection must be ended before it can map to {requested}"
    )]
    Remap {
        username: String,
        current: String,
        requested: String,
    },
    #[error("no connection to {0}")]
    NotConnected(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing the usermap token: {0}")]
    Token(String),
}

/// A started attempt: where to send the browser, with what.
pub struct Started {
    pub connection: Connection,
    /// `{provider}/ucloud/{id}/usermap`, to be POSTed with form field `token`.
    pub url: String,
    pub token: String,
}

#[derive(Clone)]
pub struct Connections {
    store: Store,
    clock: SharedClock,
    tokens: Tokens,
    issuer: String,
    http: ProviderClients,
    brokered: BrokeredUsers,
}

impl Connections {
    pub fn new(
        store: Store,
        clock: SharedClock,
        tokens: Tokens,
        issuer: String,
        http: ProviderClients,
    ) -> Self {
        Self {
            store,
            clock,
            tokens,
            issuer,
            http,
            brokered: BrokeredUsers::default(),
        }
    }

    /// The broker's hook, after its gates passed: `user` made a brokered request to `provider_id`
    /// (SPEC §4 implicit flow). Memory only, but for the first request since the connection ended
    /// or the record's memory lapsed, which writes one row. A failed write is logged, not fatal.
    pub async fn record_brokered(&self, user: &User, provider_id: &str) {
        let now = self.clock.now_ms();
        if self.brokered.seen(provider_id, user.id, now) {
            return;
        }
        match self.store.record_brokered(provider_id, user.id, now).await {
            Ok(()) => self.brokered.remember(provider_id, user.id, now),
            Err(e) => {
                tracing::error!(provider = %provider_id, error = %e, "recording a brokered user failed")
            }
        }
    }

    /// The change feed said another process removed the (provider, user) record: the next
    /// brokered request writes it again.
    pub fn forget_brokered(&self, provider_id: &str, user_id: i64) {
        self.brokered.forget(provider_id, user_id);
    }

    /// The change feed may have missed removals: every record is written again once.
    pub fn forget_all_brokered(&self) {
        self.brokered.forget_all();
    }

    /// Starts an explicit-flow attempt for `user` signed in with `session` (the cookie's secret).
    pub async fn start(
        &self,
        user: &User,
        session: Option<&str>,
        provider: &Provider,
    ) -> Result<Started, ConnectionError> {
        let id = provider.metadata.id.as_str();
        if !visible_to(user, provider) {
            return Err(ConnectionError::NoSuchProvider(id.to_owned()));
        }
        if provider.status != ProviderStatus::Active {
            return Err(ConnectionError::ProviderInactive(id.to_owned()));
        }
        let session = session.ok_or(ConnectionError::SessionRequired)?;
        let nonce = Secret::generate("");
        let now = self.clock.now_ms();
        let connection = self
            .store
            .start_attempt(
                &NewAttempt {
                    new_id: &random_id(),
                    user_id: user.id,
                    provider_id: id,
                    nonce_hash: &nonce.hash(),
                    session_hash: &hash_secret(session),
                    expires_at: now + ATTEMPT_TTL_MS,
                },
                now,
            )
            .await?
            .ok_or_else(|| ConnectionError::AlreadyConnected(id.to_owned()))?;
        let claims = UsermapClaims {
            service: self.tokens.service_claims(id, Some(principal(user)), None),
            nonce: nonce.expose().to_owned(),
            return_url: format!("{}/connections/{}/complete", self.issuer, connection.id),
        };
        let token = self
            .tokens
            .sign(TYP_USERMAP, &claims)
            .map_err(|e| ConnectionError::Token(e.to_string()))?;
        tracing::info!(user = %user.username, provider = %id, connection = %connection.id, "connection attempt started");
        Ok(Started {
            connection,
            url: format!("{}/usermap", provider.metadata.namespace_url()),
            token,
        })
    }

    pub async fn list(&self, user: &User) -> Result<Vec<Connection>, ConnectionError> {
        Ok(self.store.connections_of(user.id).await?)
    }

    pub async fn is_ok(&self, user: &User, provider_id: &str) -> Result<bool, ConnectionError> {
        Ok(self.store.connection_is_ok(user.id, provider_id).await?)
    }

    /// The user ends a connection; the provider is told (best effort: the gateway's side is final).
    pub async fn disconnect(
        &self,
        user: &User,
        provider: &Provider,
    ) -> Result<(), ConnectionError> {
        let id = provider.metadata.id.as_str();
        if !self.end(user.id, id).await? {
            return Err(ConnectionError::NotConnected(id.to_owned()));
        }
        self.tell_provider_unlink(user, provider).await;
        Ok(())
    }

    /// The provider ends a connection.
    pub async fn disconnect_by_provider(
        &self,
        provider: &Provider,
        username: &str,
    ) -> Result<(), ConnectionError> {
        let id = provider.metadata.id.as_str();
        let user = self
            .store
            .user_by_username(username)
            .await?
            .ok_or_else(|| ConnectionError::NotConnected(id.to_owned()))?;
        if !self.end(user.id, id).await? {
            return Err(ConnectionError::NotConnected(id.to_owned()));
        }
        tracing::info!(provider = %id, user = %username, "provider ended a connection");
        Ok(())
    }

    /// Every connection of `user` ends and each provider is told; for disabled accounts.
    pub async fn disconnect_all(
        &self,
        user: &User,
        providers: &[Provider],
    ) -> Result<usize, ConnectionError> {
        let mut ended = 0;
        for connection in self.store.connections_of(user.id).await? {
            if connection.state == ConnectionState::Disconnected {
                continue;
            }
            self.end(user.id, &connection.provider_id).await?;
            ended += 1;
            if let Some(p) = providers
                .iter()
                .find(|p| p.metadata.id.as_str() == connection.provider_id)
            {
                self.tell_provider_unlink(user, p).await;
            }
        }
        Ok(ended)
    }

    /// Ends a connection in the store, and the record that the user was brokered to the provider
    /// with it (in the store and in this process's memory).
    async fn end(&self, user_id: i64, provider_id: &str) -> Result<bool, ConnectionError> {
        let ended = self
            .store
            .disconnect(user_id, provider_id, self.clock.now_ms())
            .await?;
        self.brokered.forget(provider_id, user_id);
        Ok(ended)
    }

    /// `POST {provider}/ucloud/{id}/usermap/unlink` with a service token naming the user.
    async fn tell_provider_unlink(&self, user: &User, provider: &Provider) {
        let id = provider.metadata.id.as_str();
        let token = match self.tokens.service_token(id, Some(principal(user)), None) {
            Ok(t) => t,
            Err(e) => {
                return tracing::warn!(provider = %id, error = %e, "cannot sign the unlink call");
            }
        };
        let url = format!("{}/usermap/unlink", provider.metadata.namespace_url());
        let body = serde_json::json!({ "username": user.username });
        match self
            .http
            .post_json(&provider.metadata, &url, &token, &body)
            .await
        {
            Ok(r) if r.status.is_success() => {
                tracing::info!(provider = %id, user = %user.username, "provider told of disconnection")
            }
            Ok(r) => {
                tracing::warn!(provider = %id, status = r.status.as_u16(), "provider refused the unlink call")
            }
            Err(e) => {
                tracing::warn!(provider = %id, error = %e, "provider unreachable for the unlink call")
            }
        }
    }
}
