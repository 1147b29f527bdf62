//! The broker's response-header policy (SPEC §3 step 5 ▲), the last phase: a provider's headers
//! reach the caller only by the allowlist `PASSED` (never those in `NEVER`, even where a prefix
//! would match), `Location` only while it stays under `/ucloud/{id}/` on the gateway, and the gateway
//! adds `ADDED` so nothing a provider sends runs as the gateway's origin. `docs/protocol.md` §3
//! mirrors these tables.

use super::header_rules::{Name, When, passes, retain};
use http::StatusCode;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The provider's headers a caller may see.
pub const PASSED: [(Name, When); 14] = [
    (Name::Prefix("content-"), When::Always),
    (Name::Exact("cache-control"), When::Always),
    (Name::Exact("etag"), When::Always),
    (Name::Exact("last-modified"), When::Always),
    (Name::Exact("expires"), When::Always),
    (Name::Exact("vary"), When::Always),
    (Name::Exact("accept-ranges"), When::Always),
    (Name::Exact("retry-after"), When::Always),
    (Name::Prefix("x-provider-"), When::Always),
    (Name::Exact("connection"), When::WebSocketHandshake),
    (Name::Exact("upgrade"), When::WebSocketHandshake),
    (
        Name::Exact("sec-websocket-accept"),
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

/// Never passed, whatever `PASSED` says: the policy of the gateway's origin is the gateway's.
/// (`Content-Security-Policy*` is here because `Content-*` would match it; the gateway sets its own.)
pub const NEVER: [Name; 7] = [
    Name::Exact("set-cookie"),
    Name::Exact("clear-site-data"),
    Name::Prefix("access-control-"),
    Name::Exact("service-worker-allowed"),
    Name::Exact("refresh"),
    Name::Exact("strict-transport-security"),
    Name::Prefix("content-security-policy"),
];

/// Set on every brokered response, replacing any value of the same name.
pub const ADDED: [(HeaderName, HeaderValue); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'; frame-ancestors 'none'"),
    ),
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    ),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
];

/// Where a `Location` may point: the request URL it is resolved against, and the namespace it must
/// stay in. Built only when a response carries a `Location`.
pub struct LocationScope<'a> {
    /// The gateway's public URL, without a trailing slash.
    pub public: &'a url::Url,
    pub provider: &'a str,
    /// After `/ucloud/{id}/`, raw.
    pub path: &'a str,
    pub query: Option<&'a str>,
}

impl LocationScope<'_> {
    /// True when `location`, resolved against the request URL (dot segments included), is on the
    /// gateway's origin under `/ucloud/{id}/`.
    pub fn allows(&self, location: &HeaderValue) -> bool {
        let Ok(location) = location.to_str() else {
            return false;
        };
        let base_path = self.public.path().trim_end_matches('/');
        let namespace = format!("{base_path}/ucloud/{}/", self.provider);
        let mut base = self.public.clone();
        base.set_path(&format!("{namespace}{}", self.path));
        base.set_query(self.query);
        let Ok(resolved) = base.join(location) else {
            return false;
        };
        resolved.origin() == self.public.origin()
            && resolved.username().is_empty()
            && resolved.password().is_none()
            && resolved.path().starts_with(&namespace)
    }
}

/// Filters the provider's response headers in place and adds the gateway's.
pub fn filter(headers: &mut HeaderMap, status: StatusCode, location: &LocationScope<'_>) {
    let handshake = status == StatusCode::SWITCHING_PROTOCOLS;
    retain(headers, |name| {
        if *name == header::LOCATION {
            return true;
        }
        passes(&PASSED, name, handshake) && !NEVER.iter().any(|rule| rule.matches(name.as_str()))
    });
    let locations = headers.get_all(header::LOCATION);
    let mut values = locations.iter();
    let keep = match (values.next(), values.next()) {
        (Some(one), None) => location.allows(one),
        // Several `Location`s are ambiguous: none is kept.
        _ => false,
    };
    if !keep {
        headers.remove(header::LOCATION);
    }
    // None of these passed the filter above (`NEVER`, or not in `PASSED`): appending cannot
    // double one, and skips insert's search for an old value.
    for (name, value) in ADDED {
        headers.append(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filtered(status: u16, pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let public = url::Url::parse("https://gw.example.org").unwrap();
        let scope = LocationScope {
            public: &public,
            provider: "dev",
            path: "storage/files/a",
            query: Some("x=1"),
        };
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        filter(&mut h, StatusCode::from_u16(status).unwrap(), &scope);
        h
    }

    #[test]
    fn only_listed_headers_reach_the_caller_and_the_gateway_adds_its_policy() {
        let h = filtered(
            200,
            &[
                ("set-cookie", "gw_session=evil; Path=/"),
                ("clear-site-data", "\"*\""),
                ("access-control-allow-origin", "*"),
                ("access-control-allow-credentials", "true"),
                ("service-worker-allowed", "/"),
                ("refresh", "0; url=https://evil.example"),
                ("strict-transport-security", "max-age=0"),
                ("content-security-policy", "script-src *"),
                ("content-security-policy-report-only", "default-src *"),
                ("x-content-type-options", "sniff"),
                ("referrer-policy", "unsafe-url"),
                ("cross-origin-resource-policy", "cross-origin"),
                ("link", "<https://evil.example>; rel=preload"),
                ("server", "provider/1.0"),
                ("transfer-encoding", "chunked"),
                ("connection", "close"),
                ("content-type", "text/html"),
                ("content-disposition", "attachment"),
                ("etag", "\"1\""),
                ("vary", "accept"),
                ("x-provider-job", "42"),
            ],
        );
        let mut names: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "content-disposition",
                "content-security-policy",
                "content-type",
                "cross-origin-resource-policy",
                "etag",
                "referrer-policy",
                "vary",
                "x-content-type-options",
                "x-provider-job",
            ]
        );
        assert_eq!(
            h.get_all("content-security-policy")
                .iter()
                .collect::<Vec<_>>(),
            ["sandbox; default-src 'none'; frame-ancestors 'none'"]
        );
        for (name, ours) in [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("cross-origin-resource-policy", "same-origin"),
        ] {
            assert_eq!(h.get_all(name).iter().collect::<Vec<_>>(), [ours], "{name}");
        }
    }

    #[test]
    fn websocket_handshake_headers_pass_only_on_101() {
        let pairs = [
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ];
        assert!(filtered(101, &pairs).contains_key("sec-websocket-accept"));
        assert!(filtered(101, &pairs).contains_key("upgrade"));
        assert!(!filtered(200, &pairs).contains_key("sec-websocket-accept"));
        assert!(!filtered(200, &pairs).contains_key("upgrade"));
    }

    #[test]
    fn a_location_is_kept_only_inside_the_providers_namespace() {
        let kept = [
            "b",
            "./b?y=2",
            "../other",
            "/ucloud/dev/compute/docker/1",
            "https://gw.example.org/ucloud/dev/x",
            "?page=2",
            "#top",
        ];
        let dropped = [
            "../../usermap/../../x",
            "../../../tokens",
            "/tokens",
            "/ucloud/dev",
            "/ucloud/other/x",
            "/ucloud/dev/../other/x",
            "/ucloud/dev/%2e%2e/other",
            "//evil.example/ucloud/dev/x",
            "\\\\evil.example/ucloud/dev/x",
            "https://evil.example/ucloud/dev/x",
            "http://gw.example.org/ucloud/dev/x",
            "https://gw.example.org:8443/ucloud/dev/x",
            "https://user@gw.example.org/ucloud/dev/x",
            "javascript:alert(1)",
            "data:text/html,<script>",
        ];
        for l in kept {
            let h = filtered(302, &[("location", l)]);
            assert_eq!(
                h.get("location").map(|v| v.to_str().unwrap()),
                Some(l),
                "{l}"
            );
        }
        for l in dropped {
            assert!(
                !filtered(302, &[("location", l)]).contains_key("location"),
                "{l}"
            );
        }
        let two = filtered(302, &[("location", "b"), ("location", "/tokens")]);
        assert!(!two.contains_key("location"));
    }
}
