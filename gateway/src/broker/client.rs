//! The pooled HTTP client the broker forwards with: HTTP/1.1 and HTTP/2 (ALPN) over rustls, the
//! system roots plus the operator's extra roots, a connect timeout, and for production providers a
//! resolver that refuses non-public addresses (the same rule as manifest fetching).

use crate::config::ManifestConfig;
use crate::manifests::guard::non_public;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

pub type Body = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, BoxError>;
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Https<R> = hyper_rustls::HttpsConnector<HttpConnector<R>>;

/// One client per kind of provider; both pool connections per host.
#[derive(Clone)]
pub struct Upstreams {
    pub production: Client<Https<PublicOnlyDns>, Body>,
    pub test: Client<Https<GaiResolver>, Body>,
}

impl Upstreams {
    pub fn new(config: &ManifestConfig, connect_timeout: Duration) -> Result<Self, String> {
        let tls = tls_config(&config.extra_roots)?;
        let production = {
            let mut http = HttpConnector::new_with_resolver(PublicOnlyDns::new(
                config.allow_private.iter().cloned(),
            ));
            tune(&mut http, connect_timeout);
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls.clone())
                .https_only()
                .enable_all_versions()
                .wrap_connector(http);
            builder().build(https)
        };
        let test = {
            let mut http = HttpConnector::new();
            tune(&mut http, connect_timeout);
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http()
                .enable_all_versions()
                .wrap_connector(http);
            builder().build(https)
        };
        Ok(Self { production, test })
    }
}

fn builder() -> hyper_util::client::legacy::Builder {
    let mut b = Client::builder(TokioExecutor::new());
    b.pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256);
    b
}

fn tune<R>(http: &mut HttpConnector<R>, connect_timeout: Duration) {
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
}

fn tls_config(extra_roots: &[std::path::PathBuf]) -> Result<rustls::ClientConfig, String> {
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
    // hyper-rustls sets ALPN (h2, http/1.1) itself from the versions enabled below.
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}

/// System DNS, refusing answers that are not public addresses unless the host is allowed.
#[derive(Clone)]
pub struct PublicOnlyDns {
    inner: GaiResolver,
    allow: Arc<HashSet<String>>,
}

impl PublicOnlyDns {
    fn new(allow: impl IntoIterator<Item = String>) -> Self {
        Self {
            inner: GaiResolver::new(),
            allow: Arc::new(allow.into_iter().map(|h| h.to_ascii_lowercase()).collect()),
        }
    }
}

impl tower_service::Service<Name> for PublicOnlyDns {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_ascii_lowercase();
        let allowed = self.allow.contains(&host);
        let lookup = self.inner.call(name);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = lookup.await?.collect();
            if !allowed && let Some(addr) = addrs.iter().find(|a| non_public(a.ip()).is_some()) {
                return Err(format!(
                    "refusing to connect: {host} resolves to {}, which is not a public address",
                    addr.ip()
                )
                .into());
            }
            Ok(addrs.into_iter())
        })
    }
}
