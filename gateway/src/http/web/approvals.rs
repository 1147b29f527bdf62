//! The admin's approvals page: production providers waiting for approval — with their owner and
//! what their manifest offers (or why it is not valid) — to approve or reject, and the accounts
//! waiting for approval (SPEC §8). Every decision is audited.

use super::{Chrome, Csp, CsrfForm, Link, Message, WebAdmin, When, respond, urlencode, when};
use crate::app::AppState;
use crate::audit::Actor;
use crate::http::input::Path;
use crate::model::ProviderStatus;
use crate::registry::Action;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

struct PendingProvider {
    id: String,
    address: String,
    owner: String,
    manifest: String,
    registered: When,
}

struct PendingUser {
    username: String,
    path: String,
    name: String,
    email: String,
    organization: String,
    idp: String,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage<'a> {
    title: &'a str,
    chrome: Chrome,
    providers: Vec<PendingProvider>,
    users: Vec<PendingUser>,
    csrf: &'a str,
}

/// The manifest of a pending provider in words: what it offers, or why there is none.
async fn manifest_words(app: &AppState, id: &str) -> String {
    match app.manifests.status(id).await {
        Ok(cached) => match (&cached.manifest, &cached.record.last_error) {
            (Some(m), None) => format!("valid; offers {}", super::pages::offers(m)),
            (Some(m), Some(e)) => format!(
                "offers {} (the last fetch failed: {e})",
                super::pages::offers(m)
            ),
            (None, Some(e)) => format!("not valid: {e}"),
            (None, None) => {
                "not fetched yet: a production provider's manifest is fetched once it is approved"
                    .to_owned()
            }
        },
        Err(e) => format!("unknown ({e})"),
    }
}

pub async fn admin_providers(State(app): State<AppState>, WebAdmin(admin): WebAdmin) -> Response {
    let pending: Vec<_> = app
        .registry
        .list_all()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.status == ProviderStatus::PendingApproval)
        .collect();
    let mut providers = Vec::with_capacity(pending.len());
    for p in &pending {
        let id = p.metadata.id.as_str();
        // The owner's name is read from the store: the page shows who registered it.
        let owner = match app.store.user_by_id(p.owner_id).await {
            Ok(Some(u)) => format!(
                "{} ({} {}, {})",
                u.username, u.first_name, u.last_name, u.email
            ),
            _ => "unknown".to_owned(),
        };
        providers.push(PendingProvider {
            id: id.to_owned(),
            address: p.metadata.namespace_url(),
            owner,
            manifest: manifest_words(&app, id).await,
            registered: when(p.created_at),
        });
    }
    let users = app
        .accounts
        .pending()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|u| PendingUser {
            path: urlencode(&u.username),
            name: format!("{} {}", u.first_name, u.last_name),
            organization: u.organization.clone().unwrap_or_default(),
            idp: u.federated.identity_provider.clone().unwrap_or_default(),
            username: u.username,
            email: u.email,
        })
        .collect();
    let page = ApprovalsPage {
        title: "Approvals",
        chrome: Chrome::of(&app, &admin),
        providers,
        users,
        csrf: &admin.csrf,
    };
    respond(StatusCode::OK, &page, Csp::default())
}

#[derive(Deserialize)]
pub struct Decision {}

fn back_to_approvals() -> Link {
    Link::new("back", "/admin/providers", "Back to Approvals")
}

async fn decide(app: &AppState, form: CsrfForm<Decision>, id: &str, action: Action) -> Response {
    let CsrfForm(admin, Decision {}) = form;
    if admin.user.role != crate::model::Role::Admin {
        return super::identity::admins_only(app, &admin);
    }
    match app
        .registry
        .apply(id, action, &Actor::user(&admin.user))
        .await
    {
        Ok(_) => Redirect::to("/admin/providers").into_response(),
        Err(e) => Message::error(
            StatusCode::CONFLICT,
            "Not changed",
            &e.to_string(),
            back_to_approvals(),
        )
        .render(Chrome::of(app, &admin)),
    }
}

pub async fn admin_approve(
    State(app): State<AppState>,
    Path(id): Path<String>,
    form: CsrfForm<Decision>,
) -> Response {
    decide(&app, form, &id, Action::Approve).await
}

pub async fn admin_reject(
    State(app): State<AppState>,
    Path(id): Path<String>,
    form: CsrfForm<Decision>,
) -> Response {
    decide(&app, form, &id, Action::Reject).await
}

pub async fn admin_approve_user(
    State(app): State<AppState>,
    Path(username): Path<String>,
    CsrfForm(admin, Decision {}): CsrfForm<Decision>,
) -> Response {
    if admin.user.role != crate::model::Role::Admin {
        return super::identity::admins_only(&app, &admin);
    }
    match app
        .accounts
        .approve(&Actor::user(&admin.user), &username)
        .await
    {
        Ok(_) => Redirect::to("/admin/providers").into_response(),
        Err(e) => Message::error(
            StatusCode::CONFLICT,
            "Not approved",
            &e.to_string(),
            back_to_approvals(),
        )
        .render(Chrome::of(&app, &admin)),
    }
}
