//! Provider → gateway calls (SPEC §2.1, §4, §5): the `GatewayClient` holds the provider's refresh
//! token, keeps an access token fresh, and offers the calls a provider makes — charge a wallet, report
//! a user mapping, ask for a manifest reload — with typed results and bounded answers.
//!
//! Build one at start-up (`GatewayClient::new(Credentials::load(path)?.client_config(), clock)`)
//! and share clones: they share one access token and one renewal.

mod calls;
mod config;
mod error;
mod register;
mod secret;
mod token;
mod transport;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use calls::ChargeOutcome;
pub use config::{ClientConfig, Credentials, CredentialsError};
pub use error::ClientError;
pub use register::{Registration, register};
pub use secret::Secret;
pub use token::TokenProbe;

use crate::auth::Clock;
use token::TokenState;

/// The provider's client of the gateway. Cheap to clone; clones share the access token.
#[derive(Clone)]
pub struct GatewayClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    /// `gateway_url` without a trailing slash; paths are appended to it.
    base: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    tokens: TokenState,
}

/// Counters for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientStats {
    /// Refresh requests sent to the gateway, failed ones included.
    pub renewals: u64,
}

/// Why a `GatewayClient` could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientConfigError {
    #[error("gateway_url must be an absolute http(s) URL without query or fragment")]
    GatewayUrl,
    #[error("provider_id must not be empty")]
    ProviderId,
    #[error("refresh_token must not be empty")]
    RefreshToken,
    #[error("could not build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

impl std::fmt::Debug for GatewayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayClient")
            .field("gateway_url", &self.inner.base)
            .field("provider_id", &self.inner.config.provider_id)
            .finish_non_exhaustive()
    }
}

impl GatewayClient {
    pub fn new(config: ClientConfig, clock: Arc<dyn Clock>) -> Result<Self, ClientConfigError> {
        let base = checked_base(&config.gateway_url)?;
        if config.provider_id.is_empty() {
            return Err(ClientConfigError::ProviderId);
        }
        if config.refresh_token.is_empty() {
            return Err(ClientConfigError::RefreshToken);
        }
        let http = http_client(config.timeout, config.connect_timeout)
            .map_err(ClientConfigError::HttpClient)?;
        Ok(Self {
            inner: Arc::new(Inner {
                base,
                http,
                clock,
                tokens: TokenState::default(),
                config,
            }),
        })
    }

    pub fn provider_id(&self) -> &str {
        &self.inner.config.provider_id
    }

    pub fn gateway_url(&self) -> &str {
        &self.inner.base
    }

    pub fn stats(&self) -> ClientStats {
        ClientStats {
            renewals: self.inner.tokens.renewals.load(Ordering::Relaxed),
        }
    }
}

/// The gateway URL as a prefix for paths: absolute http(s), no query or fragment, no trailing slash.
pub(crate) fn checked_base(url: &str) -> Result<String, ClientConfigError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| ClientConfigError::GatewayUrl)?;
    let usable = matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some()
        && parsed.query().is_none()
        && parsed.fragment().is_none();
    if !usable {
        return Err(ClientConfigError::GatewayUrl);
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// Redirects are not followed: the access token must only ever go to the configured gateway.
pub(crate) fn http_client(
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("provider-kit/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ManualClock;

    fn client(url: &str) -> Result<GatewayClient, ClientConfigError> {
        let config = ClientConfig::new(url, "dev", "rt_secret");
        GatewayClient::new(config, Arc::new(ManualClock::new(0)))
    }

    #[test]
    fn the_gateway_url_must_be_an_http_base() {
        assert_eq!(
            client("https://gw.example.org/").expect("ok").gateway_url(),
            "https://gw.example.org"
        );
        assert_eq!(
            client("http://127.0.0.1:8080/prefix/")
                .expect("ok")
                .gateway_url(),
            "http://127.0.0.1:8080/prefix"
        );
        for bad in [
            "gw.example.org",
            "ftp://gw",
            "https://gw/?a=1",
            "https://gw/#x",
            "",
        ] {
            assert!(
                matches!(client(bad), Err(ClientConfigError::GatewayUrl)),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_of_a_client_shows_where_not_the_token() {
        let shown = format!("{:?}", client("https://gw.example.org").expect("ok"));
        assert!(shown.contains("gw.example.org"), "{shown}");
        assert!(!shown.contains("rt_secret"), "{shown}");
    }
}
