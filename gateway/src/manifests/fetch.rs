//! One manifest fetch: `GET {namespace}/manifest` with a service token, over rustls, no redirects,
//! bounded in time and size, conditional on the last ETag. Production providers go through a client
//! that speaks only HTTPS and only to public addresses.

use super::guard::PublicOnlyResolver;
use crate::config::ManifestConfig;
use provider_kit::protocol::{MAX_MANIFEST_BYTES, ProviderEnv, ProviderMetadata};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot reach {url}: {cause}")]
    Unreachable { url: String, cause: String },
    #[error("{url} did not answer within {ms} ms")]
    Timeout { url: String, ms: u64 },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} sent more than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("manifest fetching is misconfigured: {0}")]
    Config(String),
}

pub enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        content_type: Option<String>,
        etag: Option<String>,
    },
}

/// The gateway's clients for calls it makes to providers on its own behalf (manifests, unlink):
/// production providers only over HTTPS and only at public addresses; both trust the extra roots
/// and never follow redirects.
#[derive(Clone)]
pub struct ProviderClients {
    production: reqwest::Client,
    test: reqwest::Client,
}

impl ProviderClients {
    pub fn for_provider(&self, metadata: &ProviderMetadata) -> &reqwest::Client {
        match metadata.env {
            ProviderEnv::Production => &self.production,
            ProviderEnv::Test => &self.test,
        }
    }
}

pub struct Fetcher {
    clients: ProviderClients,
    timeout_ms: u64,
}

impl Fetcher {
    pub fn new(config: &ManifestConfig) -> Result<Self, FetchError> {
        let mut roots = Vec::new();
        for path in &config.extra_roots {
            let pem = std::fs::read(path)
                .map_err(|e| FetchError::Config(format!("extra root {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| FetchError::Config(format!("extra root {}: {e}", path.display())))?;
            roots.extend(certs);
        }
        let base = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
                .timeout(Duration::from_millis(config.timeout_ms))
                .no_proxy()
                .user_agent(concat!("ucloud-gateway/", env!("CARGO_PKG_VERSION")))
                .tls_certs_merge(roots.clone())
        };
        let production = base()
            .https_only(true)
            .dns_resolver(PublicOnlyResolver::new(
                config.allow_private.iter().cloned(),
            ))
            .build()
            .map_err(|e| FetchError::Config(e.to_string()))?;
        let test = base()
            .build()
            .map_err(|e| FetchError::Config(e.to_string()))?;
        Ok(Self {
            clients: ProviderClients { production, test },
            timeout_ms: config.timeout_ms,
        })
    }

    pub fn clients(&self) -> ProviderClients {
        self.clients.clone()
    }

    #[tracing::instrument(name = "manifest_fetch", skip_all, fields(provider = %metadata.id))]
    pub async fn fetch(
        &self,
        metadata: &ProviderMetadata,
        service_token: &str,
        etag: Option<&str>,
    ) -> Result<Fetched, FetchError> {
        let url = format!("{}/manifest", metadata.namespace_url());
        let client = self.clients.for_provider(metadata);
        let mut request = client.get(&url).bearer_auth(service_token).header(
            reqwest::header::ACCEPT,
            "application/yaml, application/json;q=0.9",
        );
        if let Some(etag) = etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        let mut response = request.send().await.map_err(|e| self.classify(&url, &e))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                url,
                status: status.as_u16(),
            });
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let etag = header(reqwest::header::ETAG);
        if response
            .content_length()
            .is_some_and(|n| n > MAX_MANIFEST_BYTES as u64)
        {
            return Err(FetchError::TooLarge {
                url,
                limit: MAX_MANIFEST_BYTES,
            });
        }
        // Read chunk by chunk so a provider that lies about (or omits) its length is cut off at the limit.
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.classify(&url, &e))?
        {
            if bytes.len() + chunk.len() > MAX_MANIFEST_BYTES {
                return Err(FetchError::TooLarge {
                    url,
                    limit: MAX_MANIFEST_BYTES,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body {
            bytes,
            content_type,
            etag,
        })
    }

    fn classify(&self, url: &str, e: &reqwest::Error) -> FetchError {
        if e.is_timeout() {
            return FetchError::Timeout {
                url: url.to_owned(),
                ms: self.timeout_ms,
            };
        }
        FetchError::Unreachable {
            url: url.to_owned(),
            cause: innermost(e),
        }
    }
}

/// The causes behind an error (reqwest's own text is generic), on one bounded line.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut current = e.source();
    while let Some(cause) = current {
        parts.push(cause.to_string());
        current = cause.source();
    }
    parts.dedup();
    let text = if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    };
    text.replace('\n', " ").chars().take(400).collect()
}
