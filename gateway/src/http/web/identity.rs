//! Who is on a page, as extractors (house style 15): `WebUser` is the signed-in browser or a
//! redirect to `/login?next=…`; `WebAdmin` is an admin or a 403 page; `CsrfForm<T>` is a posted
//! form whose `csrf` field matches the session, or a 403 page. Each refusal page says why and
//! offers a way back. Instrumented with nothing: the session secret never reaches a log.

use super::{Chrome, Link, Message, csrf_token, same, urlencode};
use crate::app::AppState;
use crate::http::extract::session;
use crate::http::input::{BodyBytes, Form};
use crate::model::{Role, User};
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;

/// A signed-in browser: the user, their session secret and the CSRF token of their forms.
pub struct WebUser {
    pub user: User,
    pub session: String,
    pub csrf: String,
}

/// The signed-in user, or the response that sends them to sign in.
pub(super) async fn signed_in(app: &AppState, parts: &Parts) -> Result<WebUser, Response> {
    let to_login = || {
        let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        Redirect::to(&format!("/login?next={}", urlencode(next))).into_response()
    };
    let Some(secret) = session(parts, app) else {
        return Err(to_login());
    };
    match app.accounts.user_by_session(secret).await {
        Ok(Some(user)) => {
            // SPEC §9: until the gateway's agreements are accepted, the pages lead to them.
            let path = parts.uri.path();
            let explains = path.starts_with("/providers/") && path.ends_with("/access");
            if !matches!(path, "/agreements" | "/account" | "/logout")
                && !explains
                && let Some(url) = crate::http::agreement_gate::pending_url(app, &user).await
            {
                let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let to = format!("{url}?next={}", urlencode(next));
                return Err(Redirect::to(to.trim_start_matches(&app.issuer)).into_response());
            }
            Ok(WebUser {
                user: std::sync::Arc::unwrap_or_clone(user),
                session: secret.to_owned(),
                csrf: csrf_token(secret),
            })
        }
        Ok(None) => Err(to_login()),
        Err(error) => {
            tracing::error!(%error, "reading a session failed");
            Err(Message::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Not signed in",
                "The gateway could not check your sign-in right now. Try again in a moment.",
                Link::new("back", "/login", "Back to sign in"),
            )
            .render(Chrome::new(app, None)))
        }
    }
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        signed_in(app, parts).await
    }
}

/// A signed-in admin.
pub struct WebAdmin(pub WebUser);

impl FromRequestParts<AppState> for WebAdmin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let user = signed_in(app, parts).await?;
        if user.user.role == Role::Admin {
            return Ok(Self(user));
        }
        Err(admins_only(app, &user))
    }
}

/// The 403 page for a signed-in user who is not an admin.
pub(super) fn admins_only(app: &AppState, user: &WebUser) -> Response {
    Message::error(
        StatusCode::FORBIDDEN,
        "Admins only",
        "Only an administrator can see this page or do this.",
        Link::new("back", "/providers", "Back to Providers"),
    )
    .render(Chrome::of(app, user))
}

/// A posted form of a signed-in user whose `csrf` field is the session's: `CsrfForm(user, form)`.
pub struct CsrfForm<T>(pub WebUser, pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, app: &AppState) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let user = signed_in(app, &parts).await?;
        let BodyBytes(bytes) =
            BodyBytes::from_request(Request::from_parts(parts.clone(), body), app)
                .await
                .map_err(IntoResponse::into_response)?;
        let presented = url::form_urlencoded::parse(&bytes)
            .find(|(name, _)| name == "csrf")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        if !same(&user.csrf, &presented) {
            let chrome = Chrome::of(app, &user);
            return Err(form_expired(chrome, page_of_form(parts.uri.path())));
        }
        let Form(form) =
            Form::<T>::from_request(Request::from_parts(parts.clone(), Body::from(bytes)), app)
                .await
                .map_err(IntoResponse::into_response)?;
        Ok(Self(user, form))
    }
}

/// The page a form posted to `path` belongs to: where a refused form leads back to (a page to
/// GET, never the POST's own address, which a form's result page would show as the Referer).
fn page_of_form(path: &str) -> &'static str {
    match path.split('/').nth(1).unwrap_or_default() {
        "tokens" => "/tokens",
        "admin" => "/admin/providers",
        "connections" if path == "/connections/new" => "/providers",
        "connections" => "/connections",
        "account" if path.starts_with("/account/identities") => "/account/identities",
        "account" => "/account",
        "agreements" => "/agreements",
        _ => "/providers",
    }
}

const FORM_EXPIRED: &str = "This form is no longer valid. Go back, reload the page and try again.";

/// The refusal of a form whose CSRF field is not its session's: the page says so and leads back.
pub(super) fn form_expired(chrome: Chrome, back: &str) -> Response {
    Message::error(
        StatusCode::FORBIDDEN,
        "Form expired",
        FORM_EXPIRED,
        Link::new("back", back, "Go back"),
    )
    .render(chrome)
}

#[cfg(test)]
mod tests {
    use super::page_of_form;

    #[test]
    fn a_refused_form_leads_back_to_a_page_not_to_its_post_address() {
        assert_eq!(page_of_form("/tokens/new"), "/tokens");
        assert_eq!(page_of_form("/tokens/abc/delete"), "/tokens");
        assert_eq!(page_of_form("/connections/new"), "/providers");
        assert_eq!(page_of_form("/connections/hpc/disconnect"), "/connections");
        assert_eq!(page_of_form("/admin/users/bob/approve"), "/admin/providers");
        assert_eq!(
            page_of_form("/account/identities/link"),
            "/account/identities"
        );
        assert_eq!(
            page_of_form("/account/identities/x/unlink"),
            "/account/identities"
        );
        assert_eq!(page_of_form("/account"), "/account");
        assert_eq!(page_of_form("/agreements"), "/agreements");
        assert_eq!(page_of_form("/logout"), "/providers");
    }
}
