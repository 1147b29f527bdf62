//! Password sign-in and sign-out (SPEC §7): a session cookie, `HttpOnly`, `SameSite=Lax`, `Secure`
//! under https.

use super::client_addr::ClientAddr;
use super::errors::ApiError;
use super::extract::{JsonBody, session, session_clear_cookie, session_set_cookie};
use super::schemas as doc;
use crate::accounts::principal;
use crate::app::AppState;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

/// JSON only (SPEC §7): a browser cannot send `application/json` cross-site without a CORS
/// preflight the gateway never grants, so no other site can sign a visitor in. Browsers sign in
/// through the `/login` page and its login-CSRF check.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "session",
    security(()),
    request_body = Credentials,
    responses((status = 200, description = "Signed in: the session cookie is set", body = doc::Principal))
)]
pub async fn login(
    State(app): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(creds): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    super::input::no_nul("username", &creds.username)?;
    let (user, secret) = app
        .accounts
        .sign_in(&creds.username, &creds.password, client)
        .await?;
    Ok((
        StatusCode::OK,
        [(
            header::SET_COOKIE,
            session_set_cookie(&app, secret.expose()),
        )],
        axum::Json(principal(&user)),
    )
        .into_response())
}

/// Ends the session this request carries, and only that one.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "session",
    security((), ("session" = [])),
    responses((status = 204, description = "Signed out: the session (if any) is ended and the cookie cleared"))
)]
pub async fn logout(State(app): State<AppState>, parts: Parts) -> Result<Response, ApiError> {
    if let Some(secret) = session(&parts, &app) {
        app.accounts.sign_out(secret).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session_clear_cookie(&app))],
    )
        .into_response())
}
