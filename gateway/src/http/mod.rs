//! The HTTP layer: the only module that knows axum. Handlers extract, call one domain function, and
//! map the result.

pub mod access_log;
mod accounting;
mod admin;
pub mod agreement_gate;
pub mod agreements;
mod api_tokens;
mod audit;
mod broker;
pub mod client_addr;
mod connect;
pub mod connections;
pub mod errors;
pub mod extract;
pub mod front;
mod health;
mod identities;
pub mod input;
mod lifecycle;
pub mod listener;
mod me;
pub mod metrics;
pub mod openapi;
pub mod origin;
mod projects;
mod provider_tokens;
mod providers;
mod query;
pub mod refusal;
pub mod schemas;
mod security_headers;
mod session;
pub mod tls;
pub mod web;

use crate::app::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use errors::ApiError;

/// Largest JSON body the API accepts. Brokered bodies have their own limit.
const API_BODY_LIMIT: usize = 64 * 1024;

/// Every route but the broker's (`/ucloud/{id}/{*path}`, whose bodies stream to the provider under
/// the broker's own limit): `front` takes that one to the broker directly, and gives every request
/// its id, the Origin rule, the security headers and its access-log line.
pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/api/docs", get(openapi::reference_page))
        .route("/.well-known/jwks.json", get(provider_tokens::jwks))
        .route("/auth/login", post(session::login))
        .route("/auth/logout", post(session::logout))
        .route(
            "/auth/providers/refresh",
            post(provider_tokens::ucloud_refresh),
        )
        .route("/oauth/token", post(provider_tokens::oauth_token))
        .route("/api/me", get(me::me))
        .route(
            "/api/me/agreements",
            get(agreements::mine).post(agreements::accept_api),
        )
        .route("/api/admin/agreements", get(agreements::all))
        .route("/api/providers/{id}/access", get(agreements::access))
        .route(
            "/api/me/identities",
            get(identities::list).post(identities::link),
        )
        .route("/api/me/identities/{id}", delete(identities::unlink))
        .route("/api/admin/users/merge", post(identities::merge))
        .route(
            "/api/tokens",
            get(api_tokens::list).post(api_tokens::create),
        )
        .route("/api/tokens/{id}", delete(api_tokens::delete))
        .route(
            "/api/providers",
            get(providers::list).post(providers::register),
        )
        .route(
            "/api/providers/{id}",
            get(providers::get)
                .put(providers::immutable)
                .patch(providers::immutable)
                .delete(providers::immutable),
        )
        .route(
            "/api/providers/{id}/manifest/reload",
            post(providers::reload_manifest),
        )
        .route("/api/admin/users", post(admin::create_user))
        .route("/api/admin/providers/{id}/approve", post(admin::approve))
        .route("/api/admin/providers/{id}/suspend", post(admin::suspend))
        .route("/api/admin/providers/{id}/resume", post(admin::resume))
        .route("/api/admin/providers/{id}/reject", post(admin::reject))
        .route(
            "/api/admin/providers/{id}/refresh-token",
            post(admin::rotate_refresh_token).delete(admin::revoke_refresh_token),
        )
        .route("/api/admin/keys/rotate", post(admin::rotate_key))
        .route("/api/admin/keys/{kid}/revoke", post(admin::revoke_key))
        .route("/api/accounting/charge", post(accounting::charge))
        .route("/api/wallets", get(accounting::wallets))
        .route("/api/wallets/charges", get(accounting::charges))
        .route("/api/admin/wallets/grant", post(accounting::grant))
        .route("/api/projects", get(projects::list).post(projects::create))
        .route("/api/projects/{id}", get(projects::get))
        .route("/api/projects/{id}/members", post(projects::set_member))
        .route(
            "/api/projects/{id}/members/{username}",
            delete(projects::remove_member),
        )
        .route("/api/admin/users/{username}", get(lifecycle::status))
        .route(
            "/api/admin/users/{username}/suspend",
            post(lifecycle::suspend),
        )
        .route(
            "/api/admin/users/{username}/approve",
            post(lifecycle::approve),
        )
        .route(
            "/api/admin/users/{username}/resume",
            post(lifecycle::resume),
        )
        .route(
            "/api/admin/users/{username}/disable",
            post(lifecycle::disable),
        )
        .route(
            "/api/admin/users/{username}/expiry",
            post(lifecycle::set_expiry),
        )
        .route("/api/admin/audit", get(audit::list))
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/providers") }),
        )
        .route("/login", get(web::login_form).post(web::login_submit))
        .route("/auth/oidc/{idp}/start", get(web::oidc_start))
        .route("/auth/oidc/{idp}/callback", get(web::oidc_callback))
        .route("/logout", post(web::logout_submit))
        .route("/providers", get(web::providers_page))
        .route("/providers/{id}/access", get(web::access_page))
        .route(
            "/agreements",
            get(web::agreements_page).post(web::agreements_accept),
        )
        .route("/account", get(web::account_page).post(web::account_submit))
        .route("/connections", get(web::connections_page))
        .route(
            "/connections/new",
            get(web::connect_confirm).post(web::connect_start),
        )
        .route("/connections/{id}/complete", get(web::connection_complete))
        .route("/connections/{id}/disconnect", post(web::disconnect_submit))
        .route("/tokens", get(web::tokens_page))
        .route("/account/identities", get(web::identities_page))
        .route("/account/identities/link", post(web::identity_link))
        .route(
            "/account/identities/{id}/unlink",
            get(web::identity_unlink_confirm).post(web::identity_unlink),
        )
        .route("/wallets", get(web::wallets_page))
        .route("/tokens/new", post(web::token_create))
        .route(
            "/tokens/{id}/delete",
            get(web::token_delete_confirm).post(web::token_delete),
        )
        .route("/admin/providers", get(web::admin_providers))
        .route("/admin/providers/{id}/approve", post(web::admin_approve))
        .route("/admin/providers/{id}/reject", post(web::admin_reject))
        .route("/assets/{file}", get(web::asset))
        .route(
            "/admin/users/{username}/approve",
            post(web::admin_approve_user),
        )
        .route(
            "/api/connections",
            get(connections::list).post(connections::start),
        )
        .route("/api/connections/{id}", delete(connections::delete))
        .route("/api/providers/usermap/{id}", post(connections::report))
        .route(
            "/api/providers/usermap/{id}/{username}",
            delete(connections::provider_disconnect),
        )
        // Every route above: path parameters are text before any handler (or SQL) sees them.
        .route_layer(axum::middleware::from_fn(input::path_params_are_text))
        .route_layer(axum::middleware::from_fn(access_log::note_route))
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
        .with_state(app)
}
