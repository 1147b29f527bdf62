//! Server-rendered web pages: sign in, providers, connect, my connections, API tokens, wallets and
//! the admin's approvals. Every page is an askama template (`gateway/templates/`, HTML escaped by
//! default) in one layout with the federation's name; the stylesheet and the one script are
//! served from `/assets` (`assets.rs`), so the Content-Security-Policy allows no inline style or
//! script at all. Signed-in handlers take `WebUser`/`WebAdmin`/`CsrfForm<T>` (`identity.rs`);
//! every form carries a CSRF token derived from the session; every error page says what happened
//! (`role=alert`) and offers a way back.

mod access;
mod agreements;
mod approvals;
mod assets;
mod complete;
mod identities;
mod identity;
mod login;
mod oidc;
mod pages;
mod tokens;
mod wallets;

pub use access::{access_page, account_page, account_submit};
pub use agreements::{agreements_accept, agreements_page};
pub use approvals::{admin_approve, admin_approve_user, admin_providers, admin_reject};
pub use assets::asset;
pub use complete::connection_complete;
pub use identities::{identities_page, identity_link, identity_unlink, identity_unlink_confirm};
pub use identity::{CsrfForm, WebAdmin, WebUser};
pub use login::{login_form, login_submit, logout_submit};
pub use oidc::{oidc_callback, oidc_start};
pub use pages::{
    connect_confirm, connect_start, connections_page, disconnect_submit, providers_page,
};
pub use tokens::{token_create, token_delete, token_delete_confirm, tokens_page};
pub use wallets::wallets_page;

use crate::app::AppState;
use crate::model::{Role, User};
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// What every page's layout shows: the federation's name, the stylesheet, and the navigation of
/// the signed-in user.
pub struct Chrome {
    pub federation: String,
    pub stylesheet: &'static str,
    pub user: Option<Nav>,
    /// A narrow column (sign-in and message pages).
    pub narrow: bool,
}

pub struct Nav {
    pub username: String,
    pub csrf: String,
    pub admin: bool,
}

impl Chrome {
    pub fn new(app: &AppState, user: Option<(&User, &str)>) -> Self {
        Self {
            federation: app.config.federation_name.clone(),
            stylesheet: assets::stylesheet_href(),
            user: user.map(|(u, csrf)| Nav {
                username: u.username.clone(),
                csrf: csrf.to_owned(),
                admin: u.role == Role::Admin,
            }),
            narrow: false,
        }
    }

    /// The chrome of a signed-in page.
    pub fn of(app: &AppState, user: &WebUser) -> Self {
        Self::new(app, Some((&user.user, &user.csrf)))
    }

    pub fn narrow(mut self) -> Self {
        self.narrow = true;
        self
    }
}

/// What a page's Content-Security-Policy allows beyond nothing: the gateway's stylesheet always;
/// its script file when `script` is set; a form posting to `form_action` (the connect page posts
/// to the provider).
#[derive(Default)]
pub struct Csp<'a> {
    pub script: bool,
    pub form_action: &'a str,
}

/// A rendered template as a response with the pages' headers.
pub fn respond(status: StatusCode, page: &impl Template, csp: Csp<'_>) -> Response {
    let html = match page.render() {
        Ok(html) => html,
        Err(error) => {
            tracing::error!(%error, "a page did not render");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown",
            )
                .into_response();
        }
    };
    let script = if csp.script {
        " script-src 'self';"
    } else {
        ""
    };
    let form_action = if csp.form_action.is_empty() {
        String::new()
    } else {
        format!(" {}", csp.form_action)
    };
    let policy = format!(
        "default-src 'none'; style-src 'self';{script} form-action 'self'{form_action}; frame-ancestors 'none'; base-uri 'none'"
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::try_from(policy) {
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

/// A link on a message page.
pub struct Link {
    pub id: &'static str,
    pub href: String,
    pub text: String,
}

impl Link {
    pub fn new(id: &'static str, href: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            id,
            href: href.into(),
            text: text.into(),
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    chrome: Chrome,
    message_id: &'a str,
    message: &'a str,
    alert: bool,
    action: Option<Link>,
    back: Link,
}

/// A page that says one thing: an error (`status` 4xx/5xx: announced with `role=alert`) or a
/// notice, always with a way back and, when given, a way on.
pub struct Message<'a> {
    pub status: StatusCode,
    pub title: &'a str,
    pub text: &'a str,
    pub id: &'a str,
    pub action: Option<Link>,
    pub back: Link,
}

impl<'a> Message<'a> {
    /// An error page with `text`, leading back to `back`.
    pub fn error(status: StatusCode, title: &'a str, text: &'a str, back: Link) -> Self {
        Self {
            status,
            title,
            text,
            id: "problem",
            action: None,
            back,
        }
    }

    pub fn id(mut self, id: &'a str) -> Self {
        self.id = id;
        self
    }

    pub fn action(mut self, link: Link) -> Self {
        self.action = Some(link);
        self
    }

    pub fn render(self, chrome: Chrome) -> Response {
        let alert = self.status.is_client_error() || self.status.is_server_error();
        let page = MessagePage {
            title: self.title,
            chrome: chrome.narrow(),
            message_id: self.id,
            message: self.text,
            alert,
            action: self.action,
            back: self.back,
        };
        respond(self.status, &page, Csp::default())
    }
}

/// A moment on a page: `<time datetime="{iso}">{human}</time>`, e.g. "2 Dec 2026 17:40 UTC".
pub struct When {
    pub iso: String,
    pub human: String,
}

pub fn when(ms: i64) -> When {
    let format = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year] [hour]:[minute] UTC"
    );
    let human = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default();
    When {
        iso: crate::clock::rfc3339(ms),
        human,
    }
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
    fn redirects_stay_on_the_gateway_and_csrf_tokens_are_per_session() {
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
        let at = when(1_796_233_200_000);
        assert_eq!(at.human, "2 Dec 2026 17:40 UTC");
        assert_eq!(at.iso, "2026-12-02T17:40:00Z");
        assert!(!same(&csrf_token("s"), &csrf_token("t")));
    }
}
