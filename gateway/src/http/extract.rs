//! Identity extractors and the JSON body extractor. Instrumented with `skip_all`: a token read here
//! can never reach a log.

use super::access_log::{Principal, note_principal};
use super::errors::ApiError;
use crate::app::AppState;
use crate::model::{Provider, Role, User};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// The session cookie's name over plain http (dev, tests, behind a TLS proxy without https).
pub const SESSION_COOKIE: &str = "gw_session";
/// Under https the `__Host-` prefix makes browsers refuse it unless it is `Secure`, host-only and
/// `Path=/`, so a sibling subdomain cannot plant one (SPEC §7).
pub const SECURE_SESSION_COOKIE: &str = "__Host-gw_session";

pub fn session_cookie_name(app: &crate::app::App) -> &'static str {
    if app.is_https() {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The session secret this request carries, under the name this gateway uses.
pub fn session<'a>(parts: &'a Parts, app: &crate::app::App) -> Option<&'a str> {
    cookie(parts, session_cookie_name(app))
}

/// `Set-Cookie` for a new session: `HttpOnly`, `SameSite=Lax`, `Path=/`; under https `Secure`.
pub fn session_set_cookie(app: &crate::app::App, secret: &str) -> String {
    let secure = if app.is_https() { "; Secure" } else { "" };
    format!(
        "{}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        session_cookie_name(app),
        app.accounts.session_ttl_secs()
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn session_clear_cookie(app: &crate::app::App) -> String {
    let secure = if app.is_https() { "; Secure" } else { "" };
    format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
        session_cookie_name(app)
    )
}

/// A signed-in user: a session cookie or `Authorization: Bearer <personal API token>`.
pub struct UserAuth(pub User);

/// A signed-in user with the admin role.
pub struct AdminAuth(pub User);

/// A provider presenting a valid access token.
pub struct ProviderAuth(pub Provider);

pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

impl FromRequestParts<AppState> for UserAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let user = user(parts, app).await?;
        super::agreement_gate::required_for_api(app, &user, parts.uri.path()).await?;
        Ok(Self(Arc::unwrap_or_clone(user)))
    }
}

/// The signed-in user a request carries — `Authorization: Bearer <personal API token>`, else the
/// session cookie — noted for the access log. `UserAuth` adds the agreements check of API calls;
/// `front` calls this for the broker's route, whose gate checks agreements itself. The user is the
/// credential cache's, shared: the broker's route copies no field of it.
#[tracing::instrument(name = "user_auth", skip_all)]
pub async fn user(parts: &Parts, app: &crate::app::App) -> Result<Arc<User>, ApiError> {
    let user = if let Some(token) = bearer(parts) {
        app.accounts.user_by_api_token(token).await?
    } else if let Some(session) = session(parts, app) {
        app.accounts.user_by_session(session).await?
    } else {
        return Err(ApiError::Unauthorized(
            "sign in, or send Authorization: Bearer <API token>",
        ));
    };
    let user = user.ok_or(ApiError::Unauthorized(
        "the session or API token is not valid",
    ))?;
    note_principal(parts, || Principal::User(user.username.clone()));
    Ok(user)
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    #[tracing::instrument(name = "admin_auth", skip_all)]
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let UserAuth(user) = UserAuth::from_request_parts(parts, app).await?;
        if user.role == Role::Admin {
            Ok(Self(user))
        } else {
            Err(ApiError::Forbidden("this action needs an admin"))
        }
    }
}

impl FromRequestParts<AppState> for ProviderAuth {
    type Rejection = ApiError;

    #[tracing::instrument(name = "provider_auth", skip_all)]
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized(
            "send Authorization: Bearer <access token>",
        ))?;
        let provider = app.tokens.verify_access_token(token).await?;
        note_principal(parts, || {
            Principal::Provider(provider.metadata.id.as_str().to_owned())
        });
        Ok(Self(provider))
    }
}

/// Either a provider (access token) or a signed-in user, for endpoints both may call.
pub enum ProviderOrUser {
    Provider(Provider),
    User(User),
}

impl FromRequestParts<AppState> for ProviderOrUser {
    type Rejection = ApiError;

    #[tracing::instrument(name = "provider_or_user_auth", skip_all)]
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        // Personal API tokens are opaque and prefixed; access tokens are JWTs.
        let is_jwt = bearer(parts).is_some_and(|t| t.matches('.').count() == 2);
        if is_jwt {
            let ProviderAuth(p) = ProviderAuth::from_request_parts(parts, app).await?;
            Ok(Self::Provider(p))
        } else {
            let UserAuth(u) = UserAuth::from_request_parts(parts, app).await?;
            Ok(Self::User(u))
        }
    }
}

/// `Json<T>` whose rejections are problems naming the field and position at fault.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::BadRequest(
                "send the body as Content-Type: application/json".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| match e.status() {
                axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::PayloadTooLarge(super::errors::too_large())
                }
                _ => ApiError::BadRequest(format!("reading the body: {e}")),
            })?;
        super::input::no_nul_in_json(&bytes)?;
        parse_json(&bytes).map(Self)
    }
}

/// Parses JSON naming the field at fault: `units: invalid value: integer `-3`, expected u64`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            ApiError::BadRequest(format!("body: {inner}"))
        } else {
            ApiError::BadRequest(format!("{path}: {inner}"))
        }
    })
}
