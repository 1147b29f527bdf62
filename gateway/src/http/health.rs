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

/// The database answers and a signing key is loaded.
pub async fn readyz(State(app): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    if let Err(e) = app.store.ping().await {
        tracing::warn!(error = %e, "readiness: database unreachable");
        return Ok((StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n"));
    }
    if app.keys.current_kid().is_none() {
        return Ok((StatusCode::SERVICE_UNAVAILABLE, "no signing key loaded\n"));
    }
    Ok((StatusCode::OK, "ready\n"))
}
