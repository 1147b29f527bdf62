//! Connections over the API (SPEC §4): start an attempt, list, disconnect; the provider's report
//! and its own disconnection. The browser's return is a page (`web/complete.rs`).

use super::connect::start_attempt;
use super::errors::ApiError;
use super::extract::{JsonBody, ProviderAuth, UserAuth};
use super::schemas as doc;
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::connections::ReportOutcome;
use crate::http::input::Path;
use crate::model::{Connection, state_str};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use provider_kit::protocol::{MappingReport, MappingReportAnswer};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    provider: String,
}

#[utoipa::path(
    post,
    path = "/api/connections",
    tag = "connections",
    security(("apiToken" = []), ("session" = [])),
    request_body = StartBody,
    responses((status = 201, description = "Started: post `redirect.fields` to `redirect.url`", body = doc::ConnectionStarted))
)]
pub async fn start(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
    parts: Parts,
    JsonBody(body): JsonBody<StartBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let started = start_attempt(&app, &user, &parts, &body.provider).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "connection": view(&started.connection),
            "redirect": { "method": "POST", "url": started.url, "fields": { "token": started.token } },
        })),
    ))
}

#[utoipa::path(
    get,
    path = "/api/connections",
    tag = "connections",
    security(("apiToken" = []), ("session" = [])),
    responses((status = 200, description = "The caller's connections", body = [doc::ConnectionView]))
)]
pub async fn list(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
) -> Result<Json<Value>, ApiError> {
    let connections = app.connections.list(&user).await?;
    Ok(Json(Value::Array(connections.iter().map(view).collect())))
}

/// `{id}` is the connection's id or the provider's.
#[utoipa::path(
    delete,
    path = "/api/connections/{id}",
    tag = "connections",
    security(("apiToken" = []), ("session" = [])),
    params(("id" = String, Path, description = "The connection id or the provider id")),
    responses((status = 204, description = "Disconnected"))
)]
pub async fn delete(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let connections = app.connections.list(&user).await?;
    let provider_id = connections
        .iter()
        .find(|c| c.id == id || c.provider_id == id)
        .map(|c| c.provider_id.clone())
        .ok_or_else(|| ApiError::NotFound(format!("no connection {id}")))?;
    let provider = app.registry.get_any(&provider_id).await?;
    app.connections.disconnect(&user, &provider).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/providers/usermap/{id}",
    tag = "connections",
    security(("providerToken" = [])),
    params(("id" = String, Path, description = "The provider id")),
    request_body = doc::MappingReport,
    responses((status = 200, description = "Explicit mapping: the completion code; implicit: the connection", body = inline(serde_json::Value)))
)]
pub async fn report(
    State(app): State<AppState>,
    ProviderAuth(provider): ProviderAuth,
    Path(id): Path<String>,
    JsonBody(report): JsonBody<MappingReport>,
) -> Result<Response, ApiError> {
    if provider.metadata.id.as_str() != id {
        return Err(ApiError::Forbidden(
            "a provider can report mappings only for itself",
        ));
    }
    let manifest = app.manifests.current(&id);
    let outcome = app
        .connections
        .report(&provider, manifest.as_deref(), report)
        .await?;
    Ok(match outcome {
        ReportOutcome::Explicit { completion_code } => {
            let answer = MappingReportAnswer {
                completion_code: Some(completion_code.expose().to_owned()),
            };
            // The code is a secret of the browser that signed in at the provider.
            (
                [(axum::http::header::CACHE_CONTROL, "no-store")],
                Json(answer),
            )
                .into_response()
        }
        ReportOutcome::Implicit(connection) => Json(view(&connection)).into_response(),
    })
}

#[utoipa::path(
    delete,
    path = "/api/providers/usermap/{id}/{username}",
    tag = "connections",
    security(("providerToken" = [])),
    params(("id" = String, Path, description = "The provider id"), ("username" = String, Path, description = "The gateway user")),
    responses((status = 204, description = "Disconnected"))
)]
pub async fn provider_disconnect(
    State(app): State<AppState>,
    ProviderAuth(provider): ProviderAuth,
    Path((id, username)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if provider.metadata.id.as_str() != id {
        return Err(ApiError::Forbidden(
            "a provider can end only its own connections",
        ));
    }
    app.connections
        .disconnect_by_provider(&provider, &username)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn view(c: &Connection) -> Value {
    json!({
        "id": c.id,
        "provider": c.provider_id,
        "state": state_str(c.state),
        "localIdentity": c.local_identity,
        "comment": c.comment,
        "commentUrl": c.comment_url,
        "updatedAt": rfc3339(c.updated_at),
    })
}
