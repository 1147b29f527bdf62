//! The usermap flow's HTML: the login page, the confirm page and the error pages, server-rendered with no external
//! asset, every value escaped, and headers that keep them out of frames, caches and referrers. An
//! error page says what happened and what to do; it never shows a token, a password or a cause.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, REFERRER_POLICY};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::usermap::accounts::AccountError;
use crate::usermap::flow::{Confirmation, FlowError, PendingAttempt};

/// `&`, `<`, `>`, `"` and `'` as entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}\
main{max-width:26rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;\
box-shadow:0 1px 4px #0002}h1{font-size:1.3rem}label{display:block;margin-top:1rem}\
input{width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem}\
button{margin-top:1.5rem;padding:.6rem 1.2rem}.error{color:#a00}";

/// A page with the security headers; `form_target` is the other origin a form may go to.
pub fn page(status: StatusCode, title: &str, body: &str, form_target: Option<&str>) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body><main><h1>{title}</h1>{body}\
         </main></body></html>",
        title = escape(title),
    );
    // Chromium applies form-action to the redirect after a submit too, so the gateway's origin
    // (where the 303 goes) is listed beside 'self'.
    let form_action = form_target.map_or_else(String::new, |origin| format!(" {origin}"));
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'{form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
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

/// The sign-in form of a pending attempt; `error` is shown above it.
pub fn login(
    status: StatusCode,
    display_name: &str,
    prompt: &str,
    action: &str,
    attempt: &PendingAttempt,
    error: Option<&str>,
) -> Response {
    let error = error.map_or_else(String::new, |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))
    });
    let who = if attempt.full_name.is_empty() {
        escape(&attempt.gateway_username)
    } else {
        format!(
            "{} ({})",
            escape(&attempt.full_name),
            escape(&attempt.gateway_username)
        )
    };
    let body = format!(
        "<p>The gateway asks to connect <strong>{who}</strong> to an account at {name}.</p>\
         <p>{prompt}</p>{error}\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"username\">Username<input id=\"username\" name=\"username\" \
         autocomplete=\"username\" maxlength=\"64\" required autofocus></label>\
         <label for=\"password\">Password<input id=\"password\" name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" maxlength=\"1024\" required></label>\
         <button id=\"sign-in\" type=\"submit\">Sign in</button></form>\
         <p>Nothing is connected until you confirm on the next page.</p>",
        name = escape(display_name),
        prompt = escape(prompt),
        action = escape(action),
        csrf = escape(&attempt.csrf),
    );
    // The sign-in goes to the confirm page on this provider, never straight to the gateway.
    page(status, &format!("Connect to {display_name}"), &body, None)
}

/// Who is being linked to which local account, and the button that links them.
pub fn confirm(display_name: &str, action: &str, c: &Confirmation) -> Response {
    let name = if c.full_name.is_empty() {
        "(no name given)".to_owned()
    } else {
        escape(&c.full_name)
    };
    let organization = c
        .organization
        .as_deref()
        .map_or_else(|| "(none given)".to_owned(), escape);
    let body = format!(
        "<p>Check who is being connected. Confirm only if this is your own gateway account: \
         whoever holds it will act as your account here.</p>\
         <dl><dt>Gateway user</dt><dd id=\"gateway-name\">{name}</dd>\
         <dt>Gateway username</dt><dd id=\"gateway-username\">{username}</dd>\
         <dt>Organization</dt><dd id=\"gateway-organization\">{organization}</dd>\
         <dt>Your account at {provider}</dt><dd id=\"local-account\">{account}</dd></dl>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button id=\"confirm\" type=\"submit\">Connect {account} to {username}</button></form>\
         <p>If this is not you, close this page: nothing has been connected.</p>",
        username = escape(&c.gateway_username),
        provider = escape(display_name),
        account = escape(&c.local_account),
        action = escape(action),
        csrf = escape(&c.csrf),
    );
    page(
        StatusCode::OK,
        "Confirm the connection",
        &body,
        Some(&c.return_origin),
    )
}

/// The page for a refused step: status, title and what to do, chosen by the kind of error only.
pub fn error(error: &FlowError) -> Response {
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
    page(status, title, &format!("<p>{}</p>", escape(advice)), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            escape(r#"<script>alert('x')</script>&"#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        );
    }

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
