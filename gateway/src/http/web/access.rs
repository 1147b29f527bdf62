//! "Why can't I use this?" (SPEC §9): `/providers/{id}/access` shows each check of the access
//! gate with its way out — the very evaluation the broker decides with. Also what a provider
//! requires, for the providers page, and `/account`, where an `invalid` account sees what is
//! missing and a local one completes it.

use super::{check_csrf, csrf_token, escape, page, paragraph, web_user};
use crate::app::AppState;
use crate::http::agreements::explain;
use crate::http::input::{Form, Path};
use crate::policy::missing_attributes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use provider_kit::protocol::Manifest;
use serde::Deserialize;

/// What a provider asks of its users before Connect, as the providers page lists it.
pub fn requirements(m: &Manifest) -> String {
    let u = &m.users;
    let mut out = Vec::new();
    if let Some(t) = &u.terms {
        out.push(format!("terms ({})", t.title));
    }
    if u.require_two_factor {
        out.push("two-factor sign-in".to_owned());
    }
    for uri in &u.require_assurance {
        out.push(format!("assurance {uri}"));
    }
    if u.require_explicit_mapping {
        out.push("an explicit connection".to_owned());
    }
    if out.is_empty() {
        "nothing more".to_owned()
    } else {
        out.join(", ")
    }
}

pub async fn access_page(
    State(app): State<AppState>,
    parts: Parts,
    Path(id): Path<String>,
) -> Response {
    let (user, session) = match web_user(&app, &parts).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let csrf = csrf_token(&session);
    let (evaluation, wallet) = match explain(&app, &user, &id, None).await {
        Ok(found) => found,
        Err(e) => {
            return page(
                "Access",
                &paragraph(&e.problem().detail),
                Some((&user, &csrf)),
            );
        }
    };
    let mut rows = String::new();
    for o in &evaluation.outcomes {
        let (state, reason, way_out) = match &o.refusal {
            None => (
                "state-ok",
                o.passed.unwrap_or_default().to_owned(),
                String::new(),
            ),
            Some(r) => (
                "error",
                r.reason(),
                r.action_url(&app.issuer)
                    .map(|url| {
                        format!(
                            "<a class=\"way-out\" href=\"{}\">What to do</a>",
                            escape(&url)
                        )
                    })
                    .unwrap_or_else(|| "an administrator or the provider must act".to_owned()),
            ),
        };
        rows.push_str(&format!(
            "<tr id=\"check-{c}\" class=\"{}\"><td>{c}</td><td class=\"{state}\">{}</td><td>{}</td><td>{way_out}</td></tr>",
            if o.refusal.is_none() { "ok" } else { "failed" },
            if o.refusal.is_none() { "ok" } else { "refused" },
            escape(&reason),
            c = o.check.as_str(),
        ));
    }
    let verdict = if evaluation.allowed() {
        format!("You can use <strong>{}</strong>.", escape(&id))
    } else {
        format!(
            "You cannot use <strong>{}</strong> yet. Each refused check says what to do.",
            escape(&id)
        )
    };
    let wallet = wallet.map_or("no wallet at this provider".to_owned(), |b| {
        format!("your wallet holds {b} units")
    });
    let body = format!(
        "<p id=\"verdict\">{verdict}</p><table><tr><th>Check</th><th></th><th>Why</th><th>Way out</th></tr>{rows}</table>\
         <p>{}</p>",
        escape(&wallet)
    );
    page(&format!("Access to {id}"), &body, Some((&user, &csrf)))
}

pub async fn account_page(State(app): State<AppState>, parts: Parts) -> Response {
    let (user, session) = match web_user(&app, &parts).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let csrf = csrf_token(&session);
    let missing = missing_attributes(&user);
    let mut body = format!(
        "<p>Signed in as <strong>{}</strong> ({} {}); email: {}.</p>",
        escape(&user.username),
        escape(&user.first_name),
        escape(&user.last_name),
        if user.email.is_empty() {
            "none".to_owned()
        } else {
            escape(&user.email)
        }
    );
    if missing.is_empty() {
        body.push_str(&paragraph("Your account is complete."));
    } else if user.federated.identity_provider.is_some() {
        body.push_str(&paragraph(&format!(
            "Your account is invalid: it has no {}. Your identity provider supplies it: sign in again with one that releases it, or ask an operator.",
            missing.join(", ")
        )));
    } else {
        body.push_str(&format!(
            "<p>Your account is invalid: it has no {}. Complete it:</p>\
             <form method=\"post\" action=\"/account\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>Email <input name=\"email\" type=\"email\" required maxlength=\"254\"></label> <button id=\"complete\">Save</button></form>",
            missing.join(", ")
        ));
    }
    page("Your account", &body, Some((&user, &csrf)))
}

#[derive(Deserialize)]
pub struct AccountForm {
    csrf: String,
    email: String,
}

pub async fn account_submit(
    State(app): State<AppState>,
    parts: Parts,
    Form(f): Form<AccountForm>,
) -> Response {
    let (user, session) = match web_user(&app, &parts).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if let Err(response) = check_csrf(&session, &f.csrf) {
        return *response;
    }
    match app.accounts.complete_email(&user, &f.email).await {
        Ok(()) => Redirect::to("/account").into_response(),
        Err(e) => page(
            "Your account",
            &paragraph(&e.to_string()),
            Some((&user, &csrf_token(&session))),
        ),
    }
}

/// What stops the connect flow before the browser leaves: the reason and, where there is one,
/// the way out; `None` when nothing does.
pub async fn connect_blocker(
    app: &AppState,
    user: &crate::model::User,
    id: &str,
) -> Option<(String, Option<String>)> {
    let refusal = app.gate.before_connect(user, id).await.ok()??;
    Some((refusal.reason(), refusal.action_url(&app.issuer)))
}
