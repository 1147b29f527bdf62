//! The signed-in pages. Each handler: who is this (or go sign in), check the form's CSRF token,
//! call one domain function, render.

use super::{check_csrf, csrf_token, escape, page, page_with, paragraph, web_user};
use crate::app::AppState;
use crate::http::input::{Form, Path, Query};
use crate::model::{ConnectionState, ProviderStatus, Role, state_str};
use crate::registry::Action;
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use provider_kit::protocol::Manifest;
use serde::Deserialize;
use std::collections::HashMap;

/// Unwraps a signed-in user or returns the redirect to sign in; with `form = TOKEN`, also checks
/// a posted form's CSRF token against the session.
macro_rules! signed_in {
    ($app:expr, $parts:expr) => {
        match web_user(&$app, &$parts).await {
            Ok(found) => found,
            Err(response) => return response,
        }
    };
    ($app:expr, $parts:expr, form = $csrf:expr) => {{
        let (user, session) = signed_in!($app, $parts);
        if let Err(response) = check_csrf(&session, &$csrf) {
            return *response;
        }
        (user, session)
    }};
}

fn enabled_features(m: &Manifest) -> Vec<&'static str> {
    let f = &m.features;
    let mut out = Vec::new();
    let d = &f.compute.docker;
    if d.enabled {
        out.push("containers");
    }
    if f.compute.virtual_machine.enabled {
        out.push("virtual machines");
    }
    if f.storage.enabled {
        out.push("storage");
    }
    if f.block_devices.enabled {
        out.push("block devices");
    }
    if f.ip_addresses.enabled {
        out.push("IP addresses");
    }
    out
}

pub async fn providers_page(State(app): State<AppState>, parts: Parts) -> Response {
    let (user, session) = signed_in!(app, parts);
    let providers = match app.registry.list(&user).await {
        Ok(p) => p,
        Err(e) => {
            return page(
                "Providers",
                &paragraph(&e.to_string()),
                Some((&user, &csrf_token(&session))),
            );
        }
    };
    let connections: HashMap<String, ConnectionState> = app
        .connections
        .list(&user)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.provider_id, c.state))
        .collect();
    let mut rows = String::new();
    for p in &providers {
        let id = p.metadata.id.as_str();
        let manifest = app.manifests.current(id);
        let features = manifest
            .as_deref()
            .map(enabled_features)
            .unwrap_or_default();
        let mapping = manifest.as_deref().map(|m| {
            if m.users.require_explicit_mapping {
                "connect first"
            } else {
                "automatic"
            }
        });
        let connection = connections
            .get(id)
            .map(|s| state_str(*s))
            .unwrap_or("not connected");
        let mut action = if p.status == ProviderStatus::Active
            && connections.get(id) != Some(&ConnectionState::Ok)
        {
            format!("<a id=\"connect-{id}\" href=\"/connections/new?provider={id}\">Connect</a> ")
        } else {
            String::new()
        };
        action.push_str(&super::access::why_link(id));
        let requires = manifest
            .as_deref()
            .map_or("-".to_owned(), super::access::requirements);
        rows.push_str(&format!(
            "<tr><td><strong>{id}</strong><br><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{requires}</td><td>{}</td><td>{action}</td></tr>",
            escape(&p.metadata.domain),
            p.status.as_str(),
            escape(&if features.is_empty() { "none (no manifest yet)".to_owned() } else { features.join(", ") }),
            mapping.unwrap_or("-"),
            connection,
        ));
    }
    let body = if providers.is_empty() {
        paragraph("No providers are available to you yet.")
    } else {
        format!(
            "<table><tr><th>Provider</th><th>Status</th><th>Offers</th><th>Accounts</th><th>Requires</th><th>Your connection</th><th></th></tr>{rows}</table>"
        )
    };
    page("Providers", &body, Some((&user, &csrf_token(&session))))
}

#[derive(Deserialize)]
pub struct ProviderQuery {
    provider: String,
}

pub async fn connect_confirm(
    State(app): State<AppState>,
    parts: Parts,
    Query(q): Query<ProviderQuery>,
) -> Response {
    let (user, session) = signed_in!(app, parts);
    let csrf = csrf_token(&session);
    let provider = match app.registry.get(&user, &q.provider).await {
        Ok(p) => p,
        Err(e) => return page("Connect", &paragraph(&e.to_string()), Some((&user, &csrf))),
    };
    let id = provider.metadata.id.as_str();
    if let Some(blocker) = super::access::connect_blocker(&app, &user, id).await {
        return page(&format!("Connect to {id}"), &blocker, Some((&user, &csrf)));
    }
    let body = format!(
        "<p>You will be sent to <strong>{id}</strong> (<code>{}</code>) to sign in with your account there. \
         When you come back, your gateway account <strong>{}</strong> will be connected to it.</p>\
         <form method=\"post\" action=\"/connections/new\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"provider\" value=\"{id}\"><button id=\"connect\">Connect to {id}</button></form>",
        escape(&provider.metadata.base_url()),
        escape(&user.username)
    );
    page(&format!("Connect to {id}"), &body, Some((&user, &csrf)))
}

#[derive(Deserialize)]
pub struct ConnectForm {
    csrf: String,
    provider: String,
}

/// Starts the attempt and sends the browser to the provider with an auto-submitting form.
pub async fn connect_start(
    State(app): State<AppState>,
    parts: Parts,
    Form(f): Form<ConnectForm>,
) -> Response {
    let (user, session) = signed_in!(app, parts, form = f.csrf);
    let csrf = csrf_token(&session);
    let started =
        match crate::http::connections::start_attempt(&app, &user, &parts, &f.provider).await {
            Ok(s) => s,
            Err(e) => {
                return page(
                    "Connect",
                    &paragraph(&e.problem().detail),
                    Some((&user, &csrf)),
                );
            }
        };
    let nonce = crate::secrets::random_id();
    let origin = url::Url::parse(&started.url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let body = format!(
        "<p>Taking you to {}…</p><form id=\"usermap\" method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\"><noscript><button>Continue</button></noscript></form>\
         <script nonce=\"{nonce}\">document.getElementById('usermap').submit();</script>",
        escape(&f.provider),
        escape(&started.url),
        escape(&started.token)
    );
    page_with(
        "Connecting…",
        &body,
        Some((&user, &csrf)),
        &origin,
        Some(&nonce),
    )
}

#[derive(Deserialize)]
pub struct ConnectedQuery {
    connected: Option<String>,
}

pub async fn connections_page(
    State(app): State<AppState>,
    parts: Parts,
    Query(q): Query<ConnectedQuery>,
) -> Response {
    let (user, session) = signed_in!(app, parts);
    let csrf = csrf_token(&session);
    let connections = app.connections.list(&user).await.unwrap_or_default();
    let mut body = q
        .connected
        .map(|p| {
            format!(
                "<p id=\"connected\" class=\"state-ok\">Connected to {}.</p>",
                escape(&p)
            )
        })
        .unwrap_or_default();
    if connections.is_empty() {
        body.push_str(&paragraph(
            "You have no connections yet. Connect to a provider from the Providers page.",
        ));
    } else {
        body.push_str("<table><tr><th>Provider</th><th>State</th><th>Local account</th><th>What next</th><th></th></tr>");
        for c in &connections {
            let (class, next) = match c.state {
                ConnectionState::Ok => ("state-ok", "Ready to use.".to_owned()),
                ConnectionState::PendingAccountLinking
                | ConnectionState::PendingAdditionalValidation => {
                    let link = c
                        .comment_url
                        .as_deref()
                        .map(|u| {
                            format!(
                                " <a href=\"{}\" rel=\"noopener\">Follow this link</a>",
                                escape(u)
                            )
                        })
                        .unwrap_or_default();
                    (
                        "state-pending",
                        format!(
                            "{}{link}",
                            escape(
                                c.comment
                                    .as_deref()
                                    .unwrap_or("The provider needs more from you.")
                            )
                        ),
                    )
                }
                ConnectionState::Disconnected
                | ConnectionState::Expired
                | ConnectionState::Failed => (
                    "",
                    format!(
                        "<a href=\"/connections/new?provider={}\">Connect again</a>",
                        escape(&c.provider_id)
                    ),
                ),
                _ => (
                    "state-pending",
                    "Waiting for the provider; if this stays, connect again.".to_owned(),
                ),
            };
            let disconnect = if c.state == ConnectionState::Disconnected {
                String::new()
            } else {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"/connections/{}/disconnect\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button>Disconnect</button></form>",
                    escape(&c.provider_id)
                )
            };
            body.push_str(&format!(
                "<tr><td>{}</td><td class=\"{class}\" id=\"state-{}\">{}</td><td>{}</td><td>{next}</td><td>{disconnect}</td></tr>",
                escape(&c.provider_id),
                escape(&c.provider_id),
                state_str(c.state),
                escape(c.local_identity.as_deref().unwrap_or("-")),
            ));
        }
        body.push_str("</table>");
    }
    page("My connections", &body, Some((&user, &csrf)))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

pub async fn disconnect_submit(
    State(app): State<AppState>,
    parts: Parts,
    Path(provider): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let (user, session) = signed_in!(app, parts, form = f.csrf);
    let result = match app.registry.get_any(&provider).await {
        Ok(p) => app
            .connections
            .disconnect(&user, &p)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(()) => Redirect::to("/connections").into_response(),
        Err(message) => page(
            "My connections",
            &paragraph(&message),
            Some((&user, &csrf_token(&session))),
        ),
    }
}

pub async fn tokens_page(State(app): State<AppState>, parts: Parts) -> Response {
    let (user, session) = signed_in!(app, parts);
    tokens_view(&app, &user, &session, None).await
}

async fn tokens_view(
    app: &AppState,
    user: &crate::model::User,
    session: &str,
    created: Option<&str>,
) -> Response {
    let csrf = csrf_token(session);
    let mut body = created
        .map(|t| {
            format!(
                "<p>Your new token (shown only now): <code id=\"new-token\">{}</code></p>",
                escape(t)
            )
        })
        .unwrap_or_default();
    body.push_str("<table><tr><th>Name</th><th>Created</th><th></th></tr>");
    for t in app.accounts.api_tokens(user).await.unwrap_or_default() {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><form class=\"inline\" method=\"post\" action=\"/tokens/{}/delete\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button>Delete</button></form></td></tr>",
            escape(&t.name),
            crate::clock::rfc3339(t.created_at),
            escape(&t.id)
        ));
    }
    body.push_str(&format!(
        "</table><form method=\"post\" action=\"/tokens/new\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>Name <input name=\"name\" required maxlength=\"100\"></label> <button>Create token</button></form>"
    ));
    page("API tokens", &body, Some((user, &csrf)))
}

#[derive(Deserialize)]
pub struct NewTokenForm {
    csrf: String,
    name: String,
}

pub async fn token_create(
    State(app): State<AppState>,
    parts: Parts,
    Form(f): Form<NewTokenForm>,
) -> Response {
    let (user, session) = signed_in!(app, parts, form = f.csrf);
    match app.accounts.create_api_token(&user, &f.name).await {
        Ok((_, secret)) => tokens_view(&app, &user, &session, Some(secret.expose())).await,
        Err(e) => page(
            "API tokens",
            &paragraph(&e.to_string()),
            Some((&user, &csrf_token(&session))),
        ),
    }
}

pub async fn token_delete(
    State(app): State<AppState>,
    parts: Parts,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let (user, _session) = signed_in!(app, parts, form = f.csrf);
    let _ = app.accounts.delete_api_token(&user, &id).await;
    Redirect::to("/tokens").into_response()
}

pub async fn admin_providers(State(app): State<AppState>, parts: Parts) -> Response {
    let (user, session) = signed_in!(app, parts);
    let csrf = csrf_token(&session);
    if user.role != Role::Admin {
        return page(
            "Approvals",
            &paragraph("Only admins approve providers."),
            Some((&user, &csrf)),
        );
    }
    let pending: Vec<_> = app
        .registry
        .list_all()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.status == ProviderStatus::PendingApproval)
        .collect();
    let mut body = String::new();
    if pending.is_empty() {
        body.push_str(&paragraph("No provider is waiting for approval."));
    } else {
        body.push_str(
            "<table><tr><th>Provider</th><th>Address</th><th>Registered</th><th></th></tr>",
        );
        for p in &pending {
            let id = p.metadata.id.as_str();
            body.push_str(&format!(
                "<tr><td>{id}</td><td><code>{}</code></td><td>{}</td><td><form class=\"inline\" method=\"post\" action=\"/admin/providers/{id}/approve\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button id=\"approve-{id}\">Approve</button></form></td></tr>",
                escape(&p.metadata.namespace_url()),
                crate::clock::rfc3339(p.created_at)
            ));
        }
        body.push_str("</table>");
    }
    body.push_str(&super::approvals::pending_users_section(&app, &csrf).await);
    page("Providers awaiting approval", &body, Some((&user, &csrf)))
}

pub async fn admin_approve(
    State(app): State<AppState>,
    parts: Parts,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let (user, session) = signed_in!(app, parts, form = f.csrf);
    if user.role != Role::Admin {
        return page(
            "Approvals",
            &paragraph("Only admins approve providers."),
            Some((&user, &csrf_token(&session))),
        );
    }
    match app.registry.apply(&id, Action::Approve).await {
        Ok(_) => {
            let actor = crate::audit::Actor::user(&user);
            app.audit
                .record(&actor, "provider.approved", &id, serde_json::json!({}))
                .await;
            Redirect::to("/admin/providers").into_response()
        }
        Err(e) => page(
            "Approvals",
            &paragraph(&e.to_string()),
            Some((&user, &csrf_token(&session))),
        ),
    }
}
