//! The `Verifier`: one call per incoming gateway token, checking in order of cost so that a forged
//! token is refused before any RSA is done and an honest, repeated token is answered from memory.
//! Order: size, key set freshness, verified-token cache, shape and header, key by `kid`, signature,
//! claims.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::claims::{Expected, TokenKind};
use super::clock::Clock;
use super::config::{ConfigError, VerifierConfig, secs};
use super::error::VerifyError;
use super::header;
use super::key_cache::KeyCache;
use super::signature;
use super::token_cache::{self, TokenCache};
use crate::protocol::{ServiceClaims, UsermapClaims};

/// Verifies the gateway's tokens for one provider. Clones share keys and caches, so build one at
/// start-up and hand clones to every handler (it is the state behind the `ServiceRequest`
/// extractor).
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    provider_id: String,
    leeway: i64,
    clock: Arc<dyn Clock>,
    keys: KeyCache,
    tokens: TokenCache,
    cache_hits: AtomicU64,
}

/// Counters for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifierStats {
    /// Verifications answered from the verified-token cache.
    pub cache_hits: u64,
    /// Tokens in the verified-token cache now.
    pub cached_tokens: usize,
    /// Requests made to the JWKS URL, failed ones included.
    pub jwks_fetches: u64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("provider_id", &self.inner.provider_id)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    pub fn new(config: VerifierConfig, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        if config.issuer.is_empty() {
            return Err(ConfigError::Issuer);
        }
        if config.provider_id.is_empty() {
            return Err(ConfigError::ProviderId);
        }
        if config.leeway > VerifierConfig::MAX_LEEWAY {
            return Err(ConfigError::Leeway(config.leeway));
        }
        if config.key_refresh_interval > VerifierConfig::MAX_KEY_REFRESH_INTERVAL {
            return Err(ConfigError::KeyRefreshInterval(config.key_refresh_interval));
        }
        let url = reqwest::Url::parse(&config.jwks_url).map_err(|_| ConfigError::JwksUrl)?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ConfigError::JwksUrl);
        }
        let http = reqwest::Client::builder()
            .timeout(config.fetch_timeout)
            .connect_timeout(config.fetch_timeout)
            // The configured URL is the trust anchor; a redirect would let someone else pick keys.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ConfigError::HttpClient)?;
        let keys = KeyCache::new(
            url,
            http,
            Arc::clone(&clock),
            config.min_refetch_interval,
            config.key_refresh_interval,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                issuer: config.issuer,
                provider_id: config.provider_id,
                leeway: secs(config.leeway),
                clock,
                keys,
                tokens: TokenCache::new(config.token_cache_capacity),
                cache_hits: AtomicU64::new(0),
            }),
        })
    }

    /// The gateway's issuer: its public URL, where a user goes back to.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The `aud` this verifier accepts.
    pub fn provider_id(&self) -> &str {
        &self.inner.provider_id
    }

    /// Verifies the bearer token of a gateway → provider call (SPEC §2.2, `typ` `ucloud-service+jwt`).
    #[tracing::instrument(skip_all)]
    pub async fn verify_service(&self, token: &str) -> Result<ServiceClaims, VerifyError> {
        self.verify(token)
            .await
            .inspect_err(|e| crate::metrics::global().verification_failed(e.reason()))
    }

    /// Verifies the token of a usermap redirect (SPEC §4 step 2, `typ` `ucloud-usermap+jwt`).
    #[tracing::instrument(skip_all)]
    pub async fn verify_usermap(&self, token: &str) -> Result<UsermapClaims, VerifyError> {
        self.verify(token)
            .await
            .inspect_err(|e| crate::metrics::global().verification_failed(e.reason()))
    }

    /// Fetches the gateway's key set now, whatever the throttle says; call it at start-up to find
    /// a wrong JWKS URL before the first request does. Returns the number of usable keys.
    #[tracing::instrument(skip_all)]
    pub async fn refresh_keys(&self) -> Result<usize, VerifyError> {
        let count = self.inner.keys.refresh().await?;
        self.forget_unpublished();
        Ok(count)
    }

    /// Drops every cached verification made with a key the gateway no longer publishes.
    fn forget_unpublished(&self) {
        let keys = self.inner.keys.snapshot();
        self.inner
            .tokens
            .retain_published(|kid| keys.contains_key(kid));
    }

    pub fn stats(&self) -> VerifierStats {
        VerifierStats {
            cache_hits: self.inner.cache_hits.load(Ordering::Relaxed),
            cached_tokens: self.inner.tokens.len(),
            jwks_fetches: self.inner.keys.fetches(),
        }
    }

    async fn verify<K: TokenKind>(&self, token: &str) -> Result<K, VerifyError> {
        let inner = &*self.inner;
        header::check_len(token)?;
        if inner.keys.refresh_if_stale().await {
            self.forget_unpublished();
        }
        let now = inner.clock.now_unix();
        let hash = inner.tokens.enabled().then(|| token_cache::hash(token));
        // A hit of the other kind falls through, to be refused by the `typ` check below. A hit whose
        // key is no longer published falls through too, to be refused as `UnknownKey`.
        let published = inner.keys.snapshot();
        if let Some(hit) = hash
            .and_then(|hash| {
                inner
                    .tokens
                    .get(&hash, now, |kid| published.contains_key(kid))
            })
            .and_then(K::cached)
        {
            inner.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        let kid = header::check_header(header::split(token)?, K::TYP)?;
        let key = inner.keys.key(&kid).await?;
        let raw = signature::verify::<K::Raw>(token, &key)?;
        let expected = Expected {
            issuer: &inner.issuer,
            audience: &inner.provider_id,
            now,
            leeway: inner.leeway,
            max_lifetime: K::MAX_LIFETIME_SECS,
        };
        let claims = K::check(raw, expected)?;
        if let Some(hash) = hash {
            let valid_until = claims.exp().saturating_add(inner.leeway);
            inner
                .tokens
                .insert(hash, claims.to_cache(), &kid, valid_until, now);
        }
        Ok(claims)
    }
}
