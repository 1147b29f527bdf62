//! `GET /api/me`: the caller's principal, exactly as providers receive it.

use super::errors::ApiError;
use super::extract::UserAuth;
use crate::accounts::principal;
use crate::app::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

/// `{"principal": {…}, "projects": [{"id","title","role","createdAt"}]}`.
pub async fn me(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
) -> Result<Json<Value>, ApiError> {
    let projects = app.projects.mine(&user).await?;
    Ok(Json(
        json!({ "principal": principal(&user), "projects": super::projects::memberships(&projects) }),
    ))
}
