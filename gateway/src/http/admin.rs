//! Operator actions (SPEC §7): provider lifecycle, refresh-token rotation and revocation, key
//! rotation, user creation. The same actions exist as `gateway …` commands.

use super::errors::ApiError;
use super::extract::{AdminAuth, JsonBody};
use crate::accounts::{UserInput, principal};
use crate::app::AppState;
use crate::registry::Action;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

async fn lifecycle(
    app: &AppState,
    admin: &str,
    id: &str,
    action: Action,
) -> Result<Json<Value>, ApiError> {
    let provider = app.registry.apply(id, action).await?;
    tracing::info!(%admin, provider = %id, ?action, "admin changed provider status");
    Ok(Json(
        json!({ "id": provider.metadata.id, "status": provider.status.as_str() }),
    ))
}

pub async fn approve(
    State(app): State<AppState>,
    AdminAuth(a): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    lifecycle(&app, &a.username, &id, Action::Approve).await
}

pub async fn suspend(
    State(app): State<AppState>,
    AdminAuth(a): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    lifecycle(&app, &a.username, &id, Action::Suspend).await
}

pub async fn resume(
    State(app): State<AppState>,
    AdminAuth(a): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    lifecycle(&app, &a.username, &id, Action::Resume).await
}

/// The old refresh token stops working at once; the new one is in this answer only.
pub async fn rotate_refresh_token(
    State(app): State<AppState>,
    AdminAuth(_): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let refresh = app.registry.rotate_refresh_token(&id).await?;
    Ok(Json(json!({ "id": id, "refreshToken": refresh.expose() })))
}

pub async fn revoke_refresh_token(
    State(app): State<AppState>,
    AdminAuth(_): AdminAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.registry.revoke_refresh_token(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn rotate_key(
    State(app): State<AppState>,
    AdminAuth(_): AdminAuth,
) -> Result<Json<Value>, ApiError> {
    let kid = app
        .keys
        .rotate()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(json!({ "kid": kid })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUserBody {
    username: String,
    email: String,
    first_name: String,
    last_name: String,
    #[serde(default)]
    organization: Option<String>,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    password: Option<String>,
}

pub async fn create_user(
    State(app): State<AppState>,
    AdminAuth(_): AdminAuth,
    JsonBody(b): JsonBody<NewUserBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let user = app
        .accounts
        .create_user(UserInput {
            username: b.username,
            email: b.email,
            first_name: b.first_name,
            last_name: b.last_name,
            organization: b.organization,
            admin: b.admin,
            password: b.password,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "principal": principal(&user) })),
    ))
}
