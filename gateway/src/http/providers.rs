//! Provider registration and reading (SPEC §1). Metadata is immutable: any attempt to change it is
//! refused with `405 metadataImmutable`.

use super::errors::ApiError;
use super::extract::{JsonBody, UserAuth};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::model::{Provider, Role, User};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use provider_kit::protocol::ProviderMetadata;
use serde_json::{Value, json};

pub async fn register(
    State(app): State<AppState>,
    UserAuth(owner): UserAuth,
    JsonBody(metadata): JsonBody<ProviderMetadata>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (provider, refresh) = app.registry.register(&owner, metadata).await?;
    let mut body = view(&provider, true);
    body["refreshToken"] = json!(refresh.expose());
    body["issuer"] = json!(app.issuer);
    body["jwksUrl"] = json!(format!("{}/.well-known/jwks.json", app.issuer));
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn list(
    State(app): State<AppState>,
    UserAuth(viewer): UserAuth,
) -> Result<Json<Value>, ApiError> {
    let providers = app.registry.list(&viewer).await?;
    Ok(Json(Value::Array(
        providers
            .iter()
            .map(|p| view(p, privileged(&viewer, p)))
            .collect(),
    )))
}

pub async fn get(
    State(app): State<AppState>,
    UserAuth(viewer): UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let provider = app.registry.get(&viewer, &id).await?;
    Ok(Json(view(&provider, privileged(&viewer, &provider))))
}

pub async fn immutable() -> ApiError {
    ApiError::Immutable(
        "provider metadata cannot be changed after registration; register a new provider id instead",
    )
}

fn privileged(viewer: &User, provider: &Provider) -> bool {
    viewer.role == Role::Admin || viewer.id == provider.owner_id
}

/// The provider as the API shows it; owners and admins also see warnings.
fn view(p: &Provider, privileged: bool) -> Value {
    let m = &p.metadata;
    let mut body = json!({
        "id": m.id,
        "domain": m.domain,
        "https": m.https,
        "port": m.port(),
        "env": m.env,
        "status": p.status.as_str(),
        "createdAt": rfc3339(p.created_at),
        "manifest": null,
        "manifestError": null,
        "fetchedAt": null,
    });
    if privileged {
        body["warnings"] = json!([]);
        body["hasRefreshToken"] = json!(p.has_refresh_token);
    }
    body
}
