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
use super::listener::Handler;
use super::{broker, input, origin, security_headers};
use crate::app::AppState;
use crate::broker::{X_REQUEST_ID, request_id};
use axum::Router;
use axum::http::{HeaderValue, Request};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Instant;

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

    pub async fn call(&self, mut request: Request<Incoming>, peer: SocketAddr) -> Response {
        let start = Instant::now();
        let id = request_id(request.headers());
        // Inner layers (the broker) read the id from the request and so agree with the log line.
        request.headers_mut().insert(X_REQUEST_ID, id.clone());
        let method = request.method().clone();
        // The broker's route, and whether its provider id is text: read once, before routing.
        let brokered = brokered_id(request.uri().path()).map(provider_id_is_text);
        let is_brokered = brokered.is_some();
        let (mut response, route, principal): (Response, Option<Cow<'static, str>>, _) =
            match brokered {
                _ if origin::refuses(&request, &self.app.issuer) => {
                    (ApiError::CrossOriginRequest.into_response(), None, None)
                }
                Some(id_is_text) => {
                    let (response, user) = self.broker(request, peer, &id, id_is_text).await;
                    let principal = user.map(Principal::User);
                    (response, Some(BROKER_ROUTE.into()), principal)
                }
                None => {
                    let notes = RequestNotes::default();
                    request.extensions_mut().insert(notes.clone());
                    let response = self.router.handle(request, peer).await;
                    let (route, principal) = notes.take();
                    (response, route.map(Into::into), principal)
                }
            };
        let headers = response.headers_mut();
        headers.insert(X_REQUEST_ID, id.clone());
        security_headers::add(headers, self.app.is_https(), is_brokered);
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

    /// The broker's route: the provider id is text (`id_is_text`, as `input::path_params_are_text`
    /// requires of every routed parameter), the caller signed in; then `http::broker`. Returns the
    /// username for the log line.
    async fn broker(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
        id: &HeaderValue,
        id_is_text: Result<(), ApiError>,
    ) -> (Response, Option<String>) {
        let (parts, body) = request.into_parts();
        let user = match id_is_text {
            Ok(()) => super::extract::user(&parts, &self.app).await,
            Err(e) => Err(e),
        };
        match user {
            Ok(user) => {
                let response = broker::forward(
                    &self.app,
                    &user,
                    id,
                    peer.ip(),
                    Request::from_parts(parts, body),
                )
                .await;
                (response, Some(user.username.clone()))
            }
            Err(e) => (e.into_response(), None),
        }
    }
}

/// The public listener's service.
impl Handler for Front {
    fn handle(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> impl Future<Output = Response> + Send {
        self.call(request, peer)
    }
}

/// The provider id of a path the router would give the broker's route `/ucloud/{id}/{*path}`: the
/// rest not empty, the id possibly empty (the raw-path gate refuses that one as `invalidPath`).
/// Anything else under `/ucloud/` goes to the router, which answers 404.
fn brokered_id(path: &str) -> Option<&str> {
    path.strip_prefix("/ucloud/")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(id, rest)| (!rest.is_empty()).then_some(id))
}

/// `input::path_params_are_text` for the broker's one routed parameter, `{id}`.
fn provider_id_is_text(id: &str) -> Result<(), ApiError> {
    let decoded = percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .map_err(|_| {
            ApiError::BadRequest("path: a parameter is not UTF-8 once percent-decoded".into())
        })?;
    input::path_param("id", &decoded)
}

#[cfg(test)]
mod tests {
    use super::brokered_id;

    #[test]
    fn only_the_broker_routes_shape_skips_the_router() {
        for (brokered, id) in [
            ("/ucloud/hpc/storage/x", "hpc"),
            ("/ucloud/hpc/manifest", "hpc"),
            ("/ucloud/a/b/", "a"),
            ("/ucloud//x", ""),
        ] {
            assert_eq!(brokered_id(brokered), Some(id), "{brokered}");
        }
        for routed in [
            "/ucloud/hpc",
            "/ucloud/hpc/",
            "/ucloud/",
            "/ucloudx/hpc/x",
            "/api/ucloud/hpc/x",
        ] {
            assert_eq!(brokered_id(routed), None, "{routed}");
        }
    }
}
