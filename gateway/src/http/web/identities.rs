//! The identities page (SPEC §8), `/account/identities`: the account's linked identities, a
//! button per configured IdP to link another (a CSRF-checked POST that sends the browser to the
//! IdP; the link happens at the callback, in this session only), and unlinking with a confirmation
//! step. The last way in (no other identity, no password) has no unlink button, and the store
//! refuses it anyway.

use super::{Chrome, Csp, CsrfForm, Link, Message, WebUser, When, respond, urlencode, when};
use crate::app::AppState;
use crate::http::input::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

fn idp_name(app: &AppState, id: &str) -> String {
    app.identity_providers
        .list()
        .into_iter()
        .find(|(i, _)| i == id)
        .map(|(_, name)| name)
        .unwrap_or_else(|| id.to_owned())
}

struct IdentityRow {
    id_encoded: String,
    idp: String,
    subject: String,
    email: String,
    linked: When,
}

#[derive(Template)]
#[template(path = "identities.html")]
struct IdentitiesPage<'a> {
    title: &'a str,
    chrome: Chrome,
    problem: Option<&'a str>,
    has_password: bool,
    rows: Vec<IdentityRow>,
    last: bool,
    idps: Vec<(String, String)>,
    csrf: &'a str,
}

/// The page, with `problem` (and `status`) when a link or unlink was refused.
async fn view(app: &AppState, user: &WebUser, problem: Option<(StatusCode, &str)>) -> Response {
    let identities = app
        .accounts
        .identities(user.user.id)
        .await
        .unwrap_or_default();
    let has_password = app.accounts.has_password(&user.user).await.unwrap_or(false);
    let last = identities.len() == 1 && !has_password;
    let rows = identities
        .into_iter()
        .map(|i| IdentityRow {
            id_encoded: urlencode(&i.id),
            idp: idp_name(app, &i.idp_id),
            subject: i.subject,
            email: i.email.unwrap_or_default(),
            linked: when(i.linked_at),
        })
        .collect();
    let page = IdentitiesPage {
        title: "Identities",
        chrome: Chrome::of(app, user),
        problem: problem.map(|(_, text)| text),
        has_password,
        rows,
        last,
        idps: app.identity_providers.list(),
        csrf: &user.csrf,
    };
    // The Link buttons' forms lead on to the identity providers.
    let origins = app
        .identity_providers
        .authorization_origins()
        .await
        .join(" ");
    let csp = Csp {
        form_action: &origins,
        ..Csp::default()
    };
    respond(problem.map_or(StatusCode::OK, |(s, _)| s), &page, csp)
}

pub async fn identities_page(State(app): State<AppState>, user: WebUser) -> Response {
    view(&app, &user, None).await
}

#[derive(Deserialize)]
pub struct LinkForm {
    idp: String,
}

pub async fn identity_link(
    State(app): State<AppState>,
    parts: Parts,
    CsrfForm(user, f): CsrfForm<LinkForm>,
) -> Response {
    match crate::http::identities::start_link(&app, &user.user, &parts, &f.idp).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => view(&app, &user, Some((StatusCode::BAD_REQUEST, &e.to_string()))).await,
    }
}

#[derive(Template)]
#[template(path = "identity_unlink.html")]
struct UnlinkPage<'a> {
    title: &'a str,
    chrome: Chrome,
    subject: &'a str,
    idp: String,
    id_encoded: String,
    csrf: &'a str,
}

pub async fn identity_unlink_confirm(
    State(app): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    let identities = app
        .accounts
        .identities(user.user.id)
        .await
        .unwrap_or_default();
    let Some(identity) = identities.iter().find(|i| i.id == id) else {
        return Message::error(
            StatusCode::NOT_FOUND,
            "No such identity",
            "This identity is not linked to your account: it may have been unlinked already.",
            Link::new("back", "/account/identities", "Back to Identities"),
        )
        .render(Chrome::of(&app, &user));
    };
    let page = UnlinkPage {
        title: "Unlink this identity?",
        chrome: Chrome::of(&app, &user).narrow(),
        subject: &identity.subject,
        idp: idp_name(&app, &identity.idp_id),
        id_encoded: urlencode(&identity.id),
        csrf: &user.csrf,
    };
    respond(StatusCode::OK, &page, Csp::default())
}

#[derive(Deserialize)]
pub struct Confirmed {}

pub async fn identity_unlink(
    State(app): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(user, Confirmed {}): CsrfForm<Confirmed>,
) -> Response {
    match app.accounts.unlink_identity(user.user.id, &id).await {
        Ok(()) => Redirect::to("/account/identities").into_response(),
        Err(e) => view(&app, &user, Some((StatusCode::CONFLICT, &e.to_string()))).await,
    }
}
