//! "Why can't I use this?" (SPEC §9): `/providers/{id}/access` shows each check of the access
//! gate with its way out — the very evaluation the broker decides with. Also what a provider
//! requires, for the providers page, and `/account`, where an `invalid` account sees what is
//! missing and a local one completes it.

use super::{Chrome, Csp, CsrfForm, Link, Message, WebUser, respond};
use crate::app::AppState;
use crate::http::agreements::explain;
use crate::http::input::Path;
use crate::policy::{Refusal, missing_attributes};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
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

struct CheckRow {
    check: &'static str,
    /// `ok`, `failed`, or `skipped` (not checked until an earlier check passes).
    state: &'static str,
    reason: String,
    way_out: Option<String>,
}

#[derive(Template)]
#[template(path = "access.html")]
struct AccessPage<'a> {
    title: &'a str,
    chrome: Chrome,
    provider: &'a str,
    allowed: bool,
    checks: Vec<CheckRow>,
    wallet: String,
}

pub async fn access_page(
    State(app): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    let (evaluation, wallet) = match explain(&app, &user.user, &id, None).await {
        Ok(found) => found,
        Err(e) => {
            let status =
                StatusCode::from_u16(e.code().parts().0).unwrap_or(StatusCode::BAD_REQUEST);
            return Message::error(
                status,
                "Access",
                &e.problem().detail,
                Link::new("back", "/providers", "Back to Providers"),
            )
            .render(Chrome::of(&app, &user));
        }
    };
    let checks = evaluation
        .outcomes
        .iter()
        .map(|o| match &o.refusal {
            None => CheckRow {
                check: o.check.as_str(),
                state: "ok",
                reason: o.passed.unwrap_or_default().to_owned(),
                way_out: None,
            },
            Some(r @ Refusal::NotChecked(_)) => CheckRow {
                check: o.check.as_str(),
                state: "skipped",
                reason: r.reason(),
                way_out: None,
            },
            Some(r) => CheckRow {
                check: o.check.as_str(),
                state: "failed",
                reason: r.reason(),
                way_out: r.action_url(&app.issuer),
            },
        })
        .collect();
    let page = AccessPage {
        title: &format!("Access to {id}"),
        chrome: Chrome::of(&app, &user),
        provider: &id,
        allowed: evaluation.allowed(),
        checks,
        wallet: wallet.map_or("No wallet at this provider.".to_owned(), |b| {
            format!("Your wallet holds {b} units.")
        }),
    };
    respond(StatusCode::OK, &page, Csp::default())
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    title: &'a str,
    chrome: Chrome,
    problem: Option<&'a str>,
    username: &'a str,
    name: String,
    email: &'a str,
    missing: String,
    federated: bool,
    csrf: &'a str,
}

pub async fn account_page(State(app): State<AppState>, user: WebUser) -> Response {
    account_view(&app, &user, None)
}

fn account_view(app: &AppState, user: &WebUser, problem: Option<&str>) -> Response {
    let u = &user.user;
    let page = AccountPage {
        title: "Your account",
        chrome: Chrome::of(app, user),
        problem,
        username: &u.username,
        name: format!("{} {}", u.first_name, u.last_name)
            .trim()
            .to_owned(),
        email: &u.email,
        missing: missing_attributes(u).join(", "),
        federated: u.federated.identity_provider.is_some(),
        csrf: &user.csrf,
    };
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    respond(status, &page, Csp::default())
}

#[derive(Deserialize)]
pub struct AccountForm {
    email: String,
}

pub async fn account_submit(
    State(app): State<AppState>,
    CsrfForm(user, f): CsrfForm<AccountForm>,
) -> Response {
    match app.accounts.complete_email(&user.user, &f.email).await {
        Ok(()) => Redirect::to("/account").into_response(),
        Err(e) => account_view(&app, &user, Some(&e.to_string())),
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
