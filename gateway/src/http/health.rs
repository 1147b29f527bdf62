//! Liveness and readiness probes.

use super::errors::ApiError;
use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    security(()),
    responses((status = 200, description = "The process is up", body = String, content_type = "text/plain"))
)]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The database answers and a signing key is loaded; else `503 notReady` (problem+json), so a load
/// balancer's log says why.
/// How long `/readyz` waits for the database.
const READY_PING: std::time::Duration = std::time::Duration::from_secs(2);

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    security(()),
    responses((status = 200, description = "Ready to serve", body = String, content_type = "text/plain"))
)]
pub async fn readyz(State(app): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    // A probe wants an answer quickly: while the database is away, the pool would keep trying to
    // connect for its whole acquire timeout.
    match tokio::time::timeout(READY_PING, app.store.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            return Err(ApiError::NotReady("the database is unreachable"));
        }
        Err(_) => {
            tracing::warn!("readiness: the database did not answer in time");
            return Err(ApiError::NotReady("the database is unreachable"));
        }
    }
    if !app.feed_health.is_live() {
        return Err(ApiError::NotReady(
            "not listening to the change feed yet: changes made elsewhere could be missed",
        ));
    }
    if app.keys.current_kid().is_none() {
        return Err(ApiError::NotReady("no signing key is loaded"));
    }
    Ok((StatusCode::OK, "ready\n"))
}
