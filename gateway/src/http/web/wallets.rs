//! The wallets page: the caller's and their projects' balances per provider, and recent charges
//! against their own wallets (accepted and refused), newest first.

use super::{csrf_token, escape, page, paragraph, web_user};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::model::Owner;
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::Response;

pub async fn wallets_page(State(app): State<AppState>, parts: Parts) -> Response {
    let (user, session) = match web_user(&app, &parts).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let csrf = csrf_token(&session);
    let wallets = match app.accounting.wallets(&user).await {
        Ok(w) => w,
        Err(e) => return page("Wallets", &paragraph(&e.to_string()), Some((&user, &csrf))),
    };
    let mut body = String::new();
    if wallets.is_empty() {
        body.push_str(&paragraph(
            "You have no wallets yet; an admin grants units per provider.",
        ));
    } else {
        body.push_str(
            "<table><tr><th>Owner</th><th>Provider</th><th>Balance</th><th>Updated</th></tr>",
        );
        for w in &wallets {
            let owner = match &w.owner {
                Owner::User { username, .. } => format!("you ({})", escape(username)),
                Owner::Project { id } => format!("project {}", escape(id)),
            };
            body.push_str(&format!(
                "<tr><td>{owner}</td><td>{}</td><td id=\"balance-{}\">{}</td><td>{}</td></tr>",
                escape(&w.provider),
                escape(&w.provider),
                w.balance,
                rfc3339(w.updated_at)
            ));
        }
        body.push_str("</table>");
    }
    let charges = app
        .accounting
        .charges(&user, None, None, Some(50))
        .await
        .unwrap_or_default();
    body.push_str("<h2>Recent charges</h2>");
    if charges.is_empty() {
        body.push_str(&paragraph("No charges yet."));
    } else {
        body.push_str("<table><tr><th>When</th><th>Provider</th><th>Units</th><th>What</th><th>Outcome</th><th>Balance after</th></tr>");
        for c in &charges {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                rfc3339(c.at),
                escape(&c.provider),
                c.units,
                escape(&c.description),
                c.outcome.as_str(),
                c.outcome.balance()
            ));
        }
        body.push_str("</table>");
    }
    page("Wallets", &body, Some((&user, &csrf)))
}
