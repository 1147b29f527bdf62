//! Access policy over the API (SPEC §9): the agreements check every user API call passes,
//! `GET/POST /api/me/agreements`, the admin's `GET /api/admin/agreements`, and
//! `GET /api/providers/{id}/access` — the access gate's own evaluation, explained.

use super::errors::ApiError;
use super::extract::{AdminAuth, JsonBody, UserAuth};
use super::refusal::pending_json;
use super::schemas as doc;
use crate::app::{App, AppState};
use crate::clock::rfc3339;
use crate::http::input::{Path, Query};
use crate::model::{Owner, User};
use crate::policy::{AgreementError, Evaluation, Subject};
use crate::store::AcceptanceRow;
use axum::Json;
use axum::extract::State;
use axum::http::request::Parts;
use serde::Deserialize;
use serde_json::{Value, json};

fn acceptance_json(row: &AcceptanceRow) -> Value {
    let mut v = match row.kind.as_str() {
        "provider" => json!({ "provider": row.subject }),
        _ => json!({ "agreement": row.subject }),
    };
    v["version"] = json!(row.version);
    v["acceptedAt"] = json!(rfc3339(row.accepted_at));
    v
}

/// `[{"agreement"|"provider","version","acceptedAt"}]`, oldest first.
#[utoipa::path(
    get,
    path = "/api/me/agreements",
    tag = "agreements",
    security(("apiToken" = []), ("session" = [])),
    responses((status = 200, description = "The caller's acceptances, oldest first", body = [doc::Acceptance]))
)]
pub async fn mine(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
) -> Result<Json<Value>, ApiError> {
    let rows = app.gate.agreements.of_user(&user).await?;
    Ok(Json(rows.iter().map(acceptance_json).collect()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    agreement: Option<String>,
    provider: Option<String>,
    version: String,
}

impl AcceptBody {
    pub fn subject(&self) -> Result<Subject, ApiError> {
        let subject = match (&self.agreement, &self.provider) {
            (Some(id), None) => Subject::Gateway(id.clone()),
            (None, Some(id)) => Subject::Provider(id.clone()),
            _ => {
                return Err(ApiError::BadRequest(
                    "name exactly one of agreement or provider".into(),
                ));
            }
        };
        if subject.id().is_empty() || subject.id().len() > 63 {
            return Err(ApiError::BadRequest(
                "agreement/provider: must have 1-63 characters".into(),
            ));
        }
        if self.version.is_empty() || self.version.chars().count() > 64 {
            return Err(ApiError::BadRequest(
                "version: must have 1-64 characters".into(),
            ));
        }
        Ok(subject)
    }
}

/// Shared by the API and the `/agreements` form.
pub async fn accept(
    app: &App,
    user: &User,
    subject: &Subject,
    version: &str,
) -> Result<Value, ApiError> {
    let at = app.gate.accept(user, subject, version).await?;
    let mut v = match subject {
        Subject::Gateway(id) => json!({ "agreement": id }),
        Subject::Provider(id) => json!({ "provider": id }),
    };
    v["version"] = json!(version);
    v["acceptedAt"] = json!(rfc3339(at));
    Ok(v)
}

/// `POST /api/me/agreements {"agreement"|"provider","version"}` → the acceptance.
#[utoipa::path(
    post,
    path = "/api/me/agreements",
    tag = "agreements",
    security(("apiToken" = []), ("session" = [])),
    request_body = AcceptBody,
    responses((status = 200, description = "Accepted", body = doc::Acceptance))
)]
pub async fn accept_api(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
    JsonBody(body): JsonBody<AcceptBody>,
) -> Result<Json<Value>, ApiError> {
    let subject = body.subject()?;
    Ok(Json(accept(&app, &user, &subject, &body.version).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AdminQuery {
    limit: Option<i64>,
}

/// `GET /api/admin/agreements`: who accepted what, newest first.
#[utoipa::path(
    get,
    path = "/api/admin/agreements",
    tag = "agreements",
    security(("apiToken" = []), ("session" = [])),
    params(AdminQuery),
    responses((status = 200, description = "Acceptances, newest first", body = [doc::AcceptanceOfUser]))
)]
pub async fn all(
    State(app): State<AppState>,
    AdminAuth(_): AdminAuth,
    Query(q): Query<AdminQuery>,
) -> Result<Json<Value>, ApiError> {
    let rows = app.gate.agreements.all(q.limit.unwrap_or(100)).await?;
    Ok(Json(
        rows.iter()
            .map(|r| {
                let mut v = acceptance_json(r);
                v["username"] = json!(r.username);
                v
            })
            .collect(),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AccessQuery {
    project: Option<String>,
}

/// The project asked about: `?project=` or the `UCloud-Project` header, as the broker reads it.
fn project_of(parts: &Parts, q: AccessQuery) -> Result<Option<String>, ApiError> {
    let header = parts
        .headers
        .get("ucloud-project")
        .map(|v| v.to_str().map(str::to_owned).unwrap_or_default());
    match q.project.or(header) {
        Some(p) if p.is_empty() || p.len() > 128 => {
            Err(ApiError::BadRequest("project: must be a project id".into()))
        }
        other => Ok(other),
    }
}

/// The evaluation as `GET /api/providers/{id}/access` answers it.
pub fn access_json(app: &App, evaluation: &Evaluation, wallet: Option<i64>) -> Value {
    let checks: Vec<Value> = evaluation
        .outcomes
        .iter()
        .map(|o| {
            let (reason, action) = match &o.refusal {
                None => (o.passed.unwrap_or_default().to_owned(), Value::Null),
                Some(r) => (
                    r.reason(),
                    r.action_url(&app.issuer)
                        .map_or(Value::Null, |url| json!({ "url": url })),
                ),
            };
            let mut v = json!({ "check": o.check.as_str(), "ok": o.refusal.is_none(),
                                "reason": reason, "action": action });
            if let Some(crate::policy::Refusal::AgreementRequired(pending)) = &o.refusal {
                v["agreements"] = pending_json(pending);
            }
            v
        })
        .collect();
    json!({
        "allowed": evaluation.allowed(),
        "checks": checks,
        "wallet": wallet.map(|balance| json!({ "balance": balance })),
    })
}

/// The evaluation and the wallet balance it is shown with, for the API and the web page.
pub async fn explain(
    app: &App,
    user: &User,
    id: &str,
    project: Option<&str>,
) -> Result<(Evaluation, Option<i64>), ApiError> {
    let evaluation = app
        .gate
        .evaluate(user, id, project)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let wallet = if evaluation.provider.is_some() {
        app.accounting
            .wallets(user)
            .await?
            .into_iter()
            .find(|w| {
                w.provider == id
                    && match (&w.owner, project) {
                        (Owner::User { id, .. }, None) => *id == user.id,
                        (Owner::Project { id }, Some(p)) => id == p,
                        _ => false,
                    }
            })
            .map(|w| w.balance)
    } else {
        None
    };
    Ok((evaluation, wallet))
}

/// `GET /api/providers/{id}/access[?project=]`.
#[utoipa::path(
    get,
    path = "/api/providers/{id}/access",
    tag = "agreements",
    security(("apiToken" = []), ("session" = [])),
    params(("id" = String, Path, description = "The provider id"), AccessQuery),
    responses((status = 200, description = "Every check the broker applies, in order", body = doc::AccessExplanation))
)]
pub async fn access(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
    parts: Parts,
    Query(q): Query<AccessQuery>,
) -> Result<Json<Value>, ApiError> {
    let project = project_of(&parts, q)?;
    let (evaluation, wallet) = explain(&app, &user, &id, project.as_deref()).await?;
    Ok(Json(access_json(&app, &evaluation, wallet)))
}

impl From<AgreementError> for ApiError {
    fn from(e: AgreementError) -> Self {
        match e {
            AgreementError::NoSuchAgreement(_)
            | AgreementError::NoSuchProvider(_)
            | AgreementError::NoTerms(_) => Self::NotFound(e.to_string()),
            AgreementError::WrongVersion { .. } => Self::Conflict(e.to_string()),
            AgreementError::Store(cause) => Self::Internal(cause.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}
