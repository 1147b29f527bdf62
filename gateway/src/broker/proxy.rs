//! The broker's forwarding phase: the request (its headers already prepared by `request_headers`)
//! goes to the provider's URI with a body-size bound and a response timeout; bodies stream both ways
//! and WebSocket upgrades are spliced. The response's headers are filtered afterwards by
//! `response_headers`.

use super::client::{Body, BoxError, Upstreams};
use super::pool::{PoolError, UpstreamBody};
use http::header;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("provider {provider} cannot be reached")]
    Unreachable { provider: String, cause: String },
    #[error("provider {provider} did not answer within {ms} ms")]
    Timeout { provider: String, ms: u64 },
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("bad upstream address: {0}")]
    BadUri(String),
}

impl ProxyError {
    /// The problem this failure is answered with; the broker's metrics count its status.
    pub fn code(&self) -> crate::problem::ProblemCode {
        use crate::problem::ProblemCode;
        match self {
            Self::Unreachable { .. } => ProblemCode::ProviderUnreachable,
            Self::Timeout { .. } => ProblemCode::ProviderTimeout,
            Self::BodyTooLarge { .. } => ProblemCode::PayloadTooLarge,
            Self::BadUri(_) => ProblemCode::InternalError,
        }
    }
}

pub struct Upstream<'a> {
    pub provider: &'a str,
    pub production: bool,
    pub response_timeout: Duration,
    pub max_body: u64,
}

/// Sends `request` (its URI `{scheme}://{host}[:{port}]/ucloud/{id}/{path}[?query]`, its headers
/// cleaned by `request_headers::prepare`) upstream and returns the response
/// as soon as its headers arrive; bodies stream in both directions.
pub async fn forward<B>(
    upstreams: &Upstreams,
    up: &Upstream<'_>,
    request: Request<B>,
    websocket: bool,
) -> Result<Response<UpstreamBody>, ProxyError>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length.is_some_and(|n| n > up.max_body) {
        return Err(ProxyError::BodyTooLarge { limit: up.max_body });
    }
    let (mut parts, body) = request.into_parts();
    let on_upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    let limit = usize::try_from(up.max_body).unwrap_or(usize::MAX);
    // No body (most requests): nothing to bound, and an empty body boxes nothing.
    let body: Body = if body.is_end_stream() {
        Body::default()
    } else {
        http_body_util::Limited::new(body, limit)
            .map_err(|e| e as BoxError)
            .boxed_unsync()
    };
    let request = Request::from_parts(parts, body);
    let sent = async {
        if up.production {
            upstreams.production.send(request, websocket).await
        } else {
            upstreams.test.send(request, websocket).await
        }
    };
    let mut response = match tokio::time::timeout(up.response_timeout, sent).await {
        Err(_) => {
            return Err(ProxyError::Timeout {
                provider: up.provider.to_owned(),
                ms: u64::try_from(up.response_timeout.as_millis()).unwrap_or(u64::MAX),
            });
        }
        Ok(Err(e)) => return Err(classify(up, &e)),
        Ok(Ok(response)) => response,
    };
    if websocket
        && response.status() == StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_side) = on_upgrade
    {
        let provider_side = hyper::upgrade::on(&mut response);
        tokio::spawn(splice(client_side, provider_side));
    }
    Ok(response)
}

/// Copies bytes both ways between the caller's and the provider's upgraded connections.
async fn splice(client: hyper::upgrade::OnUpgrade, provider: hyper::upgrade::OnUpgrade) {
    let (Ok(client), Ok(provider)) = (client.await, provider.await) else {
        tracing::debug!("websocket upgrade did not complete");
        return;
    };
    let mut client = hyper_util::rt::TokioIo::new(client);
    let mut provider = hyper_util::rt::TokioIo::new(provider);
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut provider).await {
        tracing::debug!(error = %e, "websocket relay ended");
    }
}

fn classify(up: &Upstream<'_>, e: &PoolError) -> ProxyError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
        {
            return ProxyError::BodyTooLarge { limit: up.max_body };
        }
        source = s.source();
    }
    let mut cause = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = format!("{cause}: {s}");
        source = s.source();
    }
    ProxyError::Unreachable {
        provider: up.provider.to_owned(),
        cause,
    }
}
