//! Liveness and readiness probes.

use super::errors::ApiError;
use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The database answers and a signing key is loaded; else `503 notReady` (problem+json), so a load
/// balancer's log says why.
pub async fn readyz(State(app): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    if let Err(e) = app.store.ping().await {
        tracing::warn!(error = %e, "readiness: database unreachable");
        return Err(ApiError::NotReady("the database is unreachable"));
    }
    if app.keys.current_kid().is_none() {
        return Err(ApiError::NotReady("no signing key is loaded"));
    }
    Ok((StatusCode::OK, "ready\n"))
}
