//! Server-rendered web pages: sign in, providers, connect, my connections, API tokens, and the
//! admin's approval list. No assets from anywhere; every form carries a CSRF token derived from the
//! session; every page is sent with a strict Content-Security-Policy and no Referer.

mod approvals;
mod identities;
mod login;
mod oidc;
mod pages;
mod wallets;

pub use approvals::admin_approve_user;
pub use identities::{identities_page, identity_link, identity_unlink, identity_unlink_confirm};
pub use login::{login_form, login_submit, logout_submit};
pub use oidc::{oidc_callback, oidc_start};
pub use pages::{
    admin_approve, admin_providers, connect_confirm, connect_start, connections_page,
    disconnect_submit, providers_page, token_create, token_delete, tokens_page,
};
pub use wallets::wallets_page;

use super::extract::session;
use crate::app::AppState;
use crate::model::User;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

pub fn paragraph(text: &str) -> String {
    format!("<p>{}</p>", escape(text))
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
nav a{margin-right:1rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}\
.state-ok{color:#070}.state-pending{color:#a60}.error{color:#b00}form.inline{display:inline}code{background:#f4f4f4;padding:.1rem .3rem}";

/// A whole page. `user` shows the navigation; `extra_csp` widens `form-action` (the connect page
/// posts to the provider).
pub fn page(title: &str, body: &str, user: Option<(&User, &str)>) -> Response {
    page_with(title, body, user, "", None)
}

pub fn page_with(
    title: &str,
    body: &str,
    user: Option<(&User, &str)>,
    form_action: &str,
    script_nonce: Option<&str>,
) -> Response {
    let nav = match user {
        Some((u, csrf)) => {
            let admin = if u.role == crate::model::Role::Admin {
                "<a href=\"/admin/providers\">Approvals</a>"
            } else {
                ""
            };
            format!(
                "<nav><a href=\"/providers\">Providers</a><a href=\"/connections\">My connections</a><a href=\"/wallets\">Wallets</a><a href=\"/tokens\">API tokens</a><a href=\"/account/identities\">Identities</a>{admin}\
                 <form class=\"inline\" method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <button>Sign out {}</button></form></nav>",
                escape(&u.username)
            )
        }
        None => String::new(),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{STYLE}</style></head>\
         <body>{nav}<h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    );
    let script = script_nonce
        .map(|n| format!(" script-src 'nonce-{n}';"))
        .unwrap_or_default();
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {form_action};{script} frame-ancestors 'none'; base-uri 'none'"
    );
    let mut response = Html(html).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::try_from(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(
        header::REFERRER_POLICY,
        // `same-origin`, not `no-referrer`: the gateway's own form posts then carry their real
        // `Origin` (the Origin rule, `http/origin.rs`), and nothing leaks to providers.
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The CSRF token of a session: derived from its secret (which only the cookie holds).
pub fn csrf_token(session: &str) -> String {
    crate::secrets::hash_secret(&format!("csrf:{session}"))
}

/// Constant-time comparison, so a forged token learns nothing from timing.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The signed-in web user and their session secret, or a redirect to the sign-in page.
pub async fn web_user(app: &AppState, parts: &Parts) -> Result<(User, String), Response> {
    let back = || {
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        Redirect::to(&format!("/login?next={}", urlencode(next))).into_response()
    };
    let Some(secret) = session(parts, app) else {
        return Err(back());
    };
    match app.accounts.user_by_session(secret).await {
        Ok(Some(user)) => Ok((user, secret.to_owned())),
        Ok(None) => Err(back()),
        Err(e) => Err(page("Not signed in", &paragraph(&e.to_string()), None)),
    }
}

/// Checks a form's CSRF field against the session.
pub fn check_csrf(session: &str, presented: &str) -> Result<(), Box<Response>> {
    if same(&csrf_token(session), presented) {
        Ok(())
    } else {
        let mut r = page(
            "Form expired",
            &paragraph("This form is no longer valid. Go back, reload and try again."),
            None,
        );
        *r.status_mut() = axum::http::StatusCode::FORBIDDEN;
        Err(Box::new(r))
    }
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Only paths on the gateway are followed after sign-in (SPEC §7): no scheme, no `//` (another
/// host), no `\\` (which browsers read as `/`), no control or whitespace characters (which browsers
/// strip, so `/<TAB>/evil.example` would become `//evil.example`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.contains("://")
                && n.len() <= 2048
                && !n.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            n.to_owned()
        }
        _ => "/providers".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_and_redirects_stay_on_the_gateway() {
        assert_eq!(
            escape("<script>\"x\"&'"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;"
        );
        assert_eq!(safe_next(Some("/connections")), "/connections");
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "evil",
            "/x?u=https://e",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "/\u{a0}/evil.example",
            "/\u{2028}/evil.example",
        ] {
            assert_eq!(safe_next(Some(evil)), "/providers", "{evil}");
        }
        assert!(same(&csrf_token("s"), &csrf_token("s")));
        assert!(!same(&csrf_token("s"), &csrf_token("t")));
    }
}
