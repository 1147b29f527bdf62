//! What a provider must tell the `Verifier`: whom to trust (issuer and JWKS URL), who it is
//! (the expected `aud`), and the few knobs that trade freshness against load on the gateway.

use std::time::Duration;

/// Settings of a `Verifier`. Start from `VerifierConfig::new` and change what you need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// The gateway's issuer, compared byte for byte with `iss`.
    pub issuer: String,
    /// Where the gateway publishes its public keys (SPEC §2). Header URLs (`jku`, `x5u`) are never
    /// used: keys come only from here.
    pub jwks_url: String,
    /// This provider's id: the only `aud` it accepts.
    pub provider_id: String,
    /// An unknown `kid` refetches the key set at most this often, so tokens with random kids
    /// cannot turn into a flood of requests to the gateway. The price: a key rotated in within
    /// this interval of the last fetch is refused (`UnknownKey`) until the interval has passed.
    pub min_refetch_interval: Duration,
    /// The key set is re-read when it is older than this, so a key the gateway revoked stops
    /// verifying within this interval, tokens already verified with it included (SPEC §2: at most
    /// 10 minutes). A failed re-read keeps the keys we had and is retried after
    /// `min_refetch_interval`.
    pub key_refresh_interval: Duration,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, and added to each kind's longest lifetime
    /// (SPEC §2: at most 60 s).
    pub leeway: Duration,
    /// Verified tokens remembered so the hot path skips RSA; `0` turns the cache off.
    pub token_cache_capacity: usize,
    /// Upper bound on one JWKS fetch, connect included.
    pub fetch_timeout: Duration,
}

impl VerifierConfig {
    pub const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
    pub const DEFAULT_KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(300);
    pub const MAX_KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(600);
    pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
    pub const MAX_LEEWAY: Duration =
        Duration::from_secs(crate::protocol::MAX_LEEWAY_SECS.unsigned_abs());
    pub const DEFAULT_TOKEN_CACHE_CAPACITY: usize = 10_000;
    pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

    pub fn new(
        issuer: impl Into<String>,
        jwks_url: impl Into<String>,
        provider_id: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            jwks_url: jwks_url.into(),
            provider_id: provider_id.into(),
            min_refetch_interval: Self::DEFAULT_MIN_REFETCH_INTERVAL,
            key_refresh_interval: Self::DEFAULT_KEY_REFRESH_INTERVAL,
            leeway: Self::DEFAULT_LEEWAY,
            token_cache_capacity: Self::DEFAULT_TOKEN_CACHE_CAPACITY,
            fetch_timeout: Self::DEFAULT_FETCH_TIMEOUT,
        }
    }
}

/// Why a `Verifier` could not be built; found at start-up, not on the first request.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("jwks_url must be an absolute http(s) URL")]
    JwksUrl,
    #[error("issuer must not be empty")]
    Issuer,
    #[error("provider_id must not be empty")]
    ProviderId,
    #[error("leeway must be at most 60 s (SPEC §2), not {0:?}")]
    Leeway(Duration),
    #[error("key_refresh_interval must be at most 600 s (SPEC §2), not {0:?}")]
    KeyRefreshInterval(Duration),
    #[error("could not build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

/// Seconds as the signed NumericDate arithmetic of claims wants them.
pub(crate) fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
