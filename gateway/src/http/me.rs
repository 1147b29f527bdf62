//! `GET /api/me`: the caller's principal, exactly as providers receive it.

use super::errors::ApiError;
use super::extract::UserAuth;
use super::schemas as doc;
use crate::accounts::principal;
use crate::app::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

/// `{"principal": {…}, "projects": [{"id","title","role","createdAt"}]}`.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "me",
    security(("apiToken" = []), ("session" = [])),
    responses((status = 200, description = "The caller's principal and projects", body = doc::Me))
)]
pub async fn me(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
) -> Result<Json<Value>, ApiError> {
    let projects = app.projects.mine(&user).await?;
    Ok(Json(
        json!({ "principal": principal(&user), "projects": super::projects::memberships(&projects) }),
    ))
}
