//! THE outbound policy (SPEC §1): every call the gateway makes to a provider — brokering, manifest
//! fetches, unlink, rename — goes through a client built here. Production providers: HTTPS only,
//! public addresses checked at connect time by [`Dialer`] (`allow_private` names the exceptions);
//! test providers: any scheme and address. Identity providers ([`idp_client`]): the production rule,
//! with the configured issuers' hosts as the exceptions, and plain http only for an issuer on
//! loopback ([`is_loopback`]). All of them: one roots constructor ([`client_tls`]: the system roots
//! plus the operator's extra roots), one address rule ([`AddressRule`], checked by the [`Dialer`]),
//! a connect timeout, never a redirect (hyper follows none), and [`call`]'s time and size bounds
//! for the gateway's own calls.

mod address;
pub mod call;
mod dial;

pub use address::{AddressRule, ForbiddenAddress, is_loopback, non_public};
pub use call::{Bounds, CallError, Reply};
pub use dial::{DialError, Dialer};

use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use provider_kit::protocol::{ProviderEnv, ProviderMetadata};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub type Body = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, BoxError>;
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type HttpClient = Client<Connector, Body>;
/// What every outbound client dials with: the [`Dialer`] (address rule, connect timeout) under TLS.
pub type Connector = hyper_rustls::HttpsConnector<Dialer>;

/// What the outbound clients are built from.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    pub extra_roots: Vec<PathBuf>,
    pub allow_private: Vec<String>,
    pub connect_timeout: Duration,
}

/// One pooled client per kind of provider.
#[derive(Clone)]
pub struct ProviderClients {
    pub production: HttpClient,
    pub test: HttpClient,
}

impl ProviderClients {
    pub fn new(config: &OutboundConfig) -> Result<Self, String> {
        let ProviderConnectors { production, test } = ProviderConnectors::offering(config, false)?;
        Ok(Self {
            production: pooled(production),
            test: pooled(test),
        })
    }

    /// The client for calls to this provider.
    pub fn for_provider(&self, metadata: &ProviderMetadata) -> &HttpClient {
        match metadata.env {
            ProviderEnv::Production => &self.production,
            ProviderEnv::Test => &self.test,
        }
    }
}

/// The broker's connectors, one per kind of provider: the same roots, address rules and connect
/// timeout as [`ProviderClients`], offering HTTP/1.1 only (ALPN `http/1.1`) to the broker's pool.
#[derive(Clone)]
pub struct ProviderConnectors {
    pub production: Connector,
    pub test: Connector,
}

impl ProviderConnectors {
    /// HTTP/1.1 only: the broker's pool.
    pub fn new(config: &OutboundConfig) -> Result<Self, String> {
        Self::offering(config, true)
    }

    /// Production providers: HTTPS to public addresses (or `allow_private`); test providers: any
    /// address, plain HTTP too. ALPN `http/1.1` only when `http1_only`.
    fn offering(config: &OutboundConfig, http1_only: bool) -> Result<Self, String> {
        let tls = client_tls(&config.extra_roots)?;
        let production = AddressRule::public_only(config.allow_private.iter().cloned());
        let timeout = config.connect_timeout;
        Ok(Self {
            production: connector(tls.clone(), production, timeout, false, http1_only),
            test: connector(tls, AddressRule::Any, timeout, true, http1_only),
        })
    }
}

/// The client for calls to the operator's identity providers (SPEC §8): HTTPS, or HTTP when
/// `allow_http` (an issuer on loopback); public addresses only, except for `trusted_hosts` — the
/// hosts of configured issuers, which are the operator's own trusted configuration.
pub fn idp_client(
    config: &OutboundConfig,
    trusted_hosts: impl IntoIterator<Item = String>,
    allow_http: bool,
) -> Result<HttpClient, String> {
    let tls = client_tls(&config.extra_roots)?;
    let rule = AddressRule::public_only(trusted_hosts);
    Ok(pooled(connector(
        tls,
        rule,
        config.connect_timeout,
        allow_http,
        false,
    )))
}

/// A pooled client (hyper-util's) over `connector`.
fn pooled(connector: Connector) -> HttpClient {
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256);
    builder.build(connector)
}

/// The connector of every outbound client, made from the one roots constructor and the one
/// address rule: [`Dialer`] through `rule`, then `tls`; plain HTTP too when `allow_http`; ALPN
/// `http/1.1` only when `http1_only`, else `h2` and `http/1.1`.
pub fn connector(
    tls: rustls::ClientConfig,
    rule: AddressRule,
    connect_timeout: Duration,
    allow_http: bool,
    http1_only: bool,
) -> Connector {
    let schemes = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
    let schemes = if allow_http {
        schemes.https_or_http()
    } else {
        schemes.https_only()
    };
    let dialer = Dialer::new(rule, connect_timeout);
    if http1_only {
        schemes.enable_http1().wrap_connector(dialer)
    } else {
        schemes.enable_all_versions().wrap_connector(dialer)
    }
}

/// The TLS roots of every outbound client: the platform verifier (the system's trust store) plus
/// the operator's `extra_roots` (PEM files, e.g. the dev CA).
pub fn client_tls(extra_roots: &[PathBuf]) -> Result<rustls::ClientConfig, String> {
    let mut roots = Vec::new();
    for path in extra_roots {
        for cert in CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("extra root {}: {e}", path.display()))?
        {
            roots.push(cert.map_err(|e| format!("extra root {}: {e}", path.display()))?);
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
            .map_err(|e| format!("TLS roots: {e}"))?;
    // hyper-rustls sets ALPN (h2, http/1.1) itself from the versions enabled.
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}
