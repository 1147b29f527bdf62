//! The public listener's service: what every request gets, done once and in one place — its id
//! (the caller's `X-Request-Id` when valid, else a fresh one: `broker::request_id`, echoed on every
//! answer and sent upstream), the Origin rule for cookie-authenticated requests (`origin`), the
//! security headers (`security_headers`), one access-log line and one count (`access_log`) —
//! around the broker for `/ucloud/{id}/{*path}` and the router for everything else.
//!
//! The broker's route does not go through the router: matching, the extractor machinery and one
//! boxed layer per concern cost more than the broker's own work (docs/benchmarks/), and its
//! checks are few and fixed — the provider id is a text path parameter, the caller is a signed-in
//! user (`UserAuth`'s rule; the broker's gate checks agreements itself).

use super::access_log::{self, Principal, RequestNotes};
use super::errors::ApiError;
use super::{broker, input, origin, security_headers};
use crate::app::AppState;
use crate::broker::{X_REQUEST_ID, request_id};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use std::borrow::Cow;
use std::time::Instant;
use tower_service::Service;

/// The broker's route, as the access log and the metrics name it.
pub const BROKER_ROUTE: &str = "/ucloud/{id}/{*path}";

/// The public listener's service (cheap to clone: the app and the router are shared).
#[derive(Clone)]
pub struct Front {
    app: AppState,
    router: Router,
}

impl Front {
    pub fn new(app: AppState) -> Self {
        Self {
            router: super::router(app.clone()),
            app,
        }
    }

    pub async fn call(&self, mut request: Request<Incoming>) -> Response {
        let start = Instant::now();
        let id = request_id(request.headers());
        // Inner layers (the broker) read the id from the request and so agree with the log line.
        request.headers_mut().insert(X_REQUEST_ID, id.clone());
        let method = request.method().clone();
        let brokered = is_brokered(request.uri().path());
        let (mut response, route, principal): (Response, Option<Cow<'static, str>>, _) =
            if origin::refuses(&request, &self.app.issuer) {
                let refused = ApiError::CrossOriginRequest.into_response();
                (refused, None, None)
            } else if brokered {
                let (response, user) = self.broker(request, &id).await;
                let principal = user.map(Principal::User);
                (response, Some(BROKER_ROUTE.into()), principal)
            } else {
                let notes = RequestNotes::default();
                request.extensions_mut().insert(notes.clone());
                let mut router = self.router.clone();
                let response = match router.call(request.map(Body::new)).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                let (route, principal) = notes.take();
                (response, route.map(Into::into), principal)
            };
        let headers = response.headers_mut();
        headers.insert(X_REQUEST_ID, id.clone());
        security_headers::add(headers, self.app.is_https(), brokered);
        let route: &str = route.as_deref().unwrap_or(access_log::UNMATCHED);
        let latency = start.elapsed();
        let status = response.status().as_u16();
        self.app.http_metrics.observe(route, status, latency);
        access_log::write(&access_log::Line {
            method: &method,
            route,
            status,
            latency,
            request_id: &id,
            principal: principal.as_ref(),
        });
        response
    }

    /// The broker's route: the provider id is text (as `input::path_params_are_text` requires of
    /// every routed parameter), the caller signed in; then `http::broker`. Returns the username
    /// for the log line.
    async fn broker(
        &self,
        request: Request<Incoming>,
        id: &HeaderValue,
    ) -> (Response, Option<String>) {
        let (parts, body) = request.into_parts();
        let checked = provider_id_is_text(parts.uri.path());
        let user = match checked {
            Ok(()) => super::extract::user(&parts, &self.app).await,
            Err(e) => Err(e),
        };
        match user {
            Ok(user) => {
                let response =
                    broker::forward(&self.app, &user, id, Request::from_parts(parts, body)).await;
                (response, Some(user.username))
            }
            Err(e) => (e.into_response(), None),
        }
    }
}

/// Whether the router would send `path` to the broker: `/ucloud/{id}/{*path}` with neither part
/// empty. Anything else under `/ucloud/` goes to the router, which answers 404.
fn is_brokered(path: &str) -> bool {
    path.strip_prefix("/ucloud/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(id, rest)| !id.is_empty() && !rest.is_empty())
}

/// `input::path_params_are_text` for the broker's one routed parameter, `{id}`.
fn provider_id_is_text(path: &str) -> Result<(), ApiError> {
    let id = path
        .strip_prefix("/ucloud/")
        .and_then(|rest| rest.split_once('/'))
        .map_or("", |(id, _)| id);
    let decoded = percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .map_err(|_| {
            ApiError::BadRequest("path: a parameter is not UTF-8 once percent-decoded".into())
        })?;
    input::path_param("id", &decoded)
}

#[cfg(test)]
mod tests {
    use super::is_brokered;

    #[test]
    fn only_the_broker_routes_shape_skips_the_router() {
        for brokered in [
            "/ucloud/hpc/storage/x",
            "/ucloud/hpc/manifest",
            "/ucloud/a/b/",
        ] {
            assert!(is_brokered(brokered), "{brokered}");
        }
        for routed in [
            "/ucloud/hpc",
            "/ucloud/hpc/",
            "/ucloud//x",
            "/ucloud/",
            "/ucloudx/hpc/x",
            "/api/ucloud/hpc/x",
        ] {
            assert!(!is_brokered(routed), "{routed}");
        }
    }
}
