//! Federated sign-in with OpenID Connect (SPEC §8): the redirect to the IdP (`start`) and the
//! callback (`finish`) that proves whom the IdP vouches for. Accounts are resolved afterwards by
//! `accounts::federated`. Hand-written on `jsonwebtoken` (see docs/architecture.md for why);
//! every call to an IdP goes through the outbound policy's bounded exchange.
//!
//! Flow: `start` stores a single-use attempt (hashes of `state` and of a browser secret, the
//! `nonce`, the PKCE verifier, where to go next) and returns the IdP URL and the browser secret for
//! a short-lived cookie; `finish` takes (deletes) the attempt by `state`, checks the cookie, trades
//! the code with the verifier, validates the ID token and reads userinfo.

mod claims;
pub mod config;
mod discovery;
pub mod id_token;
mod token;

pub use config::{AccountsConfig, IdentityProviderConfig, TokenAuth};
pub use discovery::IdpFault;

use crate::clock::SharedClock;
use crate::model::{OidcAttempt, VerifiedIdentity};
use crate::outbound::{HttpClient, OutboundConfig};
use crate::secrets::{Secret, hash_secret, random_bytes};
use crate::store::{Store, StoreError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use discovery::{Discovered, Keys};

use std::sync::Arc;
use tokio::sync::RwLock;

/// How long the browser has between the redirect and the callback, ms.
pub const ATTEMPT_TTL_MS: i64 = 10 * 60 * 1000;
/// At most this many sign-ins under way at once (anyone may start one): beyond, `start` refuses
/// until attempts expire, so a flood of starts costs bounded storage.
pub const MAX_LIVE_ATTEMPTS: i64 = 20_000;

/// Why a federated sign-in did not prove anyone. Each says, in words, what the user can do.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("there is no identity provider {0:?}")]
    UnknownIdp(String),
    #[error("{name} {fault}")]
    Idp { name: String, fault: IdpFault },
    #[error("the sign-in was cancelled at {0}")]
    Cancelled(String),
    #[error("{name} refused the sign-in ({code})")]
    Refused { name: String, code: String },
    /// Unknown, used, expired or foreign `state`, or a missing or wrong browser cookie.
    #[error(
        "this sign-in link is not valid any more (used, expired, or started in another browser)"
    )]
    InvalidState,
    #[error(transparent)]
    IdToken(#[from] id_token::Refused),
    #[error("{0}")]
    Invalid(&'static str),
    #[error("too many sign-ins are under way; try again in a few minutes")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One configured IdP with what was learnt of it.
struct Idp {
    config: IdentityProviderConfig,
    secret: String,
    discovered: RwLock<Option<Arc<Discovered>>>,
    keys: RwLock<Keys>,
}

/// Every configured IdP, their caches, and the client that reaches them.
#[derive(Clone)]
pub struct IdentityProviders {
    idps: Arc<Vec<Idp>>,
    client: Option<HttpClient>,
    store: Store,
    clock: SharedClock,
    gateway: String,
}

/// A redirect to the IdP and the secret the browser must bring back in its cookie.
pub struct Started {
    pub url: String,
    pub browser_secret: Secret,
}

/// The secrets the browser's cookies carry at the callback.
#[derive(Clone, Copy, Default)]
pub struct BrowserSecrets<'a> {
    /// The sign-in attempt's cookie.
    pub attempt_cookie: Option<&'a str>,
    /// The session cookie.
    pub session: Option<&'a str>,
}

/// A callback the IdP vouched for.
pub struct Finished {
    pub identity: VerifiedIdentity,
    pub next: String,
    /// `Some(user)` for a link attempt: the identity joins this account.
    pub link_user: Option<i64>,
}

/// The callback's query.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

impl IdentityProviders {
    /// Reads each IdP's client secret file. Nothing is fetched yet: discovery happens on first use,
    /// so an IdP that is down does not stop the gateway.
    pub fn new(
        configs: &[IdentityProviderConfig],
        outbound: &OutboundConfig,
        store: Store,
        clock: SharedClock,
        gateway: String,
    ) -> Result<Self, String> {
        let mut idps = Vec::new();
        for c in configs {
            let secret = match &c.client_secret_file {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| {
                        format!(
                            "identity_providers[{}]: client_secret_file {}: {e}",
                            c.id,
                            path.display()
                        )
                    })?
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned(),
                None => String::new(),
            };
            idps.push(Idp {
                config: c.clone(),
                secret,
                discovered: RwLock::new(None),
                keys: RwLock::new(Keys::default()),
            });
        }
        let client = if idps.is_empty() {
            None
        } else {
            let hosts = configs.iter().filter_map(|c| {
                url::Url::parse(&c.issuer)
                    .ok()?
                    .host_str()
                    .map(|h| h.trim_matches(['[', ']']).to_owned())
            });
            let allow_http = configs.iter().any(|c| c.issuer.starts_with("http://"));
            Some(crate::outbound::idp_client(outbound, hosts, allow_http)?)
        };
        Ok(Self {
            idps: Arc::new(idps),
            client,
            store,
            clock,
            gateway,
        })
    }

    /// `(id, display_name)` of each IdP, in configuration order, for the sign-in page.
    pub fn list(&self) -> Vec<(String, String)> {
        self.idps
            .iter()
            .map(|i| (i.config.id.clone(), i.config.display_name.clone()))
            .collect()
    }

    /// Where a browser may be sent to sign in (for a page's `form-action`): each issuer's origin
    /// and, once discovered, its authorization endpoint's.
    pub async fn authorization_origins(&self) -> Vec<String> {
        let mut origins = Vec::new();
        for idp in self.idps.iter() {
            let mut urls = vec![url::Url::parse(&idp.config.issuer).ok()];
            if let Some(d) = idp.discovered.read().await.as_ref() {
                urls.push(Some(d.authorization_endpoint.clone()));
            }
            for origin in urls
                .into_iter()
                .flatten()
                .map(|u| u.origin().ascii_serialization())
            {
                if !origins.contains(&origin) {
                    origins.push(origin);
                }
            }
        }
        origins
    }

    fn idp(&self, id: &str) -> Result<&Idp, OidcError> {
        self.idps
            .iter()
            .find(|i| i.config.id == id)
            .ok_or_else(|| OidcError::UnknownIdp(id.chars().take(40).collect()))
    }

    fn client(&self) -> Result<&HttpClient, OidcError> {
        self.client
            .as_ref()
            .ok_or(OidcError::Invalid("no identity provider is configured"))
    }

    pub fn callback_url(&self, id: &str) -> String {
        format!("{}/auth/oidc/{id}/callback", self.gateway)
    }

    fn fault(idp: &Idp, fault: IdpFault) -> OidcError {
        tracing::warn!(idp = %idp.config.id, fault = %fault, "identity provider unusable");
        OidcError::Idp {
            name: idp.config.display_name.clone(),
            fault,
        }
    }

    async fn discovered(&self, idp: &Idp) -> Result<Arc<Discovered>, OidcError> {
        let now = self.clock.now_secs();
        if let Some(d) = idp.discovered.read().await.as_ref()
            && now - d.fetched_at < discovery::DISCOVERY_TTL_SECS
        {
            return Ok(d.clone());
        }
        let d = discovery::discover(self.client()?, &idp.config, now)
            .await
            .map_err(|f| Self::fault(idp, f))?;
        let d = Arc::new(d);
        *idp.discovered.write().await = Some(d.clone());
        Ok(d)
    }

    /// The verification key for `kid`, fetching the JWK Set again when it is not known.
    async fn key(
        &self,
        idp: &Idp,
        d: &Discovered,
        kid: &str,
        alg: jsonwebtoken::Algorithm,
    ) -> Result<jsonwebtoken::DecodingKey, OidcError> {
        let pick = |keys: &Keys| {
            let found = keys.by_kid.get(kid).or_else(|| {
                // A token without kid may use the only key.
                (kid.is_empty() && keys.by_kid.len() == 1)
                    .then(|| keys.by_kid.values().next())
                    .flatten()
            });
            found
                .filter(|(_, key_alg)| key_alg.is_none_or(|a| a == alg))
                .map(|(k, _)| k.clone())
        };
        if let Some(k) = pick(&*idp.keys.read().await) {
            return Ok(k);
        }
        let now = self.clock.now_secs();
        let mut keys = idp.keys.write().await;
        if let Some(k) = pick(&keys) {
            return Ok(k);
        }
        if keys.fetched_at != 0 && now - keys.fetched_at < discovery::MIN_JWKS_REFETCH_SECS {
            return Err(id_token::Refused(
                "signed with a key the identity provider does not publish",
            )
            .into());
        }
        *keys = discovery::fetch_keys(self.client()?, &d.jwks_uri, now)
            .await
            .map_err(|f| Self::fault(idp, f))?;
        pick(&keys).ok_or_else(|| {
            id_token::Refused("signed with a key the identity provider does not publish").into()
        })
    }

    /// Begins a sign-in at IdP `id`; `next` is a path already checked by the caller.
    pub async fn start(&self, id: &str, next: &str) -> Result<Started, OidcError> {
        let browser_secret = Secret::generate("gwo_");
        let url = self.begin(id, next, browser_secret.hash(), None).await?;
        Ok(Started {
            url,
            browser_secret,
        })
    }

    /// Begins linking an identity at IdP `id` to `user_id`'s account (SPEC §8): the attempt is
    /// bound to `session` (the cookie's secret), so only the session that asked can finish it.
    /// Returns the URL to send the browser to.
    pub async fn start_link(
        &self,
        id: &str,
        user_id: i64,
        session: &str,
        next: &str,
    ) -> Result<String, OidcError> {
        self.begin(id, next, hash_secret(session), Some(user_id))
            .await
    }

    async fn begin(
        &self,
        id: &str,
        next: &str,
        browser_hash: String,
        link_user: Option<i64>,
    ) -> Result<String, OidcError> {
        let idp = self.idp(id)?;
        let now = self.clock.now_ms();
        if self.store.live_oidc_attempts(now).await? >= MAX_LIVE_ATTEMPTS {
            self.store.delete_expired_oidc_attempts(now).await?;
            tracing::warn!("federated sign-in refused: too many attempts under way");
            return Err(OidcError::Busy);
        }
        let d = self.discovered(idp).await?;
        let state = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let nonce = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let verifier = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let challenge = URL_SAFE_NO_PAD.encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref(),
        );
        self.store
            .insert_oidc_attempt(&OidcAttempt {
                state_hash: hash_secret(&state),
                browser_hash,
                idp_id: idp.config.id.clone(),
                nonce: nonce.clone(),
                pkce_verifier: verifier,
                next_path: next.to_owned(),
                expires_at: now + ATTEMPT_TTL_MS,
                link_user,
            })
            .await?;
        let mut url = d.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &idp.config.client_id)
            .append_pair("redirect_uri", &self.callback_url(id))
            .append_pair("scope", &idp.config.scopes)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    /// Completes a sign-in: the attempt is used up whatever the outcome. Returns whom the IdP
    /// vouched for, where the user wanted to go and, for a link attempt, whose account it joins.
    /// `browser` holds the request's cookie secrets: a sign-in attempt checks the attempt cookie,
    /// a link attempt the session that started it.
    pub async fn finish(
        &self,
        id: &str,
        callback: &Callback,
        browser: BrowserSecrets<'_>,
    ) -> Result<Finished, OidcError> {
        let idp = self.idp(id)?;
        let state = callback
            .state
            .as_deref()
            .filter(|s| s.len() <= 512)
            .ok_or(OidcError::InvalidState)?;
        let attempt = self
            .store
            .take_oidc_attempt(&hash_secret(state))
            .await?
            .ok_or(OidcError::InvalidState)?;
        let presented = match attempt.link_user {
            Some(_) => browser.session,
            None => browser.attempt_cookie,
        };
        let browser_ok =
            presented.is_some_and(|b| id_token::same(&hash_secret(b), &attempt.browser_hash));
        if attempt.idp_id != idp.config.id
            || attempt.expires_at <= self.clock.now_ms()
            || !browser_ok
        {
            return Err(OidcError::InvalidState);
        }
        if let Some(error) = &callback.error {
            let name = idp.config.display_name.clone();
            return Err(if error == "access_denied" || error == "login_required" {
                OidcError::Cancelled(name)
            } else {
                OidcError::Refused {
                    name,
                    code: error
                        .chars()
                        .filter(|c| c.is_ascii_graphic())
                        .take(64)
                        .collect(),
                }
            });
        }
        let code = callback
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 2048)
            .ok_or(OidcError::Invalid("the identity provider sent no code"))?;
        let d = self.discovered(idp).await?;
        let tokens = token::exchange_code(
            self.client()?,
            &idp.config,
            &idp.secret,
            &d,
            code,
            &attempt.pkce_verifier,
            &self.callback_url(id),
        )
        .await
        .map_err(|e| match e {
            token::TokenFault::Idp(f) => Self::fault(idp, f),
            token::TokenFault::Refused(code) => OidcError::Refused {
                name: idp.config.display_name.clone(),
                code,
            },
        })?;
        let expected = id_token::Expected {
            issuer: &idp.config.issuer,
            client_id: &idp.config.client_id,
            nonce: &attempt.nonce,
            algorithms: &d.algorithms,
            now_secs: self.clock.now_secs(),
        };
        let header = id_token::header(&tokens.id_token, &expected)?;
        let key = self
            .key(idp, &d, header.kid.as_deref().unwrap_or(""), header.alg)
            .await?;
        let claims = id_token::verify(&tokens.id_token, &header, &key, &expected)?;
        let userinfo = match (&d.userinfo_endpoint, &tokens.access_token) {
            (Some(url), Some(access)) => token::userinfo(self.client()?, url, access)
                .await
                .map_err(|f| Self::fault(idp, f))?,
            _ => serde_json::Map::new(),
        };
        if userinfo
            .get("sub")
            .is_some_and(|s| Some(s) != claims.get("sub"))
        {
            return Err(OidcError::Invalid(
                "userinfo describes another user than the ID token",
            ));
        }
        let identity = claims::identity(&idp.config, &claims, &userinfo);
        tracing::info!(idp = %idp.config.id, "identity provider vouched for a user");
        Ok(Finished {
            identity,
            next: attempt.next_path,
            link_user: attempt.link_user,
        })
    }

    /// Removes attempts nobody came back for.
    pub async fn sweep(&self) -> Result<u64, StoreError> {
        self.store
            .delete_expired_oidc_attempts(self.clock.now_ms())
            .await
    }

    pub fn is_empty(&self) -> bool {
        self.idps.is_empty()
    }
}
