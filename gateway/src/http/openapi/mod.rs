//! The OpenAPI 3.1 document of the gateway's JSON API, derived with utoipa from the handlers'
//! `#[utoipa::path]` annotations and their request types, served at `GET /openapi.json`, and the
//! reference page `GET /api/docs` rendered from the same document (no scripts, nothing from the
//! internet).
//!
//! Annotating a new route: put `#[utoipa::path(...)]` on its handler (method, path, tag,
//! security, params, request body, success responses) and name the handler in `paths(...)` below.
//! Problem answers are added to every operation from `ProblemCode`, so a handler declares only its
//! successes. The test `every_api_route_of_the_router_is_in_the_openapi_document` finds a route
//! that is missing.

mod page;
use super::schemas;

use crate::app::AppState;
use crate::http::web::{Chrome, Csp, respond};
use crate::problem::ProblemCode;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Federated provider gateway",
        description = "The gateway's JSON API. Every error is an RFC 9457 problem \
            (`application/problem+json`) whose `code` is one of the problem codes listed with each \
            status. Brokered calls (`/ucloud/{provider}/**`, streamed to the provider under its own \
            contract), the provider token endpoints, the JWK Set and the HTML pages are not part \
            of this document.",
    ),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::session::login,
        super::session::logout,
        super::me::me,
        super::api_tokens::list,
        super::api_tokens::create,
        super::api_tokens::delete,
        super::providers::list,
        super::providers::register,
        super::providers::get,
        super::providers::immutable,
        super::providers::reload_manifest,
        super::admin::create_user,
        super::admin::approve,
        super::admin::suspend,
        super::admin::resume,
        super::admin::rotate_refresh_token,
        super::admin::revoke_refresh_token,
        super::admin::rotate_key,
        super::admin::revoke_key,
        super::accounting::charge,
        super::accounting::wallets,
        super::accounting::charges,
        super::accounting::grant,
        super::projects::list,
        super::projects::create,
        super::projects::get,
        super::projects::set_member,
        super::projects::remove_member,
        super::lifecycle::status,
        super::lifecycle::suspend,
        super::lifecycle::approve,
        super::lifecycle::resume,
        super::lifecycle::disable,
        super::lifecycle::set_expiry,
        super::audit::list,
        super::connections::list,
        super::connections::start,
        super::connections::delete,
        super::connections::report,
        super::connections::provider_disconnect,
        super::agreements::mine,
        super::agreements::accept_api,
        super::agreements::all,
        super::agreements::access,
        super::identities::list,
        super::identities::link,
        super::identities::unlink,
        super::identities::merge,
        super::admin::reject,
    ),
    components(schemas(schemas::Problem))
)]
struct ApiDoc;

/// The document: the derived paths, the three ways to authenticate, and every operation's problem
/// answers.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, scheme) in security_schemes() {
        components
            .security_schemes
            .insert(name.to_owned(), RefOr::T(scheme));
    }
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in problem_responses() {
                operation
                    .responses
                    .responses
                    .entry(status)
                    .or_insert(response);
            }
        }
    }
    doc
}

fn security_schemes() -> [(&'static str, SecurityScheme); 3] {
    [
        (
            "apiToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A personal API token (`POST /api/tokens`): `Authorization: Bearer <token>`.",
                    ))
                    .build(),
            ),
        ),
        (
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::extract::SESSION_COOKIE,
                "The session cookie set by `POST /auth/login` (named `__Host-gw_session` under \
                 https). Unsafe methods also need a same-origin request (`crossOriginRequest`).",
            ))),
        ),
        (
            "providerToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A provider's access token (`POST /auth/providers/refresh`).",
                    ))
                    .build(),
            ),
        ),
    ]
}

/// One `application/problem+json` answer per error status of `ProblemCode`, naming its codes.
fn problem_responses() -> Vec<(String, RefOr<utoipa::openapi::Response>)> {
    let mut by_status: BTreeMap<u16, Vec<&'static str>> = BTreeMap::new();
    for code in ProblemCode::ALL {
        let (status, name, _) = code.parts();
        by_status.entry(status).or_default().push(name);
    }
    by_status
        .into_iter()
        .filter(|(status, _)| *status != 405)
        .map(|(status, codes)| {
            let list = codes
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let response = ResponseBuilder::new()
                .description(format!("Problem: {list}"))
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| document().to_pretty_json().unwrap_or_default())
}

/// `GET /openapi.json`.
pub async fn openapi_json() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        json(),
    )
        .into_response()
}

/// `GET /api/docs`: the same document as a page, in the pages' layout.
pub async fn reference_page(State(app): State<AppState>) -> Response {
    let page = page::view(&document(), Chrome::new(&app, None));
    respond(StatusCode::OK, &page, Csp::default())
}
