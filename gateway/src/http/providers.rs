//! Provider registration and reading (SPEC §1). Metadata is immutable: any attempt to change it is
//! refused with `405 metadataImmutable`.

use super::errors::ApiError;
use super::extract::{JsonBody, ProviderOrUser, UserAuth};
use super::schemas as doc;
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::http::input::Path;
use crate::manifests::{Cached, FetchFailure, ManifestError, Refreshed};
use crate::model::{Provider, Role, User};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use provider_kit::protocol::ProviderMetadata;
use serde_json::{Value, json};

#[utoipa::path(
    post,
    path = "/api/providers",
    tag = "providers",
    security(("apiToken" = []), ("session" = [])),
    request_body = doc::ProviderMetadata,
    responses((status = 201, description = "Registered; the refresh token is shown only now", body = doc::ProviderView))
)]
pub async fn register(
    State(app): State<AppState>,
    UserAuth(owner): UserAuth,
    JsonBody(metadata): JsonBody<ProviderMetadata>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (provider, refresh) = app.registry.register(&owner, metadata).await?;
    let mut body = view(&provider, &Cached::default(), true);
    body["refreshToken"] = json!(refresh.expose());
    body["issuer"] = json!(app.issuer);
    body["jwksUrl"] = json!(format!("{}/.well-known/jwks.json", app.issuer));
    Ok((StatusCode::CREATED, Json(body)))
}

#[utoipa::path(
    get,
    path = "/api/providers",
    tag = "providers",
    security(("apiToken" = []), ("session" = [])),
    responses((status = 200, description = "The providers the caller may see", body = [doc::ProviderView]))
)]
pub async fn list(
    State(app): State<AppState>,
    UserAuth(viewer): UserAuth,
) -> Result<Json<Value>, ApiError> {
    let providers = app.registry.list(&viewer).await?;
    let mut views = Vec::with_capacity(providers.len());
    for p in &providers {
        let status = app
            .manifests
            .status(p.metadata.id.as_str())
            .await
            .map_err(internal)?;
        views.push(view(p, &status, privileged(&viewer, p)));
    }
    Ok(Json(Value::Array(views)))
}

#[utoipa::path(
    get,
    path = "/api/providers/{id}",
    tag = "providers",
    security(("apiToken" = []), ("session" = [])),
    params(("id" = String, Path, description = "The provider id")),
    responses((status = 200, description = "The provider", body = doc::ProviderView))
)]
pub async fn get(
    State(app): State<AppState>,
    UserAuth(viewer): UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let provider = app.registry.get(&viewer, &id).await?;
    let status = app.manifests.status(&id).await.map_err(internal)?;
    Ok(Json(view(
        &provider,
        &status,
        privileged(&viewer, &provider),
    )))
}

/// Forced reload, by the provider itself (access token) or its owner or an admin.
#[utoipa::path(
    post,
    path = "/api/providers/{id}/manifest/reload",
    tag = "providers",
    security(("apiToken" = []), ("session" = []), ("providerToken" = [])),
    params(("id" = String, Path, description = "The provider id")),
    responses((status = 200, description = "Fetched again; `reload` says whether it changed", body = doc::ProviderView))
)]
pub async fn reload_manifest(
    State(app): State<AppState>,
    caller: ProviderOrUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let provider = match caller {
        ProviderOrUser::Provider(p) if p.metadata.id.as_str() == id => p,
        ProviderOrUser::Provider(_) => {
            return Err(ApiError::Forbidden(
                "a provider can reload only its own manifest",
            ));
        }
        ProviderOrUser::User(user) => {
            let p = app.registry.get(&user, &id).await?;
            if !privileged(&user, &p) {
                return Err(ApiError::Forbidden(
                    "only the provider's owner or an admin can reload its manifest",
                ));
            }
            p
        }
    };
    let refreshed = app
        .manifests
        .refresh(&provider)
        .await
        .map_err(|e| match e {
            ManifestError::NotApproved(_) => ApiError::ProviderNotApproved(e.to_string()),
            e => internal(e),
        })?;
    match refreshed {
        Refreshed::Failed(
            error @ (FetchFailure::InvalidManifest(_) | FetchFailure::NotAManifest(_)),
        ) => Err(ApiError::InvalidManifest(error.to_string())),
        Refreshed::Failed(error) => Err(ApiError::ManifestUnavailable(error.to_string())),
        outcome => {
            let status = app.manifests.status(&id).await.map_err(internal)?;
            let mut body = view(&provider, &status, true);
            body["reload"] = json!(if outcome == Refreshed::Updated {
                "updated"
            } else {
                "notModified"
            });
            Ok(Json(body))
        }
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

#[utoipa::path(
    method(put, patch, delete),
    path = "/api/providers/{id}",
    tag = "providers",
    security(("apiToken" = []), ("session" = [])),
    params(("id" = String, Path, description = "The provider id")),
    responses((status = 405, description = "`metadataImmutable`: metadata never changes after registration", body = doc::Problem, content_type = "application/problem+json"))
)]
pub async fn immutable() -> ApiError {
    ApiError::Immutable(
        "provider metadata cannot be changed after registration; register a new provider id instead",
    )
}

fn privileged(viewer: &User, provider: &Provider) -> bool {
    viewer.role == Role::Admin || viewer.id == provider.owner_id
}

/// The provider as the API shows it: metadata, status, the last valid manifest and how fetching goes;
/// owners and admins also see warnings and the refresh-token state.
fn view(p: &Provider, manifest: &Cached, privileged: bool) -> Value {
    let m = &p.metadata;
    let r = &manifest.record;
    let mut body = json!({
        "id": m.id,
        "domain": m.domain,
        "https": m.https,
        "port": m.port(),
        "env": m.env,
        "status": p.status.as_str(),
        "createdAt": rfc3339(p.created_at),
        "manifest": manifest.manifest.as_deref(),
        "manifestError": r.last_error,
        "fetchedAt": r.fetched_at.map(rfc3339),
    });
    if privileged {
        body["warnings"] = json!(r.warnings);
        body["checkedAt"] = json!(r.checked_at.map(rfc3339));
        body["failures"] = json!(r.failures);
        body["hasRefreshToken"] = json!(p.has_refresh_token);
    }
    body
}
