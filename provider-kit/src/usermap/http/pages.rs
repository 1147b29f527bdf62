//! The usermap flow's HTML: the login page, the confirm page and the error pages, rendered from
//! askama templates (`provider-kit/templates/`, HTML escaped by default) in the federation's one
//! look (the stylesheet embedded, allowed by its hash: no other style, no script, no asset from
//! anywhere), with headers that keep them out of frames, caches and referrers. An error page says
//! what happened, what to do and links back to the gateway; it never shows a token, a password or
//! a cause.

use askama::Template;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, REFERRER_POLICY};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::usermap::accounts::AccountError;
use crate::usermap::flow::{Confirmation, FlowError, PendingAttempt};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    title: String,
    site: &'a str,
    alert: bool,
    gateway_username: &'a str,
    full_name: &'a str,
    prompt: &'a str,
    error: Option<&'a str>,
    action: &'a str,
    csrf: &'a str,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    title: &'a str,
    site: &'a str,
    alert: bool,
    gateway_username: &'a str,
    full_name: &'a str,
    organization: Option<&'a str>,
    local_account: &'a str,
    action: &'a str,
    csrf: &'a str,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    site: &'a str,
    alert: bool,
    message: &'a str,
    back: Option<&'a str>,
}

/// Where a page's way back leads: the gateway's connections page.
pub fn back_to_gateway(issuer: &str) -> String {
    format!("{}/connections", issuer.trim_end_matches('/'))
}

/// A rendered page with the security headers; `form_target` is the other origin a form may go to.
fn page(
    status: StatusCode,
    html: Result<String, askama::Error>,
    form_target: Option<&str>,
) -> Response {
    let html = match html {
        Ok(html) => html,
        Err(error) => {
            tracing::error!(%error, "a usermap page did not render");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown",
            )
                .into_response();
        }
    };
    // Chromium applies form-action to the redirect after a submit too, so the gateway's origin
    // (where the 303 goes) is listed beside 'self'.
    let form_action = form_target.map_or_else(String::new, |origin| format!(" {origin}"));
    let csp = format!(
        "default-src 'none'; style-src {}; form-action 'self'{form_action}; \
         frame-ancestors 'none'; base-uri 'none'",
        crate::style::inline_style_source()
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(HeaderName::from_static("content-security-policy"), value);
    }
    response
}

/// A page saying `message`, with a way back to the gateway when `back` is given.
pub fn message(
    status: StatusCode,
    title: &str,
    message: &str,
    alert: bool,
    back: Option<&str>,
) -> Response {
    let html = MessagePage {
        title,
        site: "Account connection",
        alert,
        message,
        back,
    }
    .render();
    page(status, html, None)
}

/// The sign-in form of a pending attempt; `error` is shown above it.
pub fn login(
    status: StatusCode,
    display_name: &str,
    prompt: &str,
    action: &str,
    attempt: &PendingAttempt,
    error: Option<&str>,
) -> Response {
    let html = LoginPage {
        title: format!("Connect to {display_name}"),
        site: display_name,
        alert: false,
        gateway_username: &attempt.gateway_username,
        full_name: &attempt.full_name,
        prompt,
        error,
        action,
        csrf: &attempt.csrf,
    }
    .render();
    // The sign-in goes to the confirm page on this provider, never straight to the gateway.
    page(status, html, None)
}

/// Who is being linked to which local account, and the button that links them.
pub fn confirm(display_name: &str, action: &str, c: &Confirmation) -> Response {
    let html = ConfirmPage {
        title: "Confirm the connection",
        site: display_name,
        alert: false,
        gateway_username: &c.gateway_username,
        full_name: &c.full_name,
        organization: c.organization.as_deref(),
        local_account: &c.local_account,
        action,
        csrf: &c.csrf,
    }
    .render();
    page(StatusCode::OK, html, Some(&c.return_origin))
}

/// The page for a refused step: status, title and what to do, chosen by the kind of error only.
pub fn error(back: &str, error: &FlowError) -> Response {
    let again = "Go back to the gateway and start the connection again.";
    let (status, title, advice) = match error {
        FlowError::Token(_) | FlowError::Claims(_) => (
            StatusCode::BAD_REQUEST,
            "This connection link is not valid",
            "It may have been changed on the way or be meant for another provider. Go back to the \
             gateway and start the connection again.",
        ),
        FlowError::NonceUsed => (
            StatusCode::CONFLICT,
            "This connection link was already used",
            again,
        ),
        FlowError::NoAttempt => (
            StatusCode::BAD_REQUEST,
            "No connection is in progress in this browser",
            "Start the connection at the gateway in this browser, with cookies enabled.",
        ),
        FlowError::AttemptUsed => (
            StatusCode::CONFLICT,
            "This connection was already completed",
            again,
        ),
        FlowError::AttemptExpired => (
            StatusCode::GONE,
            "This connection attempt has expired",
            again,
        ),
        FlowError::Csrf => (
            StatusCode::FORBIDDEN,
            "This form does not belong to your connection attempt",
            "Open the sign-in page again from the gateway and submit it from there.",
        ),
        FlowError::NotProven => (
            StatusCode::BAD_REQUEST,
            "You have not signed in here yet",
            "Sign in with your account at this provider first; the connection is confirmed after.",
        ),
        FlowError::BadCredentials => (
            StatusCode::UNAUTHORIZED,
            "Wrong username or password",
            again,
        ),
        FlowError::TooManyFailures => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong passwords",
            again,
        ),
        FlowError::Unavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in is unavailable right now",
            "Nothing was changed. Try again in a few minutes.",
        ),
        FlowError::Account(AccountError::AlreadyConnected(_)) => (
            StatusCode::CONFLICT,
            "Your gateway account is already connected to another account here",
            "Disconnect it at the gateway first, then connect again.",
        ),
        FlowError::Account(AccountError::AccountTaken(_)) => (
            StatusCode::CONFLICT,
            "That account is already connected to another gateway user",
            "Sign in with another account, or ask this provider's administrators.",
        ),
        FlowError::Report(_) => (
            StatusCode::BAD_GATEWAY,
            "The gateway could not be told about your account",
            "Nothing was changed. Try signing in again in a moment.",
        ),
        FlowError::Account(_) | FlowError::Store(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong at this provider",
            "Nothing was changed. Try again later, or ask this provider's administrators.",
        ),
    };
    if status.is_server_error() {
        tracing::error!(%error, "usermap step failed");
    } else {
        tracing::info!(%error, "usermap step refused");
    }
    message(status, title, advice, true, Some(back))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_page_posts_only_to_this_provider() {
        let attempt = PendingAttempt {
            gateway_username: "alice".into(),
            full_name: "Alice".into(),
            csrf: "c".into(),
            return_origin: "https://gw.example.org".into(),
        };
        let response = login(StatusCode::OK, "Dev", "Sign in.", "/login", &attempt, None);
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .expect("ASCII");
        assert!(csp.contains("form-action 'self';"), "{csp}");
        // The embedded stylesheet is allowed by its hash alone: no other inline style, no script.
        assert!(
            csp.contains(&format!(
                "style-src {};",
                crate::style::inline_style_source()
            )),
            "{csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("script-src"),
            "{csp}"
        );
    }

    #[test]
    fn a_confirm_page_escapes_what_the_gateway_sent_and_allows_only_the_gateway_as_next_stop() {
        let confirmation = Confirmation {
            gateway_username: "<b>mallory</b>#1".into(),
            full_name: "Eve \"quote\"".into(),
            organization: Some("<i>org</i>".into()),
            local_account: "alice".into(),
            csrf: "c\"sr<f".into(),
            return_origin: "https://gw.example.org".into(),
        };
        let response = confirm("Dev", "/ucloud/dev/usermap/confirm", &confirmation);
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .expect("ASCII");
        assert!(
            csp.contains("form-action 'self' https://gw.example.org;"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
}
