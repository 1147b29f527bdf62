//! Headers on every response the gateway sends (SPEC §7): `X-Content-Type-Options: nosniff`;
//! `Strict-Transport-Security` when served over https; and `Cache-Control: no-store` on everything
//! the gateway answers itself unless a handler chose otherwise, so no token, secret or signed-in
//! page lands in a shared cache. Brokered responses keep the provider's caching headers (the
//! broker's response policy filters them). Applied by `front` to every answer.

use axum::http::{HeaderMap, HeaderValue, header};

const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// Adds the headers to a response; `brokered` for the broker's answers (the provider's or a
/// refusal of a `/ucloud/` request).
pub fn add(headers: &mut HeaderMap, https: bool, brokered: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    if !brokered && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
