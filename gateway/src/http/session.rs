//! Password sign-in and sign-out (SPEC §7): a session cookie, `HttpOnly`, `SameSite=Lax`, `Secure`
//! under https.

use super::errors::ApiError;
use super::extract::{SESSION_COOKIE, cookie};
use crate::accounts::principal;
use crate::app::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

/// Accepts JSON or an HTML form, so the same endpoint serves scripts and the sign-in page.
pub async fn login(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let creds: Credentials = if content_type.starts_with("application/json") {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("body: {e}")))?
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded_form(&body)?
    } else {
        return Err(ApiError::BadRequest(
            "send JSON {\"username\",\"password\"} or an HTML form".into(),
        ));
    };
    super::input::no_nul("username", &creds.username)?;
    let (user, session) = app
        .accounts
        .sign_in(&creds.username, &creds.password)
        .await?;
    let secure = if app.is_https() { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        session.expose(),
        app.accounts.session_ttl_secs()
    );
    Ok((
        StatusCode::OK,
        [(header::SET_COOKIE, cookie)],
        axum::Json(principal(&user)),
    )
        .into_response())
}

fn serde_urlencoded_form(body: &[u8]) -> Result<Credentials, ApiError> {
    serde_urlencoded::from_bytes::<Credentials>(body)
        .map_err(|e| ApiError::BadRequest(format!("form: {e}")))
}

pub async fn logout(State(app): State<AppState>, parts: Parts) -> Result<Response, ApiError> {
    if let Some(session) = cookie(&parts, SESSION_COOKIE) {
        app.accounts.sign_out(session).await?;
    }
    let expired = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, expired)]).into_response())
}
