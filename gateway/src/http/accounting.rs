//! Accounting over HTTP (SPEC §5): providers charge (`POST /api/accounting/charge`), users read their
//! wallets (`GET /api/wallets`) and recent charges (`GET /api/wallets/charges`), admins grant
//! (`POST /api/admin/wallets/grant`).

use super::errors::ApiError;
use super::extract::{AdminAuth, JsonBody, ProviderAuth, UserAuth};
use super::query::Params;
use super::schemas as doc;
use crate::accounting::{ChargeRequest, owner_json};
use crate::app::AppState;
use crate::audit::Actor;
use crate::clock::rfc3339;
use crate::model::{ChargeRecord, OwnerRef, Wallet};
use axum::Json;
use axum::extract::State;
use provider_kit::protocol;
use serde::Deserialize;
use serde_json::{Value, json};

/// `{"username": "…"}` or `{"project": "…"}`: exactly one member.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerBody {
    username: Option<String>,
    project: Option<String>,
}

impl TryFrom<OwnerBody> for OwnerRef {
    type Error = ApiError;

    fn try_from(owner: OwnerBody) -> Result<Self, ApiError> {
        match (owner.username, owner.project) {
            (Some(u), None) => Ok(Self::Username(u)),
            (None, Some(p)) => Ok(Self::Project(p)),
            _ => Err(ApiError::BadRequest(
                "owner: give exactly one of {\"username\": …} or {\"project\": …}".into(),
            )),
        }
    }
}

/// `200 {"balance","duplicate"}`, or `402 insufficientFunds` with `balance` and `duplicate`.
#[utoipa::path(
    post,
    path = "/api/accounting/charge",
    tag = "accounting",
    security(("providerToken" = [])),
    request_body = doc::ChargeRequest,
    responses((status = 200, description = "Charged (or already charged: `duplicate`)", body = doc::ChargeResponse))
)]
pub async fn charge(
    State(app): State<AppState>,
    ProviderAuth(provider): ProviderAuth,
    JsonBody(b): JsonBody<protocol::ChargeRequest>,
) -> Result<Json<protocol::ChargeResponse>, ApiError> {
    let request = ChargeRequest {
        charge_id: b.charge_id,
        owner: match b.owner {
            protocol::WalletOwner::Username(u) => OwnerRef::Username(u),
            protocol::WalletOwner::Project(p) => OwnerRef::Project(p),
        },
        units: i64::try_from(b.units)
            .map_err(|_| ApiError::BadRequest("units: too large".into()))?,
        description: b.description,
    };
    let charged = app.accounting.charge(&provider, request).await?;
    Ok(Json(protocol::ChargeResponse {
        balance: charged.balance,
        duplicate: charged.duplicate,
    }))
}

#[utoipa::path(
    get,
    path = "/api/wallets",
    tag = "accounting",
    security(("apiToken" = []), ("session" = [])),
    responses((status = 200, description = "The caller's wallets and those of their projects", body = [doc::WalletView]))
)]
pub async fn wallets(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
) -> Result<Json<Value>, ApiError> {
    let wallets = app.accounting.wallets(&user).await?;
    Ok(Json(wallets.iter().map(wallet_view).collect()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChargesQuery {
    provider: Option<String>,
    project: Option<String>,
    limit: Option<i64>,
}

/// `?provider=ID&project=PID&limit=N`, all optional: without `project`, the caller's own wallets.
#[utoipa::path(
    get,
    path = "/api/wallets/charges",
    tag = "accounting",
    security(("apiToken" = []), ("session" = [])),
    params(ChargesQuery),
    responses((status = 200, description = "Charges, newest first", body = [doc::ChargeView]))
)]
pub async fn charges(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
    Params(q): Params<ChargesQuery>,
) -> Result<Json<Value>, ApiError> {
    let charges = app
        .accounting
        .charges(&user, q.project.as_deref(), q.provider.as_deref(), q.limit)
        .await?;
    Ok(Json(charges.iter().map(charge_view).collect()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    owner: OwnerBody,
    provider: String,
    units: i64,
}

/// Returns the wallet after the grant.
#[utoipa::path(
    post,
    path = "/api/admin/wallets/grant",
    tag = "admin",
    security(("apiToken" = []), ("session" = [])),
    request_body = GrantBody,
    responses((status = 200, description = "The wallet after the grant", body = doc::WalletView))
)]
pub async fn grant(
    State(app): State<AppState>,
    AdminAuth(admin): AdminAuth,
    JsonBody(b): JsonBody<GrantBody>,
) -> Result<Json<Value>, ApiError> {
    let owner = b.owner.try_into()?;
    let wallet = app
        .accounting
        .grant(&Actor::user(&admin), &owner, &b.provider, b.units)
        .await?;
    Ok(Json(wallet_view(&wallet)))
}

fn wallet_view(w: &Wallet) -> Value {
    json!({
        "owner": owner_json(&w.owner.to_ref()),
        "provider": w.provider,
        "balance": w.balance,
        "updatedAt": rfc3339(w.updated_at),
    })
}

fn charge_view(c: &ChargeRecord) -> Value {
    json!({
        "chargeId": c.charge_id,
        "provider": c.provider,
        "units": c.units,
        "description": c.description,
        "outcome": c.outcome.as_str(),
        "balance": c.outcome.balance(),
        "at": rfc3339(c.at),
    })
}
