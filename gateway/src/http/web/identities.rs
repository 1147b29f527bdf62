//! The identities page (SPEC §8), `/account/identities`: the account's linked identities, a
//! button per configured IdP to link another (a CSRF-checked POST that sends the browser to the
//! IdP; the link happens at the callback, in this session only), and unlinking with a confirmation
//! step. The last way in (no other identity, no password) has no unlink button, and the store
//! refuses it anyway.

use super::{check_csrf, csrf_token, escape, page, page_with, paragraph, web_user};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::http::input::{Form, Path};
use crate::model::User;
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

async fn view(app: &AppState, user: &User, session: &str, notice: Option<&str>) -> Response {
    let csrf = csrf_token(session);
    let identities = app.accounts.identities(user.id).await.unwrap_or_default();
    let has_password = app.accounts.has_password(user).await.unwrap_or(false);
    let last = identities.len() == 1 && !has_password;
    let mut body = notice.map(paragraph).unwrap_or_default();
    body.push_str(&paragraph(if has_password {
        "This account also has a password."
    } else {
        "This account has no password: it is reached through the identities below."
    }));
    if identities.is_empty() {
        body.push_str(&paragraph("No identity is linked to this account."));
    } else {
        body.push_str("<table id=\"identities\"><tr><th>Identity provider</th><th>Subject</th><th>Email</th><th>Linked</th><th></th></tr>");
        for i in &identities {
            let action = if last {
                "<em>your only way to sign in</em>".to_owned()
            } else {
                format!(
                    "<a class=\"unlink\" href=\"/account/identities/{}/unlink\">Unlink…</a>",
                    escape(&super::urlencode(&i.id))
                )
            };
            body.push_str(&format!(
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{action}</td></tr>",
                escape(&idp_name(app, &i.idp_id)),
                escape(&i.subject),
                escape(i.email.as_deref().unwrap_or("")),
                escape(&rfc3339(i.linked_at)),
            ));
        }
        body.push_str("</table>");
    }
    let idps = app.identity_providers.list();
    if !idps.is_empty() {
        body.push_str("<h2>Link another identity</h2><p>You will sign in at the identity provider; the identity is linked to this account when you come back in this browser.</p>");
        for (id, name) in idps {
            body.push_str(&format!(
                "<form class=\"inline\" method=\"post\" action=\"/account/identities/link\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"idp\" value=\"{}\">\
                 <button id=\"link-{}\">Link {}</button></form> ",
                escape(&id),
                escape(&id),
                escape(&name)
            ));
        }
    }
    page_with(
        "Identities",
        &body,
        Some((user, &csrf)),
        &app.identity_providers
            .authorization_origins()
            .await
            .join(" "),
    )
}

/// The signed-in user of a form post whose CSRF field matches their session.
async fn form_user(app: &AppState, parts: &Parts, csrf: &str) -> Result<(User, String), Response> {
    let (user, session) = web_user(app, parts).await?;
    check_csrf(&session, csrf).map_err(|r| *r)?;
    Ok((user, session))
}

pub async fn identities_page(State(app): State<AppState>, parts: Parts) -> Response {
    match web_user(&app, &parts).await {
        Ok((user, session)) => view(&app, &user, &session, None).await,
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct LinkForm {
    csrf: String,
    idp: String,
}

pub async fn identity_link(
    State(app): State<AppState>,
    parts: Parts,
    Form(f): Form<LinkForm>,
) -> Response {
    let (user, session) = match form_user(&app, &parts, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match crate::http::identities::start_link(&app, &user, &parts, &f.idp).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => view(&app, &user, &session, Some(&e.to_string())).await,
    }
}

pub async fn identity_unlink_confirm(
    State(app): State<AppState>,
    parts: Parts,
    Path(id): Path<String>,
) -> Response {
    let (user, session) = match web_user(&app, &parts).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let csrf = csrf_token(&session);
    let identities = app.accounts.identities(user.id).await.unwrap_or_default();
    let Some(identity) = identities.iter().find(|i| i.id == id) else {
        let mut r = page(
            "Identities",
            &paragraph("No such identity."),
            Some((&user, &csrf)),
        );
        *r.status_mut() = StatusCode::NOT_FOUND;
        return r;
    };
    let body = format!(
        "<p>Unlink <code>{}</code> at {}? You will no longer be able to sign in with it.</p>\
         <form method=\"post\" action=\"/account/identities/{}/unlink\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button id=\"confirm-unlink\">Unlink</button></form><p><a href=\"/account/identities\">Cancel</a></p>",
        escape(&identity.subject),
        escape(&idp_name(&app, &identity.idp_id)),
        escape(&super::urlencode(&identity.id)),
    );
    page("Unlink identity", &body, Some((&user, &csrf)))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn identity_unlink(
    State(app): State<AppState>,
    parts: Parts,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let (user, session) = match form_user(&app, &parts, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match app.accounts.unlink_identity(user.id, &id).await {
        Ok(()) => Redirect::to("/account/identities").into_response(),
        Err(e) => {
            let mut r = view(&app, &user, &session, Some(&e.to_string())).await;
            *r.status_mut() = StatusCode::CONFLICT;
            r
        }
    }
}
