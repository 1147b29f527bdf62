//! `GET /api/me`: the caller's principal, exactly as providers receive it.

use super::extract::UserAuth;
use crate::accounts::principal;
use axum::Json;
use serde_json::{Value, json};

pub async fn me(UserAuth(user): UserAuth) -> Json<Value> {
    Json(json!({ "principal": principal(&user), "projects": [] }))
}
