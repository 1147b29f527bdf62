//! The API tokens page: the user's tokens, a new one shown once (with a Copy button, the served
//! script), and deleting one after a confirmation step (a page of its own: no script needed).

use super::{Chrome, Csp, CsrfForm, Link, Message, WebUser, When, respond, when};
use crate::app::AppState;
use crate::http::input::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

struct TokenRow {
    id: String,
    name: String,
    created: When,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage<'a> {
    title: &'a str,
    chrome: Chrome,
    script: &'static str,
    created: Option<&'a str>,
    rows: Vec<TokenRow>,
    csrf: &'a str,
}

fn back_to_tokens() -> Link {
    Link::new("back", "/tokens", "Back to API tokens")
}

pub async fn tokens_page(State(app): State<AppState>, user: WebUser) -> Response {
    tokens_view(&app, &user, None).await
}

async fn tokens_view(app: &AppState, user: &WebUser, created: Option<&str>) -> Response {
    let rows = app
        .accounts
        .api_tokens(&user.user)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|t| TokenRow {
            created: when(t.created_at),
            id: t.id,
            name: t.name,
        })
        .collect();
    let page = TokensPage {
        title: "API tokens",
        chrome: Chrome::of(app, user),
        script: super::assets::script_href(),
        created,
        rows,
        csrf: &user.csrf,
    };
    let csp = Csp {
        script: created.is_some(),
        ..Csp::default()
    };
    respond(StatusCode::OK, &page, csp)
}

#[derive(Deserialize)]
pub struct NewTokenForm {
    name: String,
}

pub async fn token_create(
    State(app): State<AppState>,
    CsrfForm(user, f): CsrfForm<NewTokenForm>,
) -> Response {
    match app.accounts.create_api_token(&user.user, &f.name).await {
        Ok((_, secret)) => tokens_view(&app, &user, Some(secret.expose())).await,
        Err(e) => Message::error(
            StatusCode::BAD_REQUEST,
            "Token not created",
            &e.to_string(),
            back_to_tokens(),
        )
        .render(Chrome::of(&app, &user)),
    }
}

#[derive(Template)]
#[template(path = "token_delete.html")]
struct DeletePage<'a> {
    title: &'a str,
    chrome: Chrome,
    id: &'a str,
    name: &'a str,
    created: When,
    csrf: &'a str,
}

/// `GET /tokens/{id}/delete`: which token, and a button that deletes it.
pub async fn token_delete_confirm(
    State(app): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    let tokens = app
        .accounts
        .api_tokens(&user.user)
        .await
        .unwrap_or_default();
    let Some(token) = tokens.iter().find(|t| t.id == id) else {
        return Message::error(
            StatusCode::NOT_FOUND,
            "No such token",
            "This token does not exist any more: it may have been deleted already.",
            back_to_tokens(),
        )
        .render(Chrome::of(&app, &user));
    };
    let page = DeletePage {
        title: "Delete this token?",
        chrome: Chrome::of(&app, &user).narrow(),
        id: &token.id,
        name: &token.name,
        created: when(token.created_at),
        csrf: &user.csrf,
    };
    respond(StatusCode::OK, &page, Csp::default())
}

#[derive(Deserialize)]
pub struct Confirmed {}

pub async fn token_delete(
    State(app): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(user, Confirmed {}): CsrfForm<Confirmed>,
) -> Response {
    match app.accounts.delete_api_token(&user.user, &id).await {
        Ok(()) => Redirect::to("/tokens").into_response(),
        Err(e) => Message::error(
            StatusCode::NOT_FOUND,
            "Token not deleted",
            &e.to_string(),
            back_to_tokens(),
        )
        .render(Chrome::of(&app, &user)),
    }
}
