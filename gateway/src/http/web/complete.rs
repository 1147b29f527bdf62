//! `GET /connections/{id}/complete?nonce=…&code=…`: the browser comes back from the provider
//! (SPEC §4). Success goes to My connections; a refused return is a page saying what happened,
//! with the way on (sign in) or back.

use super::{Chrome, Link, Message};
use crate::app::AppState;
use crate::connections::{CompletionRefused, ConnectionError};
use crate::http::extract::session;
use crate::http::input::{Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct CompleteQuery {
    nonce: Option<String>,
    code: Option<String>,
}

pub async fn connection_complete(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<CompleteQuery>,
    parts: Parts,
) -> Response {
    let nonce = q.nonce.unwrap_or_default();
    let session = session(&parts, &app);
    // An unknown, expired or inactive session is no session: the return changes nothing.
    let user = match session {
        Some(secret) => app.accounts.user_by_session(secret).await.ok().flatten(),
        None => None,
    };
    let signed_in = user.as_deref().zip(session);
    let csrf = session.map(super::csrf_token);
    let chrome = Chrome::new(&app, user.as_deref().zip(csrf.as_deref()));
    match app
        .connections
        .complete(&id, &nonce, q.code.as_deref(), signed_in)
        .await
    {
        Ok(connection) => Redirect::to(&format!(
            "/connections?connected={}",
            super::urlencode(&connection.provider_id)
        ))
        .into_response(),
        Err(ConnectionError::Completion(why)) => refused_page(&why, &parts, chrome),
        Err(e) => {
            tracing::error!(error = %e, "completing a connection failed");
            Message::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Connection not completed",
                "Something went wrong at the gateway; try again.",
                Link::new("back", "/connections", "Back to My connections"),
            )
            .render(chrome)
        }
    }
}

/// The page a refused return shows: what happened, and the way on.
fn refused_page(why: &CompletionRefused, parts: &Parts, chrome: Chrome) -> Response {
    use CompletionRefused::*;
    let (status, title) = match why {
        NotSignedIn => (StatusCode::UNAUTHORIZED, "Sign in to finish connecting"),
        UnknownAttempt => (StatusCode::BAD_REQUEST, "Connection not completed"),
        NotReported => (StatusCode::CONFLICT, "Connection not completed yet"),
        OtherSession => (StatusCode::FORBIDDEN, "Connection not completed"),
        EndedForOtherUser | EndedWithoutCode => (StatusCode::FORBIDDEN, "Connection cancelled"),
    };
    let text = why.to_string();
    let mut page = Message::error(
        status,
        title,
        &text,
        Link::new("back", "/connections", "Back to My connections"),
    );
    if *why == NotSignedIn {
        let here = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        page = page.action(Link::new(
            "sign-in",
            format!("/login?next={}", super::urlencode(here)),
            "Sign in",
        ));
    }
    page.render(chrome)
}
