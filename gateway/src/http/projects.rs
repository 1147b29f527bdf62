//! Projects over HTTP: create, list mine, read one (members only), add or change and remove members.

use super::errors::ApiError;
use super::extract::{JsonBody, UserAuth};
use super::schemas as doc;
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::http::input::Path;
use crate::model::{Project, ProjectRole};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    title: String,
}

#[utoipa::path(
    post,
    path = "/api/projects",
    tag = "projects",
    security(("apiToken" = []), ("session" = [])),
    request_body = NewProject,
    responses((status = 201, description = "Created; the caller is its PI", body = doc::ProjectView))
)]
pub async fn create(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
    JsonBody(b): JsonBody<NewProject>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let project = app.projects.create(&user, &b.title).await?;
    Ok((StatusCode::CREATED, Json(view(&project, ProjectRole::Pi))))
}

#[utoipa::path(
    get,
    path = "/api/projects",
    tag = "projects",
    security(("apiToken" = []), ("session" = [])),
    responses((status = 200, description = "The caller's projects", body = [doc::ProjectView]))
)]
pub async fn list(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(memberships(&app.projects.mine(&user).await?)))
}

#[utoipa::path(
    get,
    path = "/api/projects/{id}",
    tag = "projects",
    security(("apiToken" = []), ("session" = [])),
    params(("id" = String, Path, description = "The project id")),
    responses((status = 200, description = "The project and its members", body = doc::ProjectDetail))
)]
pub async fn get(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (project, role, members) = app.projects.get(&user, &id).await?;
    let mut body = view(&project, role);
    body["members"] = members
        .iter()
        .map(|m| json!({ "username": m.username, "role": m.role.as_str(), "addedAt": rfc3339(m.added_at) }))
        .collect();
    Ok(Json(body))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    username: String,
    role: String,
}

/// Adds a member or changes their role (`USER` or `ADMIN`).
#[utoipa::path(
    post,
    path = "/api/projects/{id}/members",
    tag = "projects",
    security(("apiToken" = []), ("session" = [])),
    params(("id" = String, Path, description = "The project id")),
    request_body = MemberBody,
    responses((status = 200, description = "The member as set", body = doc::MemberSet))
)]
pub async fn set_member(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<MemberBody>,
) -> Result<Json<Value>, ApiError> {
    let role = ProjectRole::parse(&b.role)
        .ok_or_else(|| ApiError::BadRequest(format!("role: {:?} is not USER or ADMIN", b.role)))?;
    let member = app
        .projects
        .set_member(&user, &id, &b.username, role)
        .await?;
    Ok(Json(
        json!({ "username": member.username, "role": member.role.as_str() }),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/projects/{id}/members/{username}",
    tag = "projects",
    security(("apiToken" = []), ("session" = [])),
    params(("id" = String, Path, description = "The project id"), ("username" = String, Path, description = "The member")),
    responses((status = 204, description = "Removed"))
)]
pub async fn remove_member(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
    Path((id, username)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.projects.remove_member(&user, &id, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `[{"id","title","role","createdAt"}]`, as `/api/projects` and `/api/me` show a user's projects.
pub fn memberships(list: &[(Project, ProjectRole)]) -> Value {
    list.iter().map(|(p, role)| view(p, *role)).collect()
}

fn view(p: &Project, role: ProjectRole) -> Value {
    json!({ "id": p.id, "title": p.title, "role": role.as_str(), "createdAt": rfc3339(p.created_at) })
}
