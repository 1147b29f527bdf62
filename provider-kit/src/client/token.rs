//! The provider's access token (SPEC §2.1): obtained with the refresh token through the OAuth 2.0 form
//! (`POST /oauth/token`, which also says how long the token lives), reused until shortly before it
//! expires, and renewed by one caller at a time: everyone else waits for that renewal and shares
//! its result, so a burst of calls (or of `401`s) costs the gateway one refresh.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::error::{ClientError, clip};
use super::secret::Secret;
use super::transport::read_bounded;
use super::{GatewayClient, Inner};
use crate::protocol::{OAuthError, OAuthTokenResponse};

/// One access token and when to stop using it.
#[derive(Debug)]
pub(crate) struct AccessToken {
    pub(crate) value: Secret,
    /// Renew once the clock reaches this (Unix seconds).
    renew_at: i64,
    /// Tells tokens apart: a `401` names the token it was answered for.
    pub(crate) generation: u64,
}

#[derive(Default)]
pub(crate) struct TokenState {
    current: RwLock<Option<Arc<AccessToken>>>,
    /// Held while renewing; holds the outcome of the last failed renewal.
    renewal: tokio::sync::Mutex<Option<ClientError>>,
    /// Renewals finished (either way); read before waiting to see whether one happened meanwhile.
    finished: AtomicU64,
    pub(crate) renewals: AtomicU64,
}

impl Inner {
    fn usable(&self, rejected: Option<u64>) -> Option<Arc<AccessToken>> {
        let current = self
            .tokens
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        let fresh = self.clock.now_unix() < current.renew_at;
        let refused = rejected == Some(current.generation);
        (fresh && !refused).then_some(current)
    }

    /// A token to call the gateway with. `rejected` is the generation of a token the gateway just
    /// answered `401` for: that one is not reused, whatever its expiry says.
    pub(crate) async fn access_token(
        &self,
        rejected: Option<u64>,
    ) -> Result<Arc<AccessToken>, ClientError> {
        if let Some(token) = self.usable(rejected) {
            return Ok(token);
        }
        let finished_before = self.tokens.finished.load(Ordering::Acquire);
        let mut last_failure = self.tokens.renewal.lock().await;
        // Whoever held the lock before us may have renewed already.
        if let Some(token) = self.usable(rejected) {
            return Ok(token);
        }
        // ... or failed just now: share that answer instead of asking again at once.
        if self.tokens.finished.load(Ordering::Acquire) != finished_before
            && let Some(error) = last_failure.as_ref()
        {
            return Err(error.clone());
        }
        let outcome = self.renew().await;
        self.tokens.finished.fetch_add(1, Ordering::Release);
        match outcome {
            Ok(token) => {
                *last_failure = None;
                let token = Arc::new(token);
                *self
                    .tokens
                    .current
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&token));
                Ok(token)
            }
            Err(error) => {
                tracing::warn!(%error, "could not renew the access token");
                *last_failure = Some(error.clone());
                Err(error)
            }
        }
    }

    #[tracing::instrument(skip_all)]
    async fn renew(&self) -> Result<AccessToken, ClientError> {
        let generation = self.tokens.renewals.fetch_add(1, Ordering::Relaxed) + 1;
        let refreshed = self.refresh_once().await?;
        let answer = refreshed.answer;
        let margin = i64::try_from(self.config.renew_before.as_secs())
            .unwrap_or(i64::MAX)
            .min(answer.expires_in / 2);
        tracing::debug!(expires_in = answer.expires_in, "renewed the access token");
        Ok(AccessToken {
            value: Secret::new(answer.access_token),
            renew_at: refreshed.sent_at.saturating_add(answer.expires_in - margin),
            generation,
        })
    }

    /// One `POST /oauth/token`, with the local clock read before sending and after the answer.
    pub(crate) async fn refresh_once(&self) -> Result<Refreshed, ClientError> {
        let sent_at = self.clock.now_unix();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", self.config.refresh_token.expose()),
        ];
        let response = self
            .http
            .post(format!("{}/oauth/token", self.base))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| ClientError::transport(&e, self.config.timeout))?;
        let status = response.status().as_u16();
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_secs()).ok());
        let body = read_bounded(
            response,
            self.config.max_response_bytes,
            self.config.timeout,
        )
        .await?;
        let received_at = self.clock.now_unix();
        if status != 200 {
            return Err(refresh_error(status, &body));
        }
        let answer: OAuthTokenResponse = serde_json::from_slice(&body).map_err(|e| {
            ClientError::InvalidResponse(format!("token answer: {}", clip(&e.to_string())))
        })?;
        if !answer.token_type.eq_ignore_ascii_case("bearer") || answer.expires_in <= 0 {
            return Err(ClientError::InvalidResponse(format!(
                "token answer: token_type {:?}, expires_in {}",
                clip(&answer.token_type),
                answer.expires_in
            )));
        }
        Ok(Refreshed {
            answer,
            date,
            sent_at,
            received_at,
        })
    }
}

/// A successful refresh and when it happened, by both clocks.
pub(crate) struct Refreshed {
    pub(crate) answer: OAuthTokenResponse,
    /// The gateway's `Date` header, in Unix seconds.
    pub(crate) date: Option<i64>,
    pub(crate) sent_at: i64,
    pub(crate) received_at: i64,
}

/// What a fresh refresh says about the gateway's clock, for `doctor` (never the token itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenProbe {
    /// The `iat` of the access token the gateway just issued, when it is a JWT that has one.
    pub issued_at: Option<i64>,
    /// The gateway's `Date` header on that answer.
    pub date: Option<i64>,
    /// This provider's clock just before sending and just after the answer.
    pub sent_at: i64,
    pub received_at: i64,
    pub expires_in: i64,
}

impl GatewayClient {
    /// Asks the gateway for a fresh access token and reports what it says about the gateway's clock.
    /// The token is not kept; `check` and every call still renew their own.
    pub async fn probe(&self) -> Result<TokenProbe, ClientError> {
        let refreshed = self.inner.refresh_once().await?;
        Ok(TokenProbe {
            issued_at: issued_at(&refreshed.answer.access_token),
            date: refreshed.date,
            sent_at: refreshed.sent_at,
            received_at: refreshed.received_at,
            expires_in: refreshed.answer.expires_in,
        })
    }
}

/// The `iat` claim of a JWT, read without verifying it: it is only compared with our clock.
fn issued_at(token: &str) -> Option<i64> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()?
        .get("iat")?
        .as_i64()
}

/// RFC 6749 §5.2: `invalid_grant` means the refresh token itself is no good.
fn refresh_error(status: u16, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<OAuthError>(body) {
        Ok(oauth) if oauth.error == "invalid_grant" || status == 401 => {
            let why = oauth.error_description.unwrap_or(oauth.error);
            ClientError::RefreshRejected(clip(&why))
        }
        Ok(oauth) if (400..500).contains(&status) => ClientError::Rejected {
            status,
            code: Some(clip(&oauth.error)),
            detail: clip(oauth.error_description.as_deref().unwrap_or("")),
        },
        _ => ClientError::from_answer(status, body),
    }
}

impl GatewayClient {
    /// Renews the access token now unless a fresh one is held; call it at start-up to find a wrong
    /// URL or a revoked refresh token before the first charge does.
    pub async fn check(&self) -> Result<(), ClientError> {
        self.inner.access_token(None).await.map(|_| ())
    }
}
