//! The wallets page: the caller's and their projects' balances per provider, and recent charges
//! against their own wallets (accepted and refused), newest first.

use super::{Chrome, Csp, Link, Message, WebUser, When, respond, when};
use crate::app::AppState;
use crate::model::Owner;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

struct WalletRow {
    owner: String,
    provider: String,
    balance: i64,
    updated: When,
}

struct ChargeRow {
    at: When,
    provider: String,
    units: i64,
    description: String,
    outcome: &'static str,
    balance: i64,
}

#[derive(Template)]
#[template(path = "wallets.html")]
struct WalletsPage {
    title: &'static str,
    chrome: Chrome,
    wallets: Vec<WalletRow>,
    charges: Vec<ChargeRow>,
}

pub async fn wallets_page(State(app): State<AppState>, user: WebUser) -> Response {
    let wallets = match app.accounting.wallets(&user.user).await {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "listing wallets failed");
            return Message::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Wallets",
                "The wallets cannot be shown right now. Try again in a moment.",
                Link::new("back", "/wallets", "Try again"),
            )
            .render(Chrome::of(&app, &user));
        }
    };
    let wallets = wallets
        .into_iter()
        .map(|w| WalletRow {
            owner: match &w.owner {
                Owner::User { username, .. } => format!("you ({username})"),
                Owner::Project { id } => format!("project {id}"),
            },
            provider: w.provider,
            balance: w.balance,
            updated: when(w.updated_at),
        })
        .collect();
    let charges = app
        .accounting
        .charges(&user.user, None, None, Some(50))
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| ChargeRow {
            at: when(c.at),
            outcome: c.outcome.as_str(),
            balance: c.outcome.balance(),
            provider: c.provider,
            units: c.units,
            description: c.description,
        })
        .collect();
    let page = WalletsPage {
        title: "Wallets",
        chrome: Chrome::of(&app, &user),
        wallets,
        charges,
    };
    respond(StatusCode::OK, &page, Csp::default())
}
