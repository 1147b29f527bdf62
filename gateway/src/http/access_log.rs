//! The access log: every request on the public listener ends in one `gateway::access` line and
//! one count in `crate::metrics::HttpMetrics`, both written by `front` (which also gives every
//! request its id). This module holds the line and the notes the inner layers leave for it.
//!
//! The line names the matched route (never the raw path or query), the status, the latency, the
//! id, and who was authenticated (a username or provider id, recorded by the identity extractors
//! through `RequestNotes`) — never a token or cookie.

use axum::extract::{MatchedPath, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, Mutex};

/// The route label of a request no route matched (the fallback), so raw paths never become labels.
pub const UNMATCHED: &str = "unmatched";

/// Who a request was authenticated as.
#[derive(Debug, Clone)]
pub enum Principal {
    User(String),
    Provider(String),
}

#[derive(Debug, Default)]
struct Noted {
    route: Option<String>,
    principal: Option<Principal>,
}

/// What the inner layers learn about a request for its access-log line: a request extension.
#[derive(Clone, Default)]
pub struct RequestNotes(Arc<Mutex<Noted>>);

impl RequestNotes {
    fn with(&self, f: impl FnOnce(&mut Noted)) {
        if let Ok(mut noted) = self.0.lock() {
            f(&mut noted);
        }
    }

    /// The matched route and the principal the inner layers noted.
    pub fn take(&self) -> (Option<String>, Option<Principal>) {
        let noted = self
            .0
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default();
        (noted.route, noted.principal)
    }
}

/// Records the authenticated principal on the request's notes (called by the identity extractors).
pub fn note_principal(parts: &Parts, principal: impl FnOnce() -> Principal) {
    if let Some(notes) = parts.extensions.get::<RequestNotes>() {
        notes.with(|n| n.principal = Some(principal()));
    }
}

/// A `route_layer`: records the matched route, which the outer layer cannot see before routing.
pub async fn note_route(matched: MatchedPath, request: Request, next: Next) -> Response {
    if let Some(notes) = request.extensions().get::<RequestNotes>() {
        notes.with(|n| n.route = Some(matched.as_str().to_owned()));
    }
    next.run(request).await
}

/// One request's access-log line and count, written by `front` once the response head is ready.
pub struct Line<'a> {
    pub method: &'a axum::http::Method,
    pub route: &'a str,
    pub status: u16,
    pub latency: std::time::Duration,
    pub request_id: &'a axum::http::HeaderValue,
    pub principal: Option<&'a Principal>,
}

/// Logs `line` as `gateway::access` (never a token or cookie: only what `Line` holds).
pub fn write(line: &Line<'_>) {
    let (user, provider) = match line.principal {
        Some(Principal::User(u)) => (Some(u.as_str()), None),
        Some(Principal::Provider(p)) => (None, Some(p.as_str())),
        None => (None, None),
    };
    tracing::info!(
        target: "gateway::access",
        method = %line.method,
        route = line.route,
        status = line.status,
        latency_ms = line.latency.as_secs_f64() * 1000.0,
        request_id = line.request_id.to_str().unwrap_or("-"),
        user,
        provider,
        "request"
    );
}
