//! Operator actions (SPEC §7): provider lifecycle, refresh-token rotation and revocation, key
//! rotation and revocation, user creation. The same actions exist as `gateway …` commands.

use super::errors::ApiError;
use super::extract::{AdminAuth, JsonBody};
use super::schemas as doc;
use crate::accounts::{UserInput, principal};
use crate::app::AppState;
use crate::audit::{Actor, AuditAction};
use crate::http::input::Path;
use crate::registry::Action;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

async fn lifecycle(
    app: &AppState,
    admin: &str,
    id: &str,
    action: Action,
) -> Result<Json<Value>, ApiError> {
    let actor = Actor::User(admin.to_owned());
    let provider = app.registry.apply(id, action, &actor).await?;
    tracing::info!(%admin, provider = %id, ?action, "admin changed provider status");
    Ok(Json(
        json!({ "id": provider.metadata.id, "status": provider.status.as_str() }),
    ))
}

#[utoipa::path(
    post,
    path = "/api/admin/providers/{id}/approve",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    params(("id" = String, Path, description = "The provider id")),
    responses((status = 200, description = "Approved", body = doc::ProviderStatus))
)]
pub async fn approve(
    State(app): State<AppState>,
    AdminAuth(a): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    lifecycle(&app, &a.username, &id, Action::Approve).await
}

#[utoipa::path(
    post,
    path = "/api/admin/providers/{id}/reject",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    params(("id" = String, Path, description = "The provider id")),
    responses((status = 200, description = "Rejected (suspended)", body = doc::ProviderStatus))
)]
pub async fn reject(
    State(app): State<AppState>,
    AdminAuth(a): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    lifecycle(&app, &a.username, &id, Action::Reject).await
}

#[utoipa::path(
    post,
    path = "/api/admin/providers/{id}/suspend",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    params(("id" = String, Path, description = "The provider id")),
    responses((status = 200, description = "Suspended", body = doc::ProviderStatus))
)]
pub async fn suspend(
    State(app): State<AppState>,
    AdminAuth(a): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    lifecycle(&app, &a.username, &id, Action::Suspend).await
}

#[utoipa::path(
    post,
    path = "/api/admin/providers/{id}/resume",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    params(("id" = String, Path, description = "The provider id")),
    responses((status = 200, description = "Resumed", body = doc::ProviderStatus))
)]
pub async fn resume(
    State(app): State<AppState>,
    AdminAuth(a): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    lifecycle(&app, &a.username, &id, Action::Resume).await
}

/// The old refresh token stops working at once; the new one is in this answer only.
#[utoipa::path(
    post,
    path = "/api/admin/providers/{id}/refresh-token",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    params(("id" = String, Path, description = "The provider id")),
    responses((status = 200, description = "A new refresh token (shown once); the old one no longer works", body = doc::RefreshTokenIssued))
)]
pub async fn rotate_refresh_token(
    State(app): State<AppState>,
    AdminAuth(a): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let actor = Actor::user(&a);
    let refresh = app
        .registry
        .rotate_refresh_token(&id, &actor, json!({}))
        .await?;
    Ok(Json(json!({ "id": id, "refreshToken": refresh.expose() })))
}

#[utoipa::path(
    delete,
    path = "/api/admin/providers/{id}/refresh-token",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    params(("id" = String, Path, description = "The provider id")),
    responses((status = 204, description = "Revoked"))
)]
pub async fn revoke_refresh_token(
    State(app): State<AppState>,
    AdminAuth(a): AdminAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.registry
        .revoke_refresh_token(&id, &Actor::user(&a))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RotateQuery {
    /// Sign with the new key at once (a compromised key) instead of after `key_activation_secs`.
    #[serde(default)]
    immediate: bool,
}

#[utoipa::path(
    post,
    path = "/api/admin/keys/rotate",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    params(RotateQuery),
    responses((status = 200, description = "The new signing key", body = doc::KeyView))
)]
pub async fn rotate_key(
    State(app): State<AppState>,
    AdminAuth(a): AdminAuth,
    crate::http::input::Query(q): crate::http::input::Query<RotateQuery>,
) -> Result<Json<Value>, ApiError> {
    let activation = app.key_activation(q.immediate);
    let key = app
        .keys
        .rotate(activation)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let detail = json!({ "immediate": q.immediate });
    app.audit
        .record(&Actor::user(&a), AuditAction::KeysRotated, &key.kid, detail)
        .await;
    Ok(Json(
        json!({ "kid": key.kid, "activeFrom": crate::clock::rfc3339(key.active_from) }),
    ))
}

/// Takes a key out of the JWK Set at once (SPEC §2); a key that signs is first replaced.
#[utoipa::path(
    post,
    path = "/api/admin/keys/{kid}/revoke",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    params(("kid" = String, Path, description = "The key id")),
    responses((status = 200, description = "Revoked", body = doc::KeyRevoked))
)]
pub async fn revoke_key(
    State(app): State<AppState>,
    AdminAuth(a): AdminAuth,
    Path(kid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let revoked = app.keys.revoke(&kid).await?;
    let replaced_by = revoked.replaced_by.as_ref().map(|k| k.kid.as_str());
    app.audit
        .record(
            &Actor::user(&a),
            AuditAction::KeysRevoked,
            &revoked.kid,
            json!({ "replacedBy": replaced_by }),
        )
        .await;
    Ok(Json(json!({
        "kid": revoked.kid,
        "revokedAt": crate::clock::rfc3339(revoked.revoked_at),
        "replacedBy": revoked.replaced_by.map(|k| json!({
            "kid": k.kid,
            "activeFrom": crate::clock::rfc3339(k.active_from),
        })),
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
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

#[utoipa::path(
    post,
    path = "/api/admin/users",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    request_body = NewUserBody,
    responses((status = 201, description = "Created", body = doc::UserCreated))
)]
pub async fn create_user(
    State(app): State<AppState>,
    AdminAuth(a): AdminAuth,
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
    let detail = json!({ "role": user.role.as_str() });
    app.audit
        .record(
            &Actor::user(&a),
            AuditAction::UserCreated,
            &user.username,
            detail,
        )
        .await;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "principal": principal(&user) })),
    ))
}
