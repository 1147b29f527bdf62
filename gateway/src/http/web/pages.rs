//! The signed-in pages of providers and connections: the providers list (Connect only where the
//! provider is active and has a valid manifest; otherwise why not), the connect confirmation and
//! the hand-over to the provider, my connections and disconnect. Each handler: who is this (an
//! extractor), call one domain function, render a template.

use super::{Chrome, Csp, CsrfForm, Link, Message, WebUser, respond};
use crate::app::AppState;
use crate::http::input::{Path, Query};
use crate::model::{ConnectionState, ProviderStatus, state_str};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use provider_kit::protocol::Manifest;
use serde::Deserialize;
use std::collections::HashMap;

fn enabled_features(m: &Manifest) -> Vec<&'static str> {
    let f = &m.features;
    [
        (f.compute.docker.enabled, "containers"),
        (f.compute.virtual_machine.enabled, "virtual machines"),
        (f.storage.enabled, "storage"),
        (f.block_devices.enabled, "block devices"),
        (f.ip_addresses.enabled, "IP addresses"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

/// What a manifest offers, in words: for the providers and approvals pages.
pub(super) fn offers(m: &Manifest) -> String {
    let features = enabled_features(m);
    if features.is_empty() {
        "nothing yet".to_owned()
    } else {
        features.join(", ")
    }
}

/// Why a provider cannot be connected to now, or `None` when it can.
fn why_not_connectable(app: &AppState, id: &str, status: ProviderStatus) -> Option<&'static str> {
    if status != ProviderStatus::Active {
        return Some("Not available: the provider is not active.");
    }
    if app.manifests.current(id).is_none() {
        return Some("Not available yet: the provider has not published a valid manifest.");
    }
    None
}

struct ProviderRow {
    id: String,
    domain: String,
    status: &'static str,
    offers: String,
    accounts: &'static str,
    connection: &'static str,
    /// What the provider asks of a user before use (SPEC §9), plain text.
    requires: String,
    connect: bool,
    why_not: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "providers.html")]
struct ProvidersPage {
    title: &'static str,
    chrome: Chrome,
    rows: Vec<ProviderRow>,
}

fn back_to_providers() -> Link {
    Link::new("back", "/providers", "Back to Providers")
}

pub async fn providers_page(State(app): State<AppState>, user: WebUser) -> Response {
    let providers = match app.registry.list(&user.user).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "listing providers failed");
            return Message::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Providers",
                "The providers cannot be listed right now. Try again in a moment.",
                Link::new("back", "/providers", "Try again"),
            )
            .render(Chrome::of(&app, &user));
        }
    };
    let connections: HashMap<String, ConnectionState> = app
        .connections
        .list(&user.user)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.provider_id, c.state))
        .collect();
    let rows = providers
        .iter()
        .map(|p| {
            let id = p.metadata.id.as_str();
            let manifest = app.manifests.current(id);
            let connected = connections.get(id) == Some(&ConnectionState::Ok);
            let why_not = why_not_connectable(&app, id, p.status);
            ProviderRow {
                id: id.to_owned(),
                domain: p.metadata.domain.clone(),
                status: p.status.as_str(),
                offers: manifest
                    .as_deref()
                    .map_or_else(|| "none (no manifest yet)".to_owned(), offers),
                accounts: manifest.as_deref().map_or("-", |m| {
                    if m.users.require_explicit_mapping {
                        "connect first"
                    } else {
                        "automatic"
                    }
                }),
                connection: connections
                    .get(id)
                    .map_or("not connected", |s| state_str(*s)),
                requires: manifest
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), super::access::requirements),
                connect: why_not.is_none() && !connected,
                why_not: if connected { None } else { why_not },
            }
        })
        .collect();
    let page = ProvidersPage {
        title: "Providers",
        chrome: Chrome::of(&app, &user),
        rows,
    };
    respond(StatusCode::OK, &page, Csp::default())
}

#[derive(Deserialize)]
pub struct ProviderQuery {
    provider: String,
}

#[derive(Template)]
#[template(path = "connect.html")]
struct ConnectPage<'a> {
    title: String,
    chrome: Chrome,
    provider: &'a str,
    address: String,
    username: &'a str,
    csrf: &'a str,
}

/// A provider the user may connect to now, or the page that says why not.
async fn connectable(
    app: &AppState,
    user: &WebUser,
    id: &str,
) -> Result<crate::model::Provider, Response> {
    let refuse = |status, text: &str| {
        Message::error(status, "Cannot connect", text, back_to_providers())
            .render(Chrome::of(app, user))
    };
    let provider = match app.registry.get(&user.user, id).await {
        Ok(p) => p,
        Err(e) => return Err(refuse(StatusCode::NOT_FOUND, &e.to_string())),
    };
    if let Some(why) = why_not_connectable(app, id, provider.status) {
        return Err(refuse(StatusCode::CONFLICT, why));
    }
    Ok(provider)
}

pub async fn connect_confirm(
    State(app): State<AppState>,
    user: WebUser,
    Query(q): Query<ProviderQuery>,
) -> Response {
    let provider = match connectable(&app, &user, &q.provider).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let id = provider.metadata.id.as_str();
    if let Some((reason, way_out)) = super::access::connect_blocker(&app, &user.user, id).await {
        let mut message = Message::error(
            StatusCode::FORBIDDEN,
            "Not yet",
            &reason,
            back_to_providers(),
        );
        if let Some(url) = way_out {
            message = message.action(Link::new("way-out", url, "What to do"));
        }
        return message.render(Chrome::of(&app, &user));
    }
    let page = ConnectPage {
        title: format!("Connect to {id}"),
        chrome: Chrome::of(&app, &user),
        provider: id,
        address: provider.metadata.base_url(),
        username: &user.user.username,
        csrf: &user.csrf,
    };
    respond(StatusCode::OK, &page, Csp::default())
}

#[derive(Deserialize)]
pub struct ConnectForm {
    provider: String,
}

#[derive(Template)]
#[template(path = "connecting.html")]
struct ConnectingPage<'a> {
    title: &'a str,
    chrome: Chrome,
    script: &'static str,
    provider: &'a str,
    url: &'a str,
    token: &'a str,
}

/// Starts the attempt and sends the browser to the provider with a form the page's script submits
/// (a button where scripts are off).
pub async fn connect_start(
    State(app): State<AppState>,
    parts: Parts,
    CsrfForm(user, f): CsrfForm<ConnectForm>,
) -> Response {
    if let Err(page) = connectable(&app, &user, &f.provider).await {
        return page;
    }
    let started =
        match crate::http::connect::start_attempt(&app, &user.user, &parts, &f.provider).await {
            Ok(s) => s,
            Err(e) => {
                let problem = e.problem();
                return Message::error(
                    StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST),
                    "Cannot connect",
                    &problem.detail,
                    back_to_providers(),
                )
                .render(Chrome::of(&app, &user));
            }
        };
    let origin = url::Url::parse(&started.url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let page = ConnectingPage {
        title: "Connecting…",
        chrome: Chrome::of(&app, &user).narrow(),
        script: super::assets::script_href(),
        provider: &f.provider,
        url: &started.url,
        token: started.token.as_str(),
    };
    respond(
        StatusCode::OK,
        &page,
        Csp {
            script: true,
            form_action: &origin,
        },
    )
}

#[derive(Deserialize)]
pub struct ConnectedQuery {
    connected: Option<String>,
}

struct ConnectionRow {
    provider: String,
    class: &'static str,
    state: &'static str,
    local: String,
    next: String,
    link: Option<String>,
    again: bool,
    disconnect: bool,
}

#[derive(Template)]
#[template(path = "connections.html")]
struct ConnectionsPage<'a> {
    title: &'a str,
    chrome: Chrome,
    connected: Option<String>,
    rows: Vec<ConnectionRow>,
    csrf: &'a str,
}

pub async fn connections_page(
    State(app): State<AppState>,
    user: WebUser,
    Query(q): Query<ConnectedQuery>,
) -> Response {
    let connections = app.connections.list(&user.user).await.unwrap_or_default();
    let rows = connections
        .into_iter()
        .map(|c| {
            let (class, next, link, again) = match c.state {
                ConnectionState::Ok => ("state-ok", "Ready to use.".to_owned(), None, false),
                ConnectionState::PendingAccountLinking
                | ConnectionState::PendingAdditionalValidation => (
                    "state-pending",
                    c.comment
                        .clone()
                        .unwrap_or_else(|| "The provider needs more from you.".to_owned()),
                    c.comment_url.clone(),
                    false,
                ),
                ConnectionState::Disconnected
                | ConnectionState::Expired
                | ConnectionState::Failed => ("", String::new(), None, true),
                _ => (
                    "state-pending",
                    "Waiting for the provider; if this stays, connect again.".to_owned(),
                    None,
                    false,
                ),
            };
            ConnectionRow {
                disconnect: c.state != ConnectionState::Disconnected,
                state: state_str(c.state),
                local: c.local_identity.clone().unwrap_or_else(|| "-".to_owned()),
                provider: c.provider_id,
                class,
                next,
                link,
                again,
            }
        })
        .collect();
    let page = ConnectionsPage {
        title: "My connections",
        chrome: Chrome::of(&app, &user),
        connected: q.connected,
        rows,
        csrf: &user.csrf,
    };
    respond(StatusCode::OK, &page, Csp::default())
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn disconnect_submit(
    State(app): State<AppState>,
    Path(provider): Path<String>,
    CsrfForm(user, _): CsrfForm<Empty>,
) -> Response {
    let result = match app.registry.get_any(&provider).await {
        Ok(p) => app
            .connections
            .disconnect(&user.user, &p)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(()) => Redirect::to("/connections").into_response(),
        Err(message) => Message::error(
            StatusCode::BAD_REQUEST,
            "Not disconnected",
            &message,
            Link::new("back", "/connections", "Back to My connections"),
        )
        .render(Chrome::of(&app, &user)),
    }
}
