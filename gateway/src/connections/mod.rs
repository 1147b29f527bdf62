//! User mapping (SPEC §4): connection attempts with a single-use nonce bound to the session that
//! started them, provider reports, completion by that session only, and disconnection from either
//! side. The return URL is always the gateway's own.

use crate::accounts::principal;
use crate::clock::SharedClock;
use crate::manifests::ProviderClients;
use crate::model::{Connection, ConnectionState, Provider, ProviderStatus, Reported, User};
use crate::registry::visible_to;
use crate::secrets::{Secret, hash_secret, random_id};
use crate::store::{NewAttempt, Store, StoreError};
use crate::tokens::Tokens;
use provider_kit::protocol::{MappingReport, ReportedState, TYP_USERMAP, UsermapClaims};

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
    #[error(
        "this connection link is not valid: it was used already, has expired, or was started by someone else"
    )]
    InvalidAttempt,
    #[error("{0}")]
    InvalidReport(String),
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
        }
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

    /// A provider's report (SPEC §4 step 4, or the implicit flow without a nonce).
    pub async fn report(
        &self,
        provider: &Provider,
        report: MappingReport,
    ) -> Result<Connection, ConnectionError> {
        let id = provider.metadata.id.as_str();
        let local = report.local_identity.trim();
        // A pending report (e.g. `pendingAccountLinking`) may not have a local account yet.
        let needs_local = report.state == ReportedState::Ok;
        if (needs_local && local.is_empty()) || local.len() > 256 {
            return Err(ConnectionError::InvalidReport(
                "localIdentity: must have 1-256 characters (it may be empty only in a pending state)".into(),
            ));
        }
        let bounded = |v: &Option<String>, field: &str| match v {
            Some(s) if s.len() > 2000 => Err(ConnectionError::InvalidReport(format!(
                "{field}: at most 2000 characters"
            ))),
            _ => Ok(()),
        };
        bounded(&report.comment, "comment")?;
        bounded(&report.comment_url, "commentUrl")?;
        if let Some(url) = &report.comment_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConnectionError::InvalidReport(
                "commentUrl: must be an http(s) URL".into(),
            ));
        }
        let user = self
            .store
            .user_by_username(&report.username)
            .await?
            .ok_or_else(|| {
                ConnectionError::InvalidReport(format!(
                    "username: no gateway user {:?}",
                    report.username
                ))
            })?;
        let reported = Reported {
            state: match report.state {
                ReportedState::Ok => ConnectionState::Ok,
                ReportedState::PendingAccountLinking => ConnectionState::PendingAccountLinking,
                ReportedState::PendingAdditionalValidation => {
                    ConnectionState::PendingAdditionalValidation
                }
            },
            local_identity: local.to_owned(),
            comment: report.comment.clone(),
            comment_url: report.comment_url.clone(),
        };
        // No silent re-mapping: a connected user keeps their local account until disconnected.
        if let Some(current) = self.store.connection(user.id, id).await?
            && current.state == ConnectionState::Ok
            && let Some(existing) = current.local_identity.as_deref()
            && existing != local
        {
            return Err(ConnectionError::Remap {
                username: user.username,
                current: existing.to_owned(),
                requested: local.to_owned(),
            });
        }
        let now = self.clock.now_ms();
        let connection = match report.nonce.as_deref() {
            Some(nonce) => {
                let (attempt, connection) = self
                    .store
                    .attempt(&hash_secret(nonce))
                    .await?
                    .ok_or(ConnectionError::InvalidAttempt)?;
                // The nonce must belong to this provider and this user.
                if connection.provider_id != id || connection.user_id != user.id {
                    return Err(ConnectionError::InvalidAttempt);
                }
                if !self
                    .store
                    .report_attempt(&hash_secret(nonce), &attempt.connection_id, &reported, now)
                    .await?
                {
                    return Err(ConnectionError::InvalidAttempt);
                }
                self.store
                    .connection(user.id, id)
                    .await?
                    .ok_or(ConnectionError::InvalidAttempt)?
            }
            None => {
                self.store
                    .report_implicit(&random_id(), user.id, id, &reported, now)
                    .await?
            }
        };
        tracing::info!(provider = %id, user = %user.username, state = crate::model::state_str(connection.state), "mapping reported");
        Ok(connection)
    }

    /// The browser's return (SPEC §4 step 5): only the session that started the attempt completes it.
    pub async fn complete(
        &self,
        connection_id: &str,
        nonce: &str,
        session: Option<&str>,
    ) -> Result<Connection, ConnectionError> {
        let session = session.ok_or(ConnectionError::InvalidAttempt)?;
        self.store
            .complete_attempt(
                &hash_secret(nonce),
                connection_id,
                &hash_secret(session),
                self.clock.now_ms(),
            )
            .await?
            .ok_or(ConnectionError::InvalidAttempt)
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
        if !self
            .store
            .disconnect(user.id, id, self.clock.now_ms())
            .await?
        {
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
        if !self
            .store
            .disconnect(user.id, id, self.clock.now_ms())
            .await?
        {
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
            self.store
                .disconnect(user.id, &connection.provider_id, self.clock.now_ms())
                .await?;
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
