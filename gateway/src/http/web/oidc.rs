//! Browser routes of federated sign-in (SPEC §8): `/auth/oidc/{idp}/start` sends the browser to
//! the IdP with a short-lived cookie binding the attempt to it; `/auth/oidc/{idp}/callback` signs
//! the user in. Every failure is a page that says why in plain words and leads back to `/login`.

use super::{Chrome, Link, Message, safe_next};
use crate::accounts::{AccountError, FederatedOutcome};
use crate::app::AppState;
use crate::http::extract::{cookie, session, session_set_cookie};
use crate::http::input::Query;
use crate::oidc::{BrowserSecrets, Callback, Finished, OidcError};
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// Over plain http (dev, tests) and, under https, with the `__Host-` prefix (Secure, host-only,
/// `Path=/`), like the session cookie.
const OIDC_COOKIE: &str = "gw_oidc";
const SECURE_OIDC_COOKIE: &str = "__Host-gw_oidc";

fn cookie_name(app: &AppState) -> &'static str {
    if app.is_https() {
        SECURE_OIDC_COOKIE
    } else {
        OIDC_COOKIE
    }
}

/// `SameSite=Lax`: the IdP's redirect back is a top-level GET, which carries it.
fn set_cookie(app: &AppState, value: &str, max_age_secs: i64) -> String {
    let secure = if app.is_https() { "; Secure" } else { "" };
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}",
        cookie_name(app)
    )
}

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

pub async fn oidc_start(
    State(app): State<AppState>,
    Path(idp): Path<String>,
    Query(q): Query<StartQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    match app.identity_providers.start(&idp, &next).await {
        Ok(started) => {
            let mut r = Redirect::to(&started.url).into_response();
            let ttl = crate::oidc::ATTEMPT_TTL_MS / 1000;
            if let Ok(v) = set_cookie(&app, started.browser_secret.expose(), ttl).parse() {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => failure(&app, &e),
    }
}

/// The callback's query: unknown parameters (`iss`, `session_state`, …) are ignored.
#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

pub async fn oidc_callback(
    State(app): State<AppState>,
    Path(idp): Path<String>,
    parts: Parts,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let browser = BrowserSecrets {
        attempt_cookie: cookie(&parts, cookie_name(&app)),
        session: session(&parts, &app),
    };
    let callback = Callback {
        code: q.code,
        state: q.state,
        error: q.error,
    };
    let mut r = match app
        .identity_providers
        .finish(&idp, &callback, browser)
        .await
    {
        Err(e) => {
            let refused = crate::metrics::SignInOutcome::OidcRefused;
            app.accounts.sign_ins.record(refused);
            failure(&app, &e)
        }
        Ok(Finished {
            identity,
            next,
            link_user: Some(user_id),
        }) => link(&app, user_id, browser.session, &identity, &next).await,
        Ok(Finished {
            identity,
            next,
            link_user: None,
        }) => match app
            .accounts
            .sign_in_federated(&identity, app.config.accounts.auto_activate)
            .await
        {
            Ok(FederatedOutcome::SignedIn(_, secret)) => {
                let mut r = Redirect::to(&safe_next(Some(&next))).into_response();
                if let Ok(v) = session_set_cookie(&app, secret.expose()).parse() {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
                r
            }
            Ok(FederatedOutcome::PendingApproval(user)) => message(
                &app,
                StatusCode::FORBIDDEN,
                "Account awaits approval",
                &format!(
                    "Your account {} was created and awaits approval by an administrator. \
                     You can sign in once it is approved.",
                    user.username
                ),
            ),
            Err(AccountError::Inactive(state)) => message(
                &app,
                StatusCode::FORBIDDEN,
                "Sign-in refused",
                &format!("You cannot sign in: {state}."),
            ),
            Err(e) => {
                tracing::error!(error = %e, "federated sign-in failed");
                message(
                    &app,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Sign-in failed",
                    "The gateway could not complete the sign-in. Try again later.",
                )
            }
        },
    };
    // The attempt is used up either way: drop its cookie.
    if let Ok(v) = set_cookie(&app, "", 0).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// A link attempt came back with the session that started it (`finish` checked the binding):
/// the identity joins that session's account, unless it belongs to another account.
async fn link(
    app: &AppState,
    user_id: i64,
    session: Option<&str>,
    identity: &crate::model::VerifiedIdentity,
    next: &str,
) -> Response {
    let still_signed_in = match session {
        Some(s) => matches!(app.accounts.user_by_session(s).await, Ok(Some(u)) if u.id == user_id),
        None => false,
    };
    if !still_signed_in {
        return message(
            app,
            StatusCode::FORBIDDEN,
            "Identity not linked",
            "The session that asked to link this identity has ended. Sign in and start again; nothing was changed.",
        );
    }
    match app.accounts.link_identity(user_id, identity).await {
        Ok(_) => Redirect::to(&safe_next(Some(next))).into_response(),
        Err(e @ (AccountError::IdentityLinkedElsewhere | AccountError::Inactive(_))) => message(
            app,
            StatusCode::CONFLICT,
            "Identity not linked",
            &e.to_string(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "linking an identity failed");
            message(
                app,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Identity not linked",
                "The gateway could not link the identity. Try again later.",
            )
        }
    }
}

/// The page for a sign-in that did not happen.
fn failure(app: &AppState, e: &OidcError) -> Response {
    let (status, title, text) = match e {
        OidcError::UnknownIdp(_) => (StatusCode::NOT_FOUND, "No such sign-in", format!("{e}.")),
        OidcError::Idp { name, .. } => (
            StatusCode::BAD_GATEWAY,
            "Identity provider unreachable",
            format!(
                "{name} cannot be used right now ({e}). Try again later, or sign in another way."
            ),
        ),
        OidcError::Cancelled(_) => (
            StatusCode::UNAUTHORIZED,
            "Sign-in cancelled",
            format!(
                "{}. Nothing was changed; you can start again.",
                capitalise(&e.to_string())
            ),
        ),
        OidcError::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in busy",
            format!("{}.", capitalise(&e.to_string())),
        ),
        OidcError::Store(inner) => {
            tracing::error!(error = %inner, "federated sign-in: database");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in failed",
                "The gateway could not complete the sign-in. Try again later.".into(),
            )
        }
        other => {
            tracing::warn!(reason = %other, "federated sign-in refused");
            (
                StatusCode::BAD_REQUEST,
                "Sign-in refused",
                format!(
                    "The sign-in could not be completed: {other}. Nobody was signed in; start again."
                ),
            )
        }
    };
    message(app, status, title, &text)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn message(app: &AppState, status: StatusCode, title: &str, text: &str) -> Response {
    Message::error(
        status,
        title,
        text,
        Link::new("back", "/login", "Back to sign in"),
    )
    .id("sign-in-problem")
    .render(Chrome::new(app, None))
}
