//! One manifest fetch: `GET {namespace}/manifest` with a service token through the outbound
//! policy's clients (no redirects, HTTPS only and public addresses for production providers),
//! bounded in time and size, conditional on the last ETag. A failure is a [`FetchFailure`]: its
//! class and a detail the owner may see, never raw socket or resolver text.

use crate::config::ManifestConfig;
use crate::outbound::{Bounds, CallError, OutboundConfig, ProviderClients, call};
use http::{Method, StatusCode, header};
use provider_kit::protocol::{MAX_MANIFEST_BYTES, ManifestErrors, ProviderMetadata};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("manifest fetching is misconfigured: {0}")]
    Config(String),
}

/// Why a fetch gave no new manifest (SPEC §1), shown to the owner as `{class}: {detail}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchFailure {
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("timeout: the provider did not answer within {ms} ms")]
    Timeout { ms: u128 },
    #[error("tls: {0}")]
    Tls(&'static str),
    #[error("httpStatus {0}: the provider answered HTTP {0}")]
    HttpStatus(u16),
    #[error("notAManifest: {0}")]
    NotAManifest(String),
    /// The paths and what is wrong at each.
    #[error("invalidManifest: {0}")]
    InvalidManifest(String),
}

impl FetchFailure {
    /// The class's wire name.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "unreachable",
            Self::Timeout { .. } => "timeout",
            Self::Tls(_) => "tls",
            Self::HttpStatus(_) => "httpStatus",
            Self::NotAManifest(_) => "notAManifest",
            Self::InvalidManifest(_) => "invalidManifest",
        }
    }

    /// A body that parsed to errors: about the document as a whole (not YAML or JSON, not a
    /// mapping, wrong content type) it is not a manifest; otherwise the paths are named.
    pub fn from_manifest_errors(errors: &ManifestErrors) -> Self {
        if errors.errors().iter().all(|e| e.path.is_empty()) {
            Self::NotAManifest(errors.to_string())
        } else {
            Self::InvalidManifest(errors.to_string())
        }
    }

    fn from_call(error: CallError, limit: usize) -> Self {
        match error {
            CallError::Forbidden(forbidden) => Self::Unreachable(forbidden.to_string()),
            CallError::Timeout { ms } => Self::Timeout { ms },
            CallError::Tls(why) => Self::Tls(why),
            CallError::TooLarge { .. } => {
                Self::NotAManifest(format!("the provider sent more than {limit} bytes"))
            }
            CallError::Unreachable | CallError::BadRequest(_) => {
                Self::Unreachable("the provider could not be reached".into())
            }
        }
    }
}

pub enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        content_type: Option<String>,
        etag: Option<String>,
    },
}

pub struct Fetcher {
    clients: ProviderClients,
    timeout: Duration,
}

impl Fetcher {
    pub fn new(config: &ManifestConfig) -> Result<Self, FetchError> {
        let clients = ProviderClients::new(&OutboundConfig {
            extra_roots: config.extra_roots.clone(),
            allow_private: config.allow_private.clone(),
            connect_timeout: Duration::from_millis(config.connect_timeout_ms),
        })
        .map_err(FetchError::Config)?;
        Ok(Self {
            clients,
            timeout: Duration::from_millis(config.timeout_ms),
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
    ) -> Result<Fetched, FetchFailure> {
        let url = format!("{}/manifest", metadata.namespace_url());
        let mut headers = vec![(header::ACCEPT, "application/yaml, application/json;q=0.9")];
        if let Some(etag) = etag {
            headers.push((header::IF_NONE_MATCH, etag));
        }
        let failed = |e| FetchFailure::from_call(e, MAX_MANIFEST_BYTES);
        let request =
            call::request(Method::GET, &url, service_token, &headers, None).map_err(failed)?;
        let bounds = Bounds {
            timeout: self.timeout,
            max_body: MAX_MANIFEST_BYTES,
        };
        let reply = self
            .clients
            .call(metadata, request, bounds)
            .await
            .map_err(failed)?;
        if reply.status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !reply.status.is_success() {
            return Err(FetchFailure::HttpStatus(reply.status.as_u16()));
        }
        let header = |name| {
            reply
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Ok(Fetched::Body {
            content_type: header(header::CONTENT_TYPE),
            etag: header(header::ETAG),
            bytes: reply.body.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provider_kit::protocol::Manifest;

    #[test]
    fn every_failure_reads_as_its_wire_class_first() {
        let failures = [
            FetchFailure::Unreachable("x".into()),
            FetchFailure::Timeout { ms: 5 },
            FetchFailure::Tls("x"),
            FetchFailure::HttpStatus(503),
            FetchFailure::NotAManifest("x".into()),
            FetchFailure::InvalidManifest("x".into()),
        ];
        for failure in failures {
            assert!(
                failure.to_string().starts_with(failure.class()),
                "{failure}"
            );
        }
        assert!(
            FetchFailure::HttpStatus(503)
                .to_string()
                .starts_with("httpStatus 503: ")
        );
    }

    #[test]
    fn a_body_that_is_no_manifest_at_all_is_told_apart_from_one_with_wrong_values() {
        let html = Manifest::parse(b"<html>", Some("text/html")).unwrap_err();
        assert_eq!(
            FetchFailure::from_manifest_errors(&html).class(),
            "notAManifest"
        );
        let wrong = Manifest::from_yaml("users: [1, 2]\n").unwrap_err();
        let failure = FetchFailure::from_manifest_errors(&wrong);
        assert_eq!(failure.class(), "invalidManifest");
        assert!(failure.to_string().contains("users"), "{failure}");
    }
}
