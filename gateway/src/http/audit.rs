//! `GET /api/admin/audit?limit=N&before=ID`: the audit log, newest first, for admins.

use super::errors::ApiError;
use super::extract::AdminAuth;
use super::query::Params;
use super::schemas as doc;
use crate::app::AppState;
use crate::clock::rfc3339;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<i64>,
    before: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/admin/audit",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    params(AuditQuery),
    responses((status = 200, description = "Audit rows, newest first", body = [doc::AuditEntry]))
)]
pub async fn list(
    State(app): State<AppState>,
    AdminAuth(_): AdminAuth,
    Params(q): Params<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let entries = app
        .audit
        .list(q.limit.unwrap_or(100), q.before)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(
        entries
            .iter()
            .map(|e| {
                let ev = &e.event;
                let detail =
                    serde_json::from_str(&ev.detail).unwrap_or(Value::String(ev.detail.clone()));
                json!({ "id": e.id, "at": rfc3339(ev.at), "actor": ev.actor, "action": ev.action,
                        "target": ev.target, "detail": detail })
            })
            .collect(),
    ))
}
