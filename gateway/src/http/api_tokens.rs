//! Personal API tokens: created (shown once), listed (never the secret), deleted.

use super::errors::ApiError;
use super::extract::{JsonBody, UserAuth};
use super::schemas as doc;
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::http::input::Path;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
}

#[utoipa::path(
    post,
    path = "/api/tokens",
    tag = "tokens",
    security(("apiToken" = []), ("session" = [])),
    request_body = NewToken,
    responses((status = 201, description = "Created; the secret is shown only now", body = doc::TokenCreated))
)]
pub async fn create(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
    JsonBody(body): JsonBody<NewToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (token, secret) = app.accounts.create_api_token(&user, &body.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "id": token.id, "name": token.name, "token": secret.expose(), "createdAt": rfc3339(token.created_at) }),
        ),
    ))
}

#[utoipa::path(
    get,
    path = "/api/tokens",
    tag = "tokens",
    security(("apiToken" = []), ("session" = [])),
    responses((status = 200, description = "The caller's tokens, never their secrets", body = [doc::TokenView]))
)]
pub async fn list(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
) -> Result<Json<Value>, ApiError> {
    let tokens = app.accounts.api_tokens(&user).await?;
    Ok(Json(Value::Array(
        tokens
            .iter()
            .map(|t| json!({ "id": t.id, "name": t.name, "createdAt": rfc3339(t.created_at) }))
            .collect(),
    )))
}

#[utoipa::path(
    delete,
    path = "/api/tokens/{id}",
    tag = "tokens",
    security(("apiToken" = []), ("session" = [])),
    params(("id" = String, Path, description = "The token id")),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.accounts.delete_api_token(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
