//! Linked identities over the API (SPEC §8): list, start linking one more (in this browser
//! session only), unlink; and the admin's account merge.

use super::errors::ApiError;
use super::extract::{AdminAuth, JsonBody, UserAuth, bearer, session};
use crate::app::AppState;
use crate::audit::Actor;
use crate::clock::rfc3339;
use crate::http::input::Path;
use crate::model::Identity;
use crate::oidc::OidcError;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn view(identity: &Identity) -> Value {
    json!({
        "id": identity.id,
        "identityProvider": identity.idp_id,
        "subject": identity.subject,
        "email": identity.email,
        "linkedAt": rfc3339(identity.linked_at),
    })
}

#[utoipa::path(
    get,
    path = "/api/me/identities",
    tag = "identities",
    security(("apiToken" = []), ("session" = [])),
    responses((status = 200, description = "The caller's linked identities", body = [super::schemas::LinkedIdentity]))
)]
pub async fn list(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
) -> Result<Json<Value>, ApiError> {
    let identities = app.accounts.identities(user.id).await?;
    Ok(Json(Value::Array(identities.iter().map(view).collect())))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LinkBody {
    identity_provider: String,
}

/// `200 {"redirect": url}`: the browser goes there and signs in at the IdP; the callback links
/// the identity only when it arrives with this same session.
#[utoipa::path(
    post,
    path = "/api/me/identities",
    tag = "identities",
    security(("session" = [])),
    request_body = LinkBody,
    responses((status = 200, description = "Send the browser here to sign in at the identity provider", body = super::schemas::LinkRedirect))
)]
pub async fn link(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
    parts: Parts,
    JsonBody(body): JsonBody<LinkBody>,
) -> Result<Json<Value>, ApiError> {
    let url = start_link(&app, &user, &parts, &body.identity_provider).await?;
    Ok(Json(json!({ "redirect": url })))
}

/// Shared by the API and the identities page.
pub async fn start_link(
    app: &AppState,
    user: &crate::model::User,
    parts: &Parts,
    idp: &str,
) -> Result<String, ApiError> {
    let session = match bearer(parts) {
        Some(_) => None,
        None => session(parts, app),
    }
    .ok_or_else(|| {
        ApiError::SessionRequired(
            "linking an identity needs a signed-in browser session, not an API token".into(),
        )
    })?;
    app.identity_providers
        .start_link(idp, user.id, session, "/account/identities")
        .await
        .map_err(|e| match e {
            OidcError::UnknownIdp(_) => ApiError::NotFound(e.to_string()),
            OidcError::Idp { ref name, .. } => ApiError::ProviderUnreachable {
                detail: e.to_string(),
                provider: name.clone(),
            },
            OidcError::Store(ref cause) => ApiError::Internal(cause.to_string()),
            other => ApiError::BadRequest(other.to_string()),
        })
}

#[utoipa::path(
    delete,
    path = "/api/me/identities/{id}",
    tag = "identities",
    security(("apiToken" = []), ("session" = [])),
    params(("id" = String, Path, description = "The linked identity's id")),
    responses((status = 204, description = "Unlinked"))
)]
pub async fn unlink(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.accounts.unlink_identity(user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    from: String,
    into: String,
}

/// `POST /api/admin/users/merge {"from","into"}`: what moved and what was revoked.
#[utoipa::path(
    post,
    path = "/api/admin/users/merge",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    request_body = MergeBody,
    responses((status = 200, description = "Merged: what moved and what was revoked", body = super::schemas::MergeResult))
)]
pub async fn merge(
    State(app): State<AppState>,
    AdminAuth(admin): AdminAuth,
    JsonBody(body): JsonBody<MergeBody>,
) -> Result<Json<Value>, ApiError> {
    let merged = app
        .merge_users(&Actor::user(&admin), &body.from, &body.into)
        .await?;
    let mut answer = serde_json::to_value(&merged).unwrap_or_else(|_| json!({}));
    answer["from"] = json!(body.from);
    answer["into"] = json!(body.into);
    Ok(Json(answer))
}
