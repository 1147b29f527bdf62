//! SPEC §4 steps 2–5 on the provider, without HTTP: accept a usermap token and keep its attempt
//! (`start`), show who is connecting (`pending`), take the local sign-in (`login`, or `prove` for a
//! site's own login pages), show who is being linked to which local account and wait for the user's
//! click (`confirmation`, `confirm` in `flow/confirm.rs`), then record the mapping, report it with
//! the nonce and hand back the gateway's return URL with the completion code. The return URL and
//! the user only ever come from the verified token.

mod confirm;

pub use confirm::Confirmation;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::accounts::{AccountError, Accounts};
use super::local_auth::{
    AuthenticatorUnavailable, LocalAuthenticator, MAX_PASSWORD_LEN, MAX_USERNAME_LEN, random,
};
use super::store::{GatewayRename, NewAttempt, StoreError, StoredAttempt};
use crate::auth::{Verifier, VerifyError};
use crate::client::ClientError;

const MAX_NONCE_LEN: usize = 256;
const MAX_GATEWAY_USERNAME_LEN: usize = 256;
/// Attempt ids are 32 random bytes in base64url: 43 characters.
const MAX_ATTEMPT_ID_LEN: usize = 64;
/// Wrong passwords one attempt takes before it is closed: guessing needs a new attempt, and so a
/// new connection started at the gateway, every few tries.
pub const MAX_LOGIN_FAILURES: i64 = 5;

/// How the flow presents itself; the `usermap:` section of a provider's configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowSettings {
    /// Shown on the login page: "Connect to {display_name}".
    pub display_name: String,
    /// Mark the attempt cookie `Secure`; set it when the provider is served over HTTPS.
    pub secure_cookies: bool,
    /// An attempt lives until its token expires, and never longer than this.
    pub max_attempt_secs: i64,
    /// When set, a token's `returnUrl` must be on this origin (`https://gateway.example.org`).
    pub gateway_origin: Option<String>,
}

impl Default for FlowSettings {
    fn default() -> Self {
        Self::new("this provider")
    }
}

impl FlowSettings {
    pub fn new(display_name: impl Into<String>) -> Self {
        Self {
            display_name: display_name.into(),
            secure_cookies: false,
            max_attempt_secs: 15 * 60,
            gateway_origin: None,
        }
    }
}

/// Why a step of the flow was refused. None of them changed anything.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("the usermap token was refused: {0}")]
    Token(#[from] VerifyError),
    #[error("the usermap token carries no usable {0}")]
    Claims(&'static str),
    #[error("this usermap token was used before")]
    NonceUsed,
    #[error("no connection attempt is bound to this browser")]
    NoAttempt,
    #[error("this connection attempt was completed before")]
    AttemptUsed,
    #[error("this connection attempt has expired")]
    AttemptExpired,
    #[error("the form's CSRF token does not belong to this browser's attempt")]
    Csrf,
    #[error("no local account was signed in to for this attempt yet")]
    NotProven,
    #[error("wrong username or password")]
    BadCredentials,
    #[error("too many wrong passwords for this attempt")]
    TooManyFailures,
    #[error(transparent)]
    Unavailable(#[from] AuthenticatorUnavailable),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error("the gateway did not take the report: {0}")]
    Report(#[source] ClientError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A started attempt: the cookie value binding it to this browser, and how long it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub attempt_id: String,
    pub max_age_secs: i64,
}

/// What the login page shows and needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAttempt {
    pub gateway_username: String,
    pub full_name: String,
    pub csrf: String,
    /// The gateway's origin, where the browser goes next (for the page's `form-action`).
    pub return_origin: String,
}

/// A finished attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// `returnUrl?nonce=…&code=…`, to `303` the browser to.
    pub redirect_url: String,
    pub local_account: String,
}

/// The usermap flow of one provider. Cheap to clone.
#[derive(Clone)]
pub struct UsermapFlow {
    inner: Arc<Inner>,
}

struct Inner {
    verifier: Verifier,
    accounts: Accounts,
    authenticator: Arc<dyn LocalAuthenticator>,
    settings: FlowSettings,
}

impl UsermapFlow {
    pub fn new(
        verifier: Verifier,
        accounts: Accounts,
        authenticator: Arc<dyn LocalAuthenticator>,
        settings: FlowSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                verifier,
                accounts,
                authenticator,
                settings,
            }),
        }
    }

    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
    }

    pub fn settings(&self) -> &FlowSettings {
        &self.inner.settings
    }

    pub fn authenticator(&self) -> &dyn LocalAuthenticator {
        &*self.inner.authenticator
    }

    /// Where the flow is served: `/ucloud/<id>/usermap`.
    pub fn base_path(&self) -> String {
        format!("/ucloud/{}/usermap", self.inner.verifier.provider_id())
    }

    /// Step 2: verifies the usermap token and keeps its attempt, once per nonce.
    #[tracing::instrument(skip_all)]
    pub async fn start(&self, token: &str) -> Result<Started, FlowError> {
        let claims = self.inner.verifier.verify_usermap(token).await?;
        let principal = claims
            .service
            .principal
            .ok_or(FlowError::Claims("principal"))?;
        let nonce = claims.nonce;
        if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN || nonce.chars().any(char::is_control) {
            return Err(FlowError::Claims("nonce"));
        }
        if principal.username.is_empty() || principal.username.len() > MAX_GATEWAY_USERNAME_LEN {
            return Err(FlowError::Claims("principal"));
        }
        return_origin(
            &claims.return_url,
            self.inner.settings.gateway_origin.as_deref(),
        )?;
        let now = self.inner.accounts.clock().now_unix();
        let expires_at = claims
            .service
            .exp
            .min(now.saturating_add(self.inner.settings.max_attempt_secs));
        if expires_at <= now {
            return Err(FlowError::AttemptExpired);
        }
        let attempt_id = URL_SAFE_NO_PAD.encode(random::<32>());
        let csrf = URL_SAFE_NO_PAD.encode(random::<32>());
        let full_name = format!("{} {}", principal.first_name, principal.last_name);
        let organization = principal
            .organization
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty() && o.len() <= MAX_GATEWAY_USERNAME_LEN);
        let id_hash = id_hash(&attempt_id);
        let new = NewAttempt {
            id_hash: &id_hash,
            nonce: &nonce,
            gateway_username: &principal.username,
            full_name: full_name.trim(),
            organization,
            return_url: &claims.return_url,
            csrf: &csrf,
            expires_at,
            created_at: now,
        };
        self.inner
            .accounts
            .store()
            .insert_attempt(new)
            .await
            .map_err(|error| match error {
                StoreError::Conflict(_) => FlowError::NonceUsed,
                other => other.into(),
            })?;
        Ok(Started {
            attempt_id,
            max_age_secs: expires_at - now,
        })
    }

    /// The attempt behind the browser's cookie, if it can still be completed.
    pub async fn pending(&self, attempt_id: &str) -> Result<PendingAttempt, FlowError> {
        let attempt = self.live_attempt(attempt_id).await?;
        Ok(PendingAttempt {
            return_origin: return_origin(&attempt.return_url, None)?,
            gateway_username: attempt.gateway_username,
            full_name: attempt.full_name,
            csrf: attempt.csrf,
        })
    }

    /// Step 3 with the built-in form: the CSRF token must be the attempt's, then the site's
    /// `LocalAuthenticator` decides. Wrong credentials leave the attempt pending, until the
    /// `MAX_LOGIN_FAILURES`th closes it. A right one is only proven (`prove`): nothing is mapped
    /// before the user confirms.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        attempt_id: &str,
        csrf: &str,
        username: &str,
        password: &str,
    ) -> Result<(), FlowError> {
        let attempt = self.live_attempt(attempt_id).await?;
        if aws_lc_rs::constant_time::verify_slices_are_equal(
            attempt.csrf.as_bytes(),
            csrf.as_bytes(),
        )
        .is_err()
        {
            return Err(FlowError::Csrf);
        }
        if username.is_empty()
            || username.len() > MAX_USERNAME_LEN
            || password.len() > MAX_PASSWORD_LEN
        {
            return Err(FlowError::BadCredentials);
        }
        let found = self
            .inner
            .authenticator
            .authenticate(username, password)
            .await?;
        let Some(identity) = found else {
            let store = self.inner.accounts.store();
            store.attempt_failed(&id_hash(attempt_id)).await?;
            return Err(FlowError::BadCredentials);
        };
        self.prove(attempt_id, &identity).await
    }

    /// The gateway ended the connection (SPEC §4): forget the mapping. `false` if there was none.
    pub async fn unlink(&self, gateway_username: &str) -> Result<bool, FlowError> {
        Ok(self.inner.accounts.unlink(gateway_username).await?)
    }

    /// The gateway merged `from` into `to` (SPEC §4): the mapping follows the new username.
    pub async fn rename(&self, from: &str, to: &str) -> Result<GatewayRename, FlowError> {
        Ok(self.inner.accounts.rename_user(from, to).await?)
    }

    async fn live_attempt(&self, attempt_id: &str) -> Result<StoredAttempt, FlowError> {
        let hash = checked_hash(attempt_id)?;
        let attempt = self
            .inner
            .accounts
            .store()
            .attempt(&hash)
            .await?
            .ok_or(FlowError::NoAttempt)?;
        if attempt.used_at.is_some() {
            return Err(FlowError::AttemptUsed);
        }
        if attempt.expires_at <= self.inner.accounts.clock().now_unix() {
            return Err(FlowError::AttemptExpired);
        }
        if attempt.failures >= MAX_LOGIN_FAILURES {
            return Err(FlowError::TooManyFailures);
        }
        Ok(attempt)
    }
}

/// The stored form of an attempt id: SHA-256 in hex, so the database never holds a live cookie.
fn id_hash(attempt_id: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, attempt_id.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn checked_hash(attempt_id: &str) -> Result<String, FlowError> {
    if attempt_id.is_empty() || attempt_id.len() > MAX_ATTEMPT_ID_LEN {
        return Err(FlowError::NoAttempt);
    }
    Ok(id_hash(attempt_id))
}

/// The origin of a return URL, which must be absolute http(s) without credentials or fragment,
/// and on `expected` when one is configured.
pub(crate) fn return_origin(url: &str, expected: Option<&str>) -> Result<String, FlowError> {
    let bad = || FlowError::Claims("returnUrl");
    let parsed = reqwest::Url::parse(url).map_err(|_| bad())?;
    let usable = matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some()
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.fragment().is_none();
    let origin = parsed.origin().ascii_serialization();
    let expected_ok = expected.is_none_or(|e| e.trim_end_matches('/') == origin);
    if !usable || !expected_ok {
        return Err(bad());
    }
    Ok(origin)
}

/// `return_url` with `nonce=…&code=…` appended to its query, encoded.
pub(crate) fn with_nonce_and_code(
    return_url: &str,
    nonce: &str,
    code: &str,
) -> Result<String, FlowError> {
    let mut url = reqwest::Url::parse(return_url).map_err(|_| FlowError::Claims("returnUrl"))?;
    url.query_pairs_mut()
        .append_pair("nonce", nonce)
        .append_pair("code", code);
    Ok(url.into())
}
