//! Starting a connection attempt (SPEC §4) for a request: shared by the API
//! (`POST /api/connections`, `connections.rs`) and the connect page (`web/`), so neither imports
//! the other.

use super::errors::ApiError;
use super::extract::{bearer, session};
use crate::app::AppState;
use crate::connections::Started;
use axum::http::request::Parts;

/// Starts an attempt for `user` at `provider`, bound to the request's session unless it came with a
/// bearer token.
pub async fn start_attempt(
    app: &AppState,
    user: &crate::model::User,
    parts: &Parts,
    provider: &str,
) -> Result<Started, ApiError> {
    let provider = app.registry.get(user, provider).await?;
    // SPEC §9: the provider's terms, two-factor and assurance, before the browser leaves.
    if let Some(refusal) = app
        .gate
        .before_connect(user, provider.metadata.id.as_str())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
    {
        return Err(ApiError::refused(&refusal, &app.issuer));
    }
    let session = if bearer(parts).is_some() {
        None
    } else {
        session(parts, app)
    };
    Ok(app.connections.start(user, session, &provider).await?)
}
