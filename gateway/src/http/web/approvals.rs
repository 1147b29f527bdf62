//! The admin's list of accounts awaiting approval (SPEC §8), shown on the Approvals page under the
//! providers, with an Approve button each.

use super::{check_csrf, csrf_token, escape, page, paragraph, web_user};
use crate::app::AppState;
use crate::audit::Actor;
use crate::http::input::{Form, Path};
use crate::model::Role;
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// The section of pending accounts; empty text when none waits.
pub async fn pending_users_section(app: &AppState, csrf: &str) -> String {
    let pending = app.accounts.pending().await.unwrap_or_default();
    let mut body = String::from("<h2>Accounts awaiting approval</h2>");
    if pending.is_empty() {
        body.push_str(&paragraph("No account is waiting for approval."));
        return body;
    }
    body.push_str("<table><tr><th>Username</th><th>Name</th><th>Email</th><th>Organization</th><th>Identity provider</th><th></th></tr>");
    for u in &pending {
        let name = escape(&u.username);
        let path = super::urlencode(&u.username);
        body.push_str(&format!(
            "<tr><td>{name}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td><td><form class=\"inline\" method=\"post\" action=\"/admin/users/{path}/approve\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button class=\"approve-user\">Approve</button></form></td></tr>",
            escape(&u.first_name),
            escape(&u.last_name),
            escape(&u.email),
            escape(u.organization.as_deref().unwrap_or("")),
            escape(u.federated.identity_provider.as_deref().unwrap_or("")),
        ));
    }
    body.push_str("</table>");
    body
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

pub async fn admin_approve_user(
    State(app): State<AppState>,
    parts: Parts,
    Path(username): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let (user, session) = match web_user(&app, &parts).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if let Err(response) = check_csrf(&session, &f.csrf) {
        return *response;
    }
    let csrf = csrf_token(&session);
    if user.role != Role::Admin {
        return page(
            "Approvals",
            &paragraph("Only admins approve accounts."),
            Some((&user, &csrf)),
        );
    }
    match app.accounts.approve(&Actor::user(&user), &username).await {
        Ok(_) => Redirect::to("/admin/providers").into_response(),
        Err(e) => page(
            "Approvals",
            &paragraph(&e.to_string()),
            Some((&user, &csrf)),
        ),
    }
}
