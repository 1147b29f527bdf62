//! The usermap flow over HTTP, nested at `/ucloud/<id>/usermap` (SPEC §4): `POST /` takes the
//! gateway's auto-submitted form, binds the attempt to the browser with a cookie and `302`s to
//! `login`; `GET`/`POST login` is the provider's own sign-in, which `303`s to `confirm`;
//! `GET confirm` shows who is being linked to which local account and `POST confirm` (the user's
//! click, with its own CSRF token) maps, reports and `303`s to the gateway's return URL with the
//! nonce and the completion code. `POST unlink` is the gateway (service token) ending a connection;
//! `POST rename` is the gateway moving a connection to another username after an account merge.

mod pages;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::header::{COOKIE, LOCATION, REFERRER_POLICY, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json};
use serde::Deserialize;

use super::flow::{FlowError, UsermapFlow};
use super::store::GatewayRename;
use crate::auth::{ServiceRequest, Verifier};
use crate::protocol::Problem;

/// The cookie that binds a browser to its attempt; it holds a random attempt id, never the nonce.
pub const ATTEMPT_COOKIE: &str = "ucloud_usermap";
/// Forms are small: a token of at most 8 KiB, or a username and password.
const MAX_FORM_BYTES: usize = 16 * 1024;

impl FromRef<UsermapFlow> for Verifier {
    fn from_ref(flow: &UsermapFlow) -> Self {
        flow.verifier().clone()
    }
}

/// The flow's routes with the built-in sign-in form, to nest at `/ucloud/<id>/usermap`
/// (`ProviderRouter::usermap(usermap::router(flow))`).
pub fn router(flow: UsermapFlow) -> Router {
    let login = Router::new().route("/login", get(login_page).post(login_submit));
    router_with_login(flow, login)
}

/// The flow's routes with a site's own sign-in routes (OIDC, SAML, SPNEGO…) instead of the form.
/// Those routes start at `login` (the flow redirects there), read the attempt with
/// `attempt_id(headers)` and finish with `UsermapFlow::prove`, answering `confirm_redirect(..)`:
/// the confirm step is the flow's own, whatever the sign-in method.
pub fn router_with_login(flow: UsermapFlow, login: Router<UsermapFlow>) -> Router {
    Router::new()
        .route("/", post(start))
        .route("/confirm", get(confirm_page).post(confirm_submit))
        .route("/unlink", post(unlink))
        .route("/rename", post(rename))
        .merge(login)
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(flow)
}

/// The attempt id from the browser's cookie, if it sent one.
pub fn attempt_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == ATTEMPT_COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn cookie(flow: &UsermapFlow, value: &str, max_age: i64) -> HeaderValue {
    let secure = if flow.settings().secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{ATTEMPT_COOKIE}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        flow.base_path()
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A page in the flow's style (escaped, with its security headers) saying `message`: for a site's
/// own `login` routes that have something to tell instead of a form.
pub fn notice(status: StatusCode, title: &str, message: &str) -> Response {
    pages::message(
        status,
        title,
        message,
        status.is_client_error() || status.is_server_error(),
        None,
    )
}

/// The way back from an error page: the gateway's connections page.
fn back(flow: &UsermapFlow) -> String {
    pages::back_to_gateway(flow.verifier().issuer())
}

/// The answer to a proven sign-in: `303` to the confirm page, where the user sees who is being
/// linked and confirms with a click.
pub fn confirm_redirect(flow: &UsermapFlow) -> Response {
    let confirm = format!("{}/confirm", flow.base_path());
    let Ok(location) = HeaderValue::from_str(&confirm) else {
        return pages::error(&back(flow), &FlowError::NoAttempt);
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(LOCATION, location);
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The answer to a finished attempt: the cookie is cleared and the browser goes back to the gateway.
pub fn completed(flow: &UsermapFlow, redirect_url: &str) -> Response {
    let Ok(location) = HeaderValue::from_str(redirect_url) else {
        return pages::error(&back(flow), &FlowError::Claims("returnUrl"));
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(LOCATION, location);
    headers.insert(SET_COOKIE, cookie(flow, "", 0));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[derive(Deserialize)]
struct StartForm {
    token: String,
}

/// SPEC §4 step 2. Only the `token` field is read: a `returnUrl` or anything else beside it is
/// ignored, since the return URL comes from the verified token alone.
async fn start(
    State(flow): State<UsermapFlow>,
    form: Result<Form<StartForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return pages::error(&back(&flow), &FlowError::Claims("token"));
    };
    match flow.start(&form.token).await {
        Ok(started) => {
            let mut response = StatusCode::FOUND.into_response();
            let headers = response.headers_mut();
            let login = format!("{}/login", flow.base_path());
            headers.insert(
                LOCATION,
                HeaderValue::from_str(&login).unwrap_or_else(|_| HeaderValue::from_static("login")),
            );
            headers.insert(
                SET_COOKIE,
                cookie(&flow, &started.attempt_id, started.max_age_secs),
            );
            headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            response
        }
        Err(error) => pages::error(&back(&flow), &error),
    }
}

async fn login_page(State(flow): State<UsermapFlow>, headers: HeaderMap) -> Response {
    render_login(&flow, &headers, StatusCode::OK, None).await
}

async fn render_login(
    flow: &UsermapFlow,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let Some(attempt_id) = attempt_id(headers) else {
        return pages::error(&back(flow), &FlowError::NoAttempt);
    };
    match flow.pending(&attempt_id).await {
        Ok(attempt) => pages::login(
            status,
            &flow.settings().display_name,
            flow.authenticator().prompt(),
            &format!("{}/login", flow.base_path()),
            &attempt,
            error,
        ),
        Err(error) => pages::error(&back(flow), &error),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    username: String,
    password: String,
}

async fn login_submit(
    State(flow): State<UsermapFlow>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Some(attempt_id) = attempt_id(&headers) else {
        return pages::error(&back(&flow), &FlowError::NoAttempt);
    };
    let Ok(Form(form)) = form else {
        return pages::error(&back(&flow), &FlowError::Csrf);
    };
    match flow
        .login(&attempt_id, &form.csrf, &form.username, &form.password)
        .await
    {
        Ok(()) => confirm_redirect(&flow),
        Err(FlowError::BadCredentials) => {
            render_login(
                &flow,
                &headers,
                StatusCode::UNAUTHORIZED,
                Some("Wrong username or password."),
            )
            .await
        }
        Err(error) => pages::error(&back(&flow), &error),
    }
}

async fn confirm_page(State(flow): State<UsermapFlow>, headers: HeaderMap) -> Response {
    let Some(attempt_id) = attempt_id(&headers) else {
        return pages::error(&back(&flow), &FlowError::NoAttempt);
    };
    match flow.confirmation(&attempt_id).await {
        Ok(confirmation) => pages::confirm(
            &flow.settings().display_name,
            &format!("{}/confirm", flow.base_path()),
            &confirmation,
        ),
        Err(error) => pages::error(&back(&flow), &error),
    }
}

#[derive(Deserialize)]
struct ConfirmForm {
    csrf: String,
}

async fn confirm_submit(
    State(flow): State<UsermapFlow>,
    headers: HeaderMap,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Response {
    let Some(attempt_id) = attempt_id(&headers) else {
        return pages::error(&back(&flow), &FlowError::NoAttempt);
    };
    let Ok(Form(form)) = form else {
        return pages::error(&back(&flow), &FlowError::Csrf);
    };
    match flow.confirm(&attempt_id, &form.csrf).await {
        Ok(done) => completed(&flow, &done.redirect_url),
        Err(error) => pages::error(&back(&flow), &error),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnlinkBody {
    username: String,
}

/// The gateway ended a connection: the user is the service token's principal, or, for a call made
/// on no user's behalf, `{"username": "…"}` in the body. `204` whether or not a mapping existed.
async fn unlink(State(flow): State<UsermapFlow>, request: ServiceRequest, body: Bytes) -> Response {
    let named = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice::<UnlinkBody>(&body) {
            Ok(body) => Some(body.username),
            Err(_) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "invalidBody",
                    "the body must be {\"username\": \"…\"} or empty",
                );
            }
        }
    };
    let principal = request.principal().map(|p| p.username.clone());
    let username = match (principal, named) {
        (Some(p), Some(n)) if p != n => {
            return problem(
                StatusCode::BAD_REQUEST,
                "usernameMismatch",
                "the body names another user than the token",
            );
        }
        (Some(user), _) | (None, Some(user)) => user,
        (None, None) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "userRequired",
                "no user to disconnect",
            );
        }
    };
    match flow.unlink(&username).await {
        Ok(removed) => {
            tracing::info!(removed, "the gateway ended a connection");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => {
            tracing::error!(%error, "could not end a connection");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the mapping could not be removed",
            )
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameBody {
    from: String,
    to: String,
}

/// The gateway merged the account `from` into `to` (SPEC §4): the local account mapped to `from`
/// is mapped to `to`. The service token's principal must be `to`, the user the call is made for.
/// `204` when the mapping now names `to` (also on a retry, and when nothing was mapped); `409`
/// when both usernames are mapped, changing nothing.
async fn rename(State(flow): State<UsermapFlow>, request: ServiceRequest, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<RenameBody>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalidBody",
            "the body must be {\"from\": \"…\", \"to\": \"…\"}",
        );
    };
    let valid =
        |name: &str| !name.is_empty() && name.len() <= 256 && !name.chars().any(char::is_control);
    if !valid(&body.from) || !valid(&body.to) || body.from == body.to {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalidBody",
            "from and to must be two different usernames",
        );
    }
    if request.principal().map(|p| p.username.as_str()) != Some(body.to.as_str()) {
        return problem(
            StatusCode::BAD_REQUEST,
            "usernameMismatch",
            "the token must be made for the user named by to",
        );
    }
    match flow.rename(&body.from, &body.to).await {
        Ok(GatewayRename::BothMapped) => problem(
            StatusCode::CONFLICT,
            "bothMapped",
            "both usernames are mapped to local accounts; nothing was changed",
        ),
        Ok(outcome) => {
            tracing::info!(?outcome, "the gateway renamed a user");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => {
            tracing::error!(%error, "could not rename a gateway user");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the mapping could not be renamed",
            )
        }
    }
}

fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let problem = Problem::new(status.as_u16(), code, title, detail);
    let mut response = (status, Json(problem)).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(Problem::CONTENT_TYPE),
    );
    response
}
