//! Headers on every response the gateway sends (SPEC §7): `X-Content-Type-Options: nosniff`;
//! `Strict-Transport-Security` when served over https; and `Cache-Control: no-store` on everything
//! the gateway answers itself unless a handler chose otherwise, so no token, secret or signed-in
//! page lands in a shared cache. Brokered responses keep the provider's caching headers (the
//! broker's response policy filters them).

use crate::app::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

pub async fn security_headers(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let brokered = request.uri().path().starts_with("/ucloud/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if app.is_https() {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    if !brokered && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
