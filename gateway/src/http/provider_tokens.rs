//! The two refresh forms of SPEC §2.1 (one implementation behind both) and the JWK Set.

use super::errors::ApiError;
use crate::app::AppState;
use crate::http::input::BodyBytes;
use crate::tokens::TokenError;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use provider_kit::protocol::{
    OAuthError, OAuthTokenResponse, RefreshRequest, RefreshResponse, RefreshResponseItem,
};
use serde::Deserialize;

/// UCloud form: `{"items":[{"refreshToken":"..."}]}` → `{"responses":[{"accessToken","csrfToken"}]}`.
pub async fn ucloud_refresh(
    State(app): State<AppState>,
    BodyBytes(body): BodyBytes,
) -> Result<Json<RefreshResponse>, ApiError> {
    let request: RefreshRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("body: {e}")))?;
    if request.items.is_empty() || request.items.len() > 16 {
        return Err(ApiError::BadRequest(
            "items: send 1-16 refresh tokens".into(),
        ));
    }
    let mut responses = Vec::with_capacity(request.items.len());
    for item in &request.items {
        let issued = app.tokens.refresh(&item.refresh_token).await?;
        responses.push(RefreshResponseItem {
            access_token: issued.token,
            csrf_token: String::new(),
        });
    }
    Ok(Json(RefreshResponse { responses }))
}

#[derive(Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    refresh_token: Option<String>,
}

/// OAuth 2.0 form (RFC 6749 §6): errors are RFC 6749 §5.2 bodies, not problems.
pub async fn oauth_token(State(app): State<AppState>, BodyBytes(body): BodyBytes) -> Response {
    let oauth_error = |status: StatusCode, error: &str, description: &str| {
        let body = OAuthError {
            error: error.to_owned(),
            error_description: Some(description.to_owned()),
        };
        (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
    };
    let Ok(form) = serde_urlencoded::from_bytes::<TokenForm>(&body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send an application/x-www-form-urlencoded body",
        );
    };
    match form.grant_type.as_deref() {
        Some("refresh_token") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only refresh_token is supported",
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is missing",
            );
        }
    }
    let Some(refresh) = form.refresh_token.as_deref() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is missing",
        );
    };
    match app.tokens.refresh(refresh).await {
        Ok(issued) => {
            let body = OAuthTokenResponse {
                access_token: issued.token,
                token_type: "Bearer".into(),
                expires_in: issued.expires_in,
            };
            (
                StatusCode::OK,
                [(header::CACHE_CONTROL, "no-store")],
                Json(body),
            )
                .into_response()
        }
        Err(TokenError::InvalidGrant) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the refresh token is invalid, revoked, or its provider is suspended",
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

pub async fn jwks(State(app): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/jwk-set+json"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        app.keys.jwks_json().to_string(),
    )
        .into_response()
}
