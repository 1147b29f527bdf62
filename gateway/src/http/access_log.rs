//! The access log and the request id: the outermost layer of the public router. Every request
//! gets one id (the caller's `X-Request-Id` when valid, else a fresh one — the broker's own rule,
//! `broker::request_id`), which every answer echoes and the broker sends upstream; every request
//! ends in one `gateway::access` log line and one count in `crate::metrics::HttpMetrics`.
//!
//! The line names the matched route (never the raw path or query), the status, the latency, the
//! id, and who was authenticated (a username or provider id, recorded by the identity extractors
//! through `RequestNotes`) — never a token or cookie.

use crate::app::AppState;
use crate::broker::{X_REQUEST_ID, request_id};
use axum::extract::{MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, Mutex};
use std::time::Instant;

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

    fn take(&self) -> Noted {
        self.0
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
    }
}

/// Records the authenticated principal on the request's notes (called by the identity extractors).
pub fn note_principal(parts: &Parts, principal: Principal) {
    if let Some(notes) = parts.extensions.get::<RequestNotes>() {
        notes.with(|n| n.principal = Some(principal));
    }
}

/// A `route_layer`: records the matched route, which the outer layer cannot see before routing.
pub async fn note_route(matched: MatchedPath, request: Request, next: Next) -> Response {
    if let Some(notes) = request.extensions().get::<RequestNotes>() {
        notes.with(|n| n.route = Some(matched.as_str().to_owned()));
    }
    next.run(request).await
}

/// The outermost layer: assigns the request id, echoes it, logs the line, counts the request.
pub async fn access_log(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = request_id(request.headers());
    // Inner layers (the broker) read the id from the request and so agree with this line.
    request.headers_mut().insert(X_REQUEST_ID, id.clone());
    let notes = RequestNotes::default();
    request.extensions_mut().insert(notes.clone());
    let method = request.method().clone();
    let mut response = next.run(request).await;
    response.headers_mut().insert(X_REQUEST_ID, id.clone());
    let latency = start.elapsed();
    let noted = notes.take();
    let route = noted.route.as_deref().unwrap_or(UNMATCHED);
    let status = response.status();
    app.http_metrics.observe(route, status.as_u16(), latency);
    let (user, provider) = match &noted.principal {
        Some(Principal::User(u)) => (Some(u.as_str()), None),
        Some(Principal::Provider(p)) => (None, Some(p.as_str())),
        None => (None, None),
    };
    tracing::info!(
        target: "gateway::access",
        method = %method,
        route,
        status = status.as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        request_id = id.to_str().unwrap_or("-"),
        user,
        provider,
        "request"
    );
    response
}
