//! The Origin rule (SPEC §3 step 1, §7): a request that the session cookie authenticates and that
//! can change something — any method but GET/HEAD/OPTIONS, or a WebSocket upgrade — must come from
//! the gateway's own pages: `Origin` equal to the public origin, or `Sec-Fetch-Site: same-origin`.
//! Checked by `front` for every request, before routing, so no cookie-authenticated handler can
//! forget it. Requests with
//! `Authorization` are not cookie-authenticated (the extractors prefer the bearer token), and the
//! `/login` form has its own login-CSRF check.

use super::extract::{SECURE_SESSION_COOKIE, SESSION_COOKIE};
use axum::http::{HeaderMap, Method, Request, header};

/// Whether the rule refuses `request` (answered `403 crossOriginRequest`); `issuer` is the
/// gateway's public URL.
pub fn refuses<B>(request: &Request<B>, issuer: &str) -> bool {
    needs_origin(request) && !from_our_pages(request.headers(), issuer)
}

fn needs_origin<B>(request: &Request<B>) -> bool {
    let headers = request.headers();
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    (unsafe_method || crate::broker::is_websocket_upgrade(headers))
        && !headers.contains_key(header::AUTHORIZATION)
        && has_session_cookie(headers)
        && request.uri().path() != "/login"
}

fn has_session_cookie(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(k, _)| k == SESSION_COOKIE || k == SECURE_SESSION_COOKIE)
}

/// `issuer` is the gateway's public URL; its origin is scheme, host and port. Either header
/// suffices: `Sec-Fetch-Site` is set by the browser itself (no page can forge it), and a browser
/// sends `Origin: null` instead of the real origin for some same-origin posts (under a
/// `no-referrer` policy), where `Sec-Fetch-Site` still tells the truth.
pub fn from_our_pages(headers: &HeaderMap, issuer: &str) -> bool {
    let origin_ok = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| same_origin(o, issuer));
    origin_ok
        || headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"same-origin"))
}

fn same_origin(origin: &str, issuer: &str) -> bool {
    match (url::Url::parse(origin), url::Url::parse(issuer)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin() && a.origin().is_tuple(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn only_the_gateways_own_origin_passes() {
        let issuer = "https://gw.example.org";
        assert!(from_our_pages(
            &h(&[("origin", "https://gw.example.org")]),
            issuer
        ));
        assert!(from_our_pages(
            &h(&[("origin", "https://GW.example.org:443")]),
            issuer
        ));
        for evil in [
            "https://evil.example",
            "http://gw.example.org",
            "https://gw.example.org.evil.example",
            "https://sub.gw.example.org",
            "null",
            "",
        ] {
            assert!(!from_our_pages(&h(&[("origin", evil)]), issuer), "{evil}");
        }
        assert!(from_our_pages(
            &h(&[("sec-fetch-site", "same-origin")]),
            issuer
        ));
        assert!(!from_our_pages(
            &h(&[("sec-fetch-site", "same-site")]),
            issuer
        ));
        assert!(
            !from_our_pages(
                &h(&[
                    ("origin", "https://evil.example"),
                    ("sec-fetch-site", "cross-site")
                ]),
                issuer
            ),
            "what a browser sends from another site"
        );
        assert!(
            from_our_pages(
                &h(&[("origin", "null"), ("sec-fetch-site", "same-origin")]),
                issuer
            ),
            "a same-origin post under no-referrer"
        );
        assert!(!from_our_pages(&HeaderMap::new(), issuer), "neither header");
    }
}
