//! The gateway's own calls to a provider (manifest fetch, unlink, rename): one request, bounded in
//! time (connect to last body byte) and in body size, with its failure sorted into a class. The raw
//! cause goes to the operator's log; callers show only the class.

use super::dial::DialError;
use super::{Body, ForbiddenAddress, ProviderClients};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use provider_kit::protocol::ProviderMetadata;
use std::time::Duration;

/// Time and size bounds of one call.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// From the first connect attempt to the last byte of the answer.
    pub timeout: Duration,
    /// Largest answer body read.
    pub max_body: usize,
}

/// A provider's complete answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why a call got no answer, by class; never the socket's or resolver's own words.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// Refused by the address rule before any connection.
    #[error(transparent)]
    Forbidden(ForbiddenAddress),
    /// Not resolved, refused, reset or closed: deliberately one class, so the answer never tells
    /// whether a port is open.
    #[error("could not be reached")]
    Unreachable,
    #[error("did not answer within {ms} ms")]
    Timeout { ms: u128 },
    #[error("the TLS handshake failed: {0}")]
    Tls(&'static str),
    #[error("sent more than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request could not be built: {0}")]
    BadRequest(String),
}

/// Bounds of the gateway's small notifications to providers (unlink, rename).
pub const NOTIFY_BOUNDS: Bounds = Bounds {
    timeout: Duration::from_secs(10),
    max_body: 64 * 1024,
};

impl ProviderClients {
    /// `POST url` with the service token and a JSON body, within [`NOTIFY_BOUNDS`] (unlink, rename).
    pub async fn post_json(
        &self,
        metadata: &ProviderMetadata,
        url: &str,
        service_token: &str,
        body: &serde_json::Value,
    ) -> Result<Reply, CallError> {
        let request = request(Method::POST, url, service_token, &[], Some(body))?;
        self.call(metadata, request, NOTIFY_BOUNDS).await
    }

    /// Sends `request` to the provider and reads the whole answer, within `bounds`.
    pub async fn call(
        &self,
        metadata: &ProviderMetadata,
        request: Request<Body>,
        bounds: Bounds,
    ) -> Result<Reply, CallError> {
        exchange(self.for_provider(metadata), request, bounds).await
    }
}

/// Sends `request` with `client` and reads the whole answer, within `bounds`: the one bounded
/// exchange every gateway-made call (to providers and to identity providers) goes through.
pub async fn exchange(
    client: &super::HttpClient,
    request: Request<Body>,
    bounds: Bounds,
) -> Result<Reply, CallError> {
    {
        let exchange = async {
            let response = client.request(request).await.map_err(|e| classify(&e))?;
            let (parts, body) = response.into_parts();
            let too_large = CallError::TooLarge {
                limit: bounds.max_body,
            };
            let declared = parts
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > bounds.max_body as u64) {
                return Err(too_large);
            }
            // A provider that lies about (or omits) its length is cut off at the limit.
            let body = http_body_util::Limited::new(body, bounds.max_body)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        too_large.clone()
                    } else {
                        classify(e.as_ref())
                    }
                })?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(bounds.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(CallError::Timeout {
                ms: bounds.timeout.as_millis(),
            }),
        }
    }
}

/// A request to a provider with its service token; `json` becomes the body.
pub fn request(
    method: Method,
    url: &str,
    service_token: &str,
    headers: &[(header::HeaderName, &str)],
    json: Option<&serde_json::Value>,
) -> Result<Request<Body>, CallError> {
    let bad = |e: &dyn std::fmt::Display| CallError::BadRequest(e.to_string());
    let mut builder = Request::builder()
        .method(method)
        .uri(url)
        .header(header::AUTHORIZATION, format!("Bearer {service_token}"))
        .header(
            header::USER_AGENT,
            concat!("ucloud-gateway/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in headers {
        builder = builder.header(name, *value);
    }
    let body = match json {
        Some(value) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            Bytes::from(serde_json::to_vec(value).map_err(|e| bad(&e))?)
        }
        None => Bytes::new(),
    };
    let body: Body = http_body_util::Full::new(body)
        .map_err(|never| match never {})
        .boxed_unsync();
    builder.body(body).map_err(|e| bad(&e))
}

/// Sorts a failure into its class, logging the raw cause for the operator.
pub fn classify(error: &(dyn std::error::Error + 'static)) -> CallError {
    let mut class = CallError::Unreachable;
    let mut stack = vec![error];
    while let Some(e) = stack.pop() {
        if let Some(dial) = e.downcast_ref::<DialError>() {
            class = match dial {
                DialError::Forbidden(f) => CallError::Forbidden(f.clone()),
                DialError::ConnectTimeout { ms, .. } => CallError::Timeout { ms: *ms },
                _ => CallError::Unreachable,
            };
            break;
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            class = CallError::Tls(match tls {
                rustls::Error::InvalidCertificate(_) => {
                    "the provider's certificate is not valid for its domain or not from a trusted CA"
                }
                rustls::Error::AlertReceived(_) => "the provider refused the handshake",
                _ => "the provider does not speak TLS as expected on this port",
            });
            break;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            stack.push(inner);
        }
        if let Some(source) = e.source() {
            stack.push(source);
        }
    }
    tracing::warn!(class = %class, cause = %chain(error), "call to a provider failed");
    class
}

/// The whole cause chain on one bounded line, for the log.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut current = e.source();
    while let Some(cause) = current {
        parts.push(cause.to_string());
        current = cause.source();
    }
    parts.dedup();
    parts
        .join(": ")
        .replace('\n', " ")
        .chars()
        .take(600)
        .collect()
}
