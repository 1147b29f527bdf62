//! Account lifecycle by admins: read a user's state, suspend (until a date or indefinitely), resume,
//! disable (revokes sessions and API tokens), and set the membership end date.

use super::errors::ApiError;
use super::extract::{AdminAuth, JsonBody};
use super::schemas as doc;
use crate::accounts::AccountLifecycle;
use crate::app::AppState;
use crate::audit::Actor;
use crate::clock::{parse_rfc3339, rfc3339};
use crate::http::input::Path;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

#[utoipa::path(
    get,
    path = "/api/admin/users/{username}",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    params(("username" = String, Path, description = "The user")),
    responses((status = 200, description = "The account state", body = doc::AccountView))
)]
pub async fn status(
    State(app): State<AppState>,
    AdminAuth(_): AdminAuth,
    Path(username): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&app.accounts.lifecycle(&username).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendBody {
    /// RFC 3339; absent or null: indefinitely.
    #[serde(default)]
    until: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/admin/users/{username}/suspend",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    params(("username" = String, Path, description = "The user")),
    request_body = SuspendBody,
    responses((status = 200, description = "Suspended", body = doc::AccountView))
)]
pub async fn suspend(
    State(app): State<AppState>,
    AdminAuth(admin): AdminAuth,
    Path(username): Path<String>,
    JsonBody(b): JsonBody<SuspendBody>,
) -> Result<Json<Value>, ApiError> {
    let until = time_field("until", b.until.as_deref()).map_err(ApiError::BadRequest)?;
    let done = app
        .accounts
        .suspend(&Actor::user(&admin), &username, until)
        .await?;
    Ok(Json(view(&done)))
}

#[utoipa::path(
    post,
    path = "/api/admin/users/{username}/resume",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    params(("username" = String, Path, description = "The user")),
    responses((status = 200, description = "Resumed", body = doc::AccountView))
)]
pub async fn resume(
    State(app): State<AppState>,
    AdminAuth(admin): AdminAuth,
    Path(username): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let done = app.accounts.resume(&Actor::user(&admin), &username).await?;
    Ok(Json(view(&done)))
}

/// Activates an account created by a federated sign-in that awaits approval (SPEC §8).
#[utoipa::path(
    post,
    path = "/api/admin/users/{username}/approve",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    params(("username" = String, Path, description = "The user")),
    responses((status = 200, description = "Approved", body = doc::AccountView))
)]
pub async fn approve(
    State(app): State<AppState>,
    AdminAuth(admin): AdminAuth,
    Path(username): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let done = app
        .accounts
        .approve(&Actor::user(&admin), &username)
        .await?;
    Ok(Json(view(&done)))
}

#[utoipa::path(
    post,
    path = "/api/admin/users/{username}/disable",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    params(("username" = String, Path, description = "The user")),
    responses((status = 200, description = "Disabled", body = doc::AccountView))
)]
pub async fn disable(
    State(app): State<AppState>,
    AdminAuth(admin): AdminAuth,
    Path(username): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let done = app.disable_user(&Actor::user(&admin), &username).await?;
    Ok(Json(view(&done)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExpiryBody {
    /// RFC 3339; null: no end. A time not after now expires the account at once.
    expires_at: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/admin/users/{username}/expiry",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    params(("username" = String, Path, description = "The user")),
    request_body = ExpiryBody,
    responses((status = 200, description = "The expiry as set", body = doc::AccountView))
)]
pub async fn set_expiry(
    State(app): State<AppState>,
    AdminAuth(admin): AdminAuth,
    Path(username): Path<String>,
    JsonBody(b): JsonBody<ExpiryBody>,
) -> Result<Json<Value>, ApiError> {
    let at = time_field("expiresAt", b.expires_at.as_deref()).map_err(ApiError::BadRequest)?;
    let done = app
        .accounts
        .set_expiry(&Actor::user(&admin), &username, at)
        .await?;
    Ok(Json(view(&done)))
}

/// An optional RFC 3339 field as Unix ms; the error names the field.
fn time_field(name: &str, text: Option<&str>) -> Result<Option<i64>, String> {
    text.map(parse_rfc3339)
        .transpose()
        .map_err(|e| format!("{name}: {e}"))
}

/// `{"username","state","status","suspendedUntil","expiresAt"}`: `state` is what applies now.
fn view(l: &AccountLifecycle) -> Value {
    json!({
        "username": l.user.username,
        "state": l.state.as_str(),
        "status": l.record.status.as_str(),
        "suspendedUntil": l.record.suspended_until.map(rfc3339),
        "expiresAt": l.record.expires_at.map(rfc3339),
    })
}
