//! Forwarding one request: clean the headers (hop-by-hop, credentials, anything claiming an
//! identity), add the service token, `X-Request-Id` and `traceparent`, stream the body both ways
//! with a size bound, and pass WebSocket upgrades through.

use super::client::{Body, BoxError, Upstreams};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
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

/// Headers that belong to one connection (RFC 9110 §7.6.1), never forwarded.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Header-name prefixes that claim who the caller is; only the service token may say that.
const IDENTITY_PREFIXES: [&str; 12] = [
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-preferred-username",
    "x-forwarded-groups",
    "x-remote-",
    "remote-user",
    "x-user",
    "x-auth",
    "x-ucloud",
    "ucloud-",
    "x-principal",
    "x-webauth",
];

pub struct Upstream<'a> {
    pub provider: &'a str,
    /// `{scheme}://{host}[:{port}]/ucloud/{id}/{path}[?query]`
    pub uri: String,
    pub production: bool,
    /// `Bearer <service token>`, ready to send.
    pub service_token: &'a HeaderValue,
    pub request_id: &'a str,
    pub traceparent: &'a str,
    pub response_timeout: Duration,
    pub max_body: u64,
}

/// Removes everything the provider must not see and adds what the gateway vouches for.
pub fn prepare_headers(headers: &mut HeaderMap, up: &Upstream<'_>) -> Result<bool, ProxyError> {
    let websocket = is_websocket_upgrade(headers);
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    let identity: Vec<HeaderName> = headers
        .keys()
        .filter(|n| IDENTITY_PREFIXES.iter().any(|p| n.as_str().starts_with(p)))
        .cloned()
        .collect();
    for name in identity {
        headers.remove(name);
    }
    for name in [
        header::AUTHORIZATION,
        header::COOKIE,
        header::HOST,
        header::FORWARDED,
    ] {
        headers.remove(name);
    }
    let value = |v: String| HeaderValue::try_from(v).map_err(|e| ProxyError::BadUri(e.to_string()));
    headers.insert(header::AUTHORIZATION, up.service_token.clone());
    headers.insert(
        HeaderName::from_static("x-request-id"),
        value(up.request_id.to_owned())?,
    );
    headers.insert(
        HeaderName::from_static("traceparent"),
        value(up.traceparent.to_owned())?,
    );
    if websocket {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
    Ok(websocket)
}

pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let has = |name, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    has(header::CONNECTION, "upgrade") && has(header::UPGRADE, "websocket")
}

/// Sends `request` (whose headers `prepare_headers` has cleaned) upstream and returns the response
/// as soon as its headers arrive; bodies stream in both directions.
pub async fn forward<B>(
    upstreams: &Upstreams,
    up: &Upstream<'_>,
    request: Request<B>,
) -> Result<Response<Incoming>, ProxyError>
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
    let websocket = is_websocket_upgrade(&parts.headers);
    parts.uri = up
        .uri
        .parse::<Uri>()
        .map_err(|e| ProxyError::BadUri(e.to_string()))?;
    if websocket {
        parts.version = http::Version::HTTP_11;
    }
    let limit = usize::try_from(up.max_body).unwrap_or(usize::MAX);
    let body: Body = http_body_util::Limited::new(body, limit)
        .map_err(|e| e as BoxError)
        .boxed_unsync();
    let request = Request::from_parts(parts, body);
    let sent = async {
        if up.production {
            upstreams.production.request(request).await
        } else {
            upstreams.test.request(request).await
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
    if websocket && response.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_side) = on_upgrade {
            let provider_side = hyper::upgrade::on(&mut response);
            tokio::spawn(splice(client_side, provider_side));
        }
    } else {
        strip_hop_by_hop(response.headers_mut());
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

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

fn classify(up: &Upstream<'_>, e: &hyper_util::client::legacy::Error) -> ProxyError {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spoofed_identity_and_credentials_never_reach_the_provider() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer user-api-token"),
            ("cookie", "gw_session=secret"),
            ("x-forwarded-user", "root"),
            ("x-remote-user", "root"),
            ("remote-user", "root"),
            ("x-ucloud-username", "root"),
            ("ucloud-username", "root"),
            ("x-auth-request-user", "root"),
            ("x-principal", "root"),
            ("x-request-id", "caller-chosen"),
            ("connection", "keep-alive, x-secret-hop"),
            ("x-secret-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("content-type", "application/json"),
            ("accept", "*/*"),
        ] {
            h.append(k, HeaderValue::from_static(v));
        }
        let up = Upstream {
            provider: "hpc",
            uri: "http://127.0.0.1/ucloud/hpc/x".into(),
            production: false,
            service_token: &HeaderValue::from_static("Bearer svc"),
            request_id: "rid",
            traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            response_timeout: Duration::from_secs(1),
            max_body: 10,
        };
        assert!(!prepare_headers(&mut h, &up).unwrap());
        let mut names: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "accept",
                "authorization",
                "content-type",
                "traceparent",
                "x-request-id"
            ]
        );
        assert_eq!(h["authorization"], "Bearer svc");
        assert_eq!(h["x-request-id"], "rid");
    }

    #[test]
    fn websocket_upgrades_keep_their_upgrade_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        h.insert(
            "sec-websocket-key",
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        let up = Upstream {
            provider: "hpc",
            uri: String::new(),
            production: false,
            service_token: &HeaderValue::from_static("Bearer svc"),
            request_id: "rid",
            traceparent: "tp",
            response_timeout: Duration::from_secs(1),
            max_body: 10,
        };
        assert!(prepare_headers(&mut h, &up).unwrap());
        assert_eq!(
            (
                h["connection"].to_str().unwrap(),
                h["upgrade"].to_str().unwrap()
            ),
            ("upgrade", "websocket")
        );
        assert!(h.contains_key("sec-websocket-key"));
    }
}
