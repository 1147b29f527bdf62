//! The sign-in page. A login-CSRF cookie ties the form to the browser that loaded it, so another
//! site cannot sign a victim into an account of its choosing.

use super::{Chrome, Csp, respond, safe_next, same};
use crate::accounts::AccountError;
use crate::app::AppState;
use crate::http::client_addr::ClientAddr;
use crate::http::extract::{cookie, session, session_clear_cookie, session_set_cookie};
use crate::http::input::{Form, Query};
use askama::Template;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

const LOGIN_COOKIE: &str = "gw_login";

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

struct Idp {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    title: &'a str,
    chrome: Chrome,
    error: Option<&'a str>,
    login_csrf: &'a str,
    next: &'a str,
    next_encoded: String,
    /// "Sign in with {display_name}" for each configured IdP (SPEC §8).
    idps: Vec<Idp>,
}

/// The sign-in page; `error` is announced above the form.
fn sign_in_page(
    app: &AppState,
    status: StatusCode,
    token: &str,
    next: &str,
    error: Option<&str>,
) -> Response {
    let page = LoginPage {
        title: "Sign in",
        chrome: Chrome::new(app, None).narrow(),
        error,
        login_csrf: token,
        next,
        next_encoded: super::urlencode(next),
        idps: app
            .identity_providers
            .list()
            .into_iter()
            .map(|(id, name)| Idp { id, name })
            .collect(),
    };
    respond(status, &page, Csp::default())
}

pub async fn login_form(State(app): State<AppState>, Query(q): Query<NextQuery>) -> Response {
    let token = crate::secrets::random_id();
    let next = safe_next(q.next.as_deref());
    let mut response = sign_in_page(&app, StatusCode::OK, &token, &next, None);
    let secure = if app.is_https() { "; Secure" } else { "" };
    let cookie = format!(
        "{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=1800{secure}"
    );
    if let Ok(v) = cookie.parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    login_csrf: String,
    next: Option<String>,
}

pub async fn login_submit(
    State(app): State<AppState>,
    ClientAddr(client): ClientAddr,
    parts: Parts,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    let expected = cookie(&parts, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same(expected, &f.login_csrf) {
        return sign_in_page(
            &app,
            StatusCode::FORBIDDEN,
            &f.login_csrf,
            &next,
            Some("This form expired; reload the page and sign in again."),
        );
    }
    match app.accounts.sign_in(&f.username, &f.password, client).await {
        Ok((_, secret)) => {
            let mut r = Redirect::to(&next).into_response();
            if let Ok(v) = session_set_cookie(&app, secret.expose()).parse() {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            let (status, message) = match &e {
                AccountError::Inactive(_) => (StatusCode::UNAUTHORIZED, e.to_string()),
                AccountError::TooManyAttempts(locked) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Too many failed sign-ins for this account or from your network. Wait {} and try again.",
                        wait_words(locked.retry_after_secs)
                    ),
                ),
                _ => (
                    StatusCode::UNAUTHORIZED,
                    "Wrong username or password.".to_owned(),
                ),
            };
            let mut r = sign_in_page(&app, status, &f.login_csrf, &next, Some(&message));
            if let AccountError::TooManyAttempts(locked) = e
                && let Ok(v) = locked.retry_after_secs.to_string().parse()
            {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
}

/// "45 seconds", "3 minutes": how long a locked sign-in waits, in words.
fn wait_words(secs: u64) -> String {
    match secs {
        0..=1 => "a second".to_owned(),
        2..=90 => format!("{secs} seconds"),
        _ => format!("{} minutes", secs.div_ceil(60)),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

pub async fn logout_submit(
    State(app): State<AppState>,
    parts: Parts,
    Form(f): Form<LogoutForm>,
) -> Response {
    if let Some(secret) = session(&parts, &app) {
        if !same(&super::csrf_token(secret), &f.csrf) {
            return super::identity::form_expired(Chrome::new(&app, None), "/providers");
        }
        let _ = app.accounts.sign_out(secret).await;
    }
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = session_clear_cookie(&app).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}
