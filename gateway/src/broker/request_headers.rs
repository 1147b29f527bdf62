//! The broker's request-header policy (SPEC §3 step 4 ▲), the second phase: what the caller sent
//! passes only by the allowlist `PASSED`; then the gateway sets the headers it vouches for
//! (`SET_BY_GATEWAY`). Anything else — credentials, cookies, hop-by-hop headers, identity claims,
//! `X-Forwarded-*`, `X-Original-URL`, method overrides — never reaches a provider, because it was
//! never listed. `docs/protocol.md` §3 mirrors both tables.

use super::header_rules::{Name, When, has_token, passes, retain};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use std::net::IpAddr;

/// The caller's headers a provider may see.
pub const PASSED: [(Name, When); 16] = [
    (Name::Exact("accept"), When::Always),
    (Name::Prefix("accept-"), When::Always),
    (Name::Exact("content-type"), When::Always),
    (Name::Exact("content-length"), When::Always),
    (Name::Exact("content-encoding"), When::Always),
    (Name::Exact("content-language"), When::Always),
    (Name::Exact("range"), When::Always),
    (Name::Prefix("if-"), When::Always),
    (Name::Exact("cache-control"), When::Always),
    (Name::Exact("user-agent"), When::Always),
    (Name::Exact("tracestate"), When::Always),
    (Name::Prefix("x-provider-"), When::Always),
    (Name::Exact("sec-websocket-key"), When::WebSocketHandshake),
    (
        Name::Exact("sec-websocket-version"),
        When::WebSocketHandshake,
    ),
    (
        Name::Exact("sec-websocket-protocol"),
        When::WebSocketHandshake,
    ),
    (
        Name::Exact("sec-websocket-extensions"),
        When::WebSocketHandshake,
    ),
];

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// What the gateway itself sets, whatever the caller sent under these names. `Connection: upgrade`
/// and `Upgrade: websocket` are set on a WebSocket handshake only.
pub const SET_BY_GATEWAY: [HeaderName; 6] = [
    header::AUTHORIZATION,
    X_FORWARDED_FOR,
    X_FORWARDED_PROTO,
    X_FORWARDED_HOST,
    TRACEPARENT,
    X_REQUEST_ID,
];

/// The gateway's public origin as `X-Forwarded-Proto` and `X-Forwarded-Host`, parsed once.
#[derive(Debug, Clone)]
pub struct PublicOrigin {
    pub proto: HeaderValue,
    pub host: Option<HeaderValue>,
}

impl PublicOrigin {
    pub fn new(public_url: &url::Url) -> Self {
        let proto = if public_url.scheme() == "https" {
            HeaderValue::from_static("https")
        } else {
            HeaderValue::from_static("http")
        };
        let host = public_url.host_str().and_then(|h| {
            let text = match public_url.port() {
                Some(port) => format!("{h}:{port}"),
                None => h.to_owned(),
            };
            HeaderValue::try_from(text).ok()
        });
        Self { proto, host }
    }
}

/// The values the gateway vouches for on one forwarded request.
pub struct Vouched<'a> {
    /// `Bearer <service token>`.
    pub service_token: &'a HeaderValue,
    pub request_id: &'a HeaderValue,
    pub traceparent: HeaderValue,
    /// The caller's peer address, when the listener knows it.
    pub peer: Option<IpAddr>,
    pub origin: &'a PublicOrigin,
}

/// Replaces the caller's headers by the allowed ones plus the gateway's; true on a WebSocket
/// upgrade (whose handshake headers then pass too).
pub fn prepare(headers: &mut HeaderMap, vouched: Vouched<'_>) -> bool {
    let websocket = is_websocket_upgrade(headers);
    // What is set below replaces every value a caller sent under its name (`insert`), which costs
    // less than removing it first.
    let overwritten = |name: &HeaderName| {
        name == header::AUTHORIZATION
            || name == X_REQUEST_ID
            || name == TRACEPARENT
            || name == X_FORWARDED_PROTO
            || (vouched.peer.is_some() && name == X_FORWARDED_FOR)
            || (vouched.origin.host.is_some() && name == X_FORWARDED_HOST)
    };
    retain(headers, |name| {
        passes(&PASSED, name, websocket) || overwritten(name)
    });
    // Room for what is added below, so the map grows once at most.
    headers.reserve(8);
    headers.insert(header::AUTHORIZATION, vouched.service_token.clone());
    headers.insert(X_REQUEST_ID, vouched.request_id.clone());
    // Moved, not cloned: a value made from a String allocates again on its first clone.
    headers.insert(TRACEPARENT, vouched.traceparent);
    if let Some(peer) = vouched.peer {
        headers.insert(X_FORWARDED_FOR, ip_value(peer));
    }
    headers.insert(X_FORWARDED_PROTO, vouched.origin.proto.clone());
    if let Some(host) = &vouched.origin.host {
        headers.insert(X_FORWARDED_HOST, host.clone());
    }
    if websocket {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
    websocket
}

/// The peer address as a header value; IPv4 (the common case) without the formatting machinery.
fn ip_value(ip: IpAddr) -> HeaderValue {
    let IpAddr::V4(v4) = ip else {
        return HeaderValue::try_from(ip.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("-"));
    };
    let mut text = [0u8; 15];
    let mut len = 0;
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text[len] = b'.';
            len += 1;
        }
        let digits = [octet / 100, octet / 10 % 10, octet % 10];
        let skip = if octet >= 100 {
            0
        } else if octet >= 10 {
            1
        } else {
            2
        };
        for d in &digits[skip..] {
            text[len] = b'0' + d;
            len += 1;
        }
    }
    HeaderValue::from_bytes(&text[..len]).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    has_token(headers, header::CONNECTION, "upgrade")
        && has_token(headers, header::UPGRADE, "websocket")
}

/// The request's id: the caller's `X-Request-Id` when it is 1–128 characters of
/// `[A-Za-z0-9._-]`, else `fresh()`.
pub fn request_id(headers: &HeaderMap, fresh: impl FnOnce() -> HeaderValue) -> HeaderValue {
    match headers.get(X_REQUEST_ID) {
        Some(v) if is_request_id(v.as_bytes()) => v.clone(),
        _ => fresh(),
    }
}

fn is_request_id(b: &[u8]) -> bool {
    (1..=128).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Continues the caller's W3C trace when it sent a valid `traceparent`, else starts one; the
/// gateway's hop always gets its own span id. `fresh` is 32 random hex digits.
pub fn traceparent(headers: &HeaderMap, fresh: &str) -> HeaderValue {
    let span = &fresh[..16.min(fresh.len())];
    let incoming = headers
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(caller_trace);
    let (trace, flags) = incoming.unwrap_or((fresh, "01"));
    let mut text = String::with_capacity(3 + trace.len() + 1 + span.len() + 1 + flags.len());
    for part in ["00-", trace, "-", span, "-", flags] {
        text.push_str(part);
    }
    text.make_ascii_lowercase();
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// The trace id and flags of a well-formed `traceparent` (`vv-<32 hex>-<span>-ff`, trace not all
/// zeros).
fn caller_trace(tp: &str) -> Option<(&str, &str)> {
    let mut parts = tp.split('-');
    let (version, trace, _span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let ok = parts.next().is_none()
        && version.len() == 2
        && trace.len() == 32
        && flags.len() == 2
        && flags.bytes().all(|b| b.is_ascii_hexdigit())
        && trace.bytes().all(|b| b.is_ascii_hexdigit())
        && trace != "00000000000000000000000000000000";
    ok.then_some((trace, flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> PublicOrigin {
        PublicOrigin::new(&url::Url::parse("https://gw.example.org").unwrap())
    }

    fn prepared(pairs: &[(&'static str, &'static str)], peer: Option<IpAddr>) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        let origin = origin();
        let vouched = Vouched {
            service_token: &HeaderValue::from_static("Bearer svc"),
            request_id: &HeaderValue::from_static("rid"),
            traceparent: HeaderValue::from_static("tp"),
            peer,
            origin: &origin,
        };
        prepare(&mut h, vouched);
        h
    }

    #[test]
    fn only_listed_headers_pass_and_the_gateway_sets_its_own() {
        let h = prepared(
            &[
                ("authorization", "Bearer user-api-token"),
                ("cookie", "gw_session=secret"),
                ("x-forwarded-for", "10.0.0.1"),
                ("x-forwarded-host", "evil.example"),
                ("x-forwarded-proto", "http"),
                ("x-original-url", "/usermap"),
                ("x-http-method-override", "DELETE"),
                ("connection", "keep-alive, x-secret-hop"),
                ("x-secret-hop", "1"),
                ("transfer-encoding", "chunked"),
                ("sec-websocket-key", "not an upgrade"),
                ("origin", "https://evil.example"),
                ("content-type", "application/json"),
                ("accept", "*/*"),
                ("accept-language", "da"),
                ("if-none-match", "\"a\""),
                ("x-provider-job", "42"),
                ("x-provider-job", "43"),
                ("tracestate", "k=v"),
            ],
            Some("192.0.2.7".parse().unwrap()),
        );
        let mut names: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "accept",
                "accept-language",
                "authorization",
                "content-type",
                "if-none-match",
                "traceparent",
                "tracestate",
                "x-forwarded-for",
                "x-forwarded-host",
                "x-forwarded-proto",
                "x-provider-job",
                "x-request-id",
            ]
        );
        assert_eq!(h["authorization"], "Bearer svc");
        assert_eq!(h["x-forwarded-for"], "192.0.2.7");
        assert_eq!(h["x-forwarded-host"], "gw.example.org");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h.get_all("x-provider-job").iter().count(), 2);
    }

    #[test]
    fn without_a_peer_address_no_forwarded_for_is_sent() {
        let h = prepared(&[("x-forwarded-for", "10.0.0.1")], None);
        assert!(!h.contains_key("x-forwarded-for"));
    }

    #[test]
    fn websocket_upgrades_keep_their_handshake_headers() {
        let h = prepared(
            &[
                ("connection", "keep-alive, Upgrade"),
                ("upgrade", "websocket"),
                ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("sec-websocket-version", "13"),
            ],
            None,
        );
        assert_eq!(
            (
                h["connection"].to_str().unwrap(),
                h["upgrade"].to_str().unwrap()
            ),
            ("upgrade", "websocket")
        );
        assert!(h.contains_key("sec-websocket-key") && h.contains_key("sec-websocket-version"));
    }

    #[test]
    fn a_request_id_is_the_callers_only_when_it_is_safe() {
        let fresh = "0123456789abcdef0123456789abcdef";
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(X_REQUEST_ID, HeaderValue::from_str(v).unwrap());
            request_id(&h, || HeaderValue::from_static(fresh))
        };
        assert_eq!(with("abc-DEF_1.2"), "abc-DEF_1.2");
        assert_eq!(with(&"a".repeat(128)), "a".repeat(128).as_str());
        for bad in ["", "a b", "a/b", "<script>", "é", &"a".repeat(129)] {
            assert_eq!(with(bad), fresh, "{bad:?}");
        }
        assert_eq!(
            request_id(&HeaderMap::new(), || HeaderValue::from_static(fresh)),
            fresh
        );
    }

    #[test]
    fn a_valid_traceparent_is_continued_with_a_new_span() {
        let fresh = "0123456789abcdef0123456789abcdef";
        let mut h = HeaderMap::new();
        h.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
        );
        assert_eq!(
            traceparent(&h, fresh),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0123456789abcdef-01"
        );
        for bad in [
            "00-zz-00-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            h.insert(TRACEPARENT, HeaderValue::from_static(bad));
            assert_eq!(
                traceparent(&h, fresh),
                "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
                "{bad}"
            );
        }
    }

    #[test]
    fn the_peer_address_is_written_as_the_standard_library_writes_it() {
        let mut cases: Vec<IpAddr> = [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.9.100",
            "192.0.2.7",
            "::1",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        cases.extend((0..=255u8).map(|n| IpAddr::from([n, 255 - n, n / 3, 99])));
        cases.push("2001:db8::7".parse().unwrap());
        for ip in cases {
            assert_eq!(ip_value(ip), ip.to_string().as_str(), "{ip}");
        }
    }
}
