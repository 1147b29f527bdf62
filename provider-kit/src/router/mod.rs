//! The provider's side of the federation in one `Router`: `ProviderRouter` serves
//! `/ucloud/<id>/manifest` (SPEC §1) and the provider's own feature routes (`compute/…`,
//! `storage/…`, SPEC §3) behind a layer that verifies the gateway's service token, so no feature
//! handler can run for a caller the gateway did not vouch for. `/ucloud/<id>/usermap` is a separate
//! seam (SPEC §4): its token arrives in a form field, not as a bearer.
//!
//! ```no_run
//! # use provider_kit::{auth::{ServiceRequest, Verifier}, router::{ManifestSource, ProviderRouter}};
//! # fn app(verifier: Verifier, manifest: provider_kit::protocol::Manifest) -> axum::Router {
//! let features = axum::Router::new().route("/storage/whoami", axum::routing::get(
//!     |request: ServiceRequest| async move { format!("{:?}", request.principal()) }));
//! ProviderRouter::new(verifier, ManifestSource::value(manifest)).build(features)
//! # }
//! ```

mod manifest;

use axum::Router;
use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::{ServiceRequest, Verifier};

pub use manifest::{ManifestLoadError, ManifestSource};

/// Builds the `Router` of one provider; every path it serves starts with `/ucloud/<id>`, the id being
/// the verifier's `aud`.
pub struct ProviderRouter {
    verifier: Verifier,
    manifest: ManifestSource,
    usermap: Option<Router>,
}

impl ProviderRouter {
    pub fn new(verifier: Verifier, manifest: ManifestSource) -> Self {
        Self {
            verifier,
            manifest,
            usermap: None,
        }
    }

    /// Routes served at `/ucloud/<id>/usermap/…` as they are, without the service-token layer:
    /// the usermap redirect (SPEC §4 step 2) carries a `ucloud-usermap+jwt` in a form field, which
    /// these routes check with `Verifier::verify_usermap`. The gateway never brokers this path.
    pub fn usermap(mut self, routes: Router) -> Self {
        self.usermap = Some(routes);
        self
    }

    /// The provider's router, for feature handlers whose only state is the `Verifier` (what the
    /// `ServiceRequest` extractor needs). Paths in `features` are relative: `/storage/files`.
    pub fn build(self, features: Router<Verifier>) -> Router {
        let verifier = self.verifier.clone();
        self.build_with_state(features, verifier)
    }

    /// The provider's router, for feature handlers with their own state `S` (which must hold the
    /// `Verifier`, via `FromRef`, for the `ServiceRequest` extractor).
    pub fn build_with_state<S>(self, features: Router<S>, state: S) -> Router
    where
        S: Clone + Send + Sync + 'static,
        Verifier: FromRef<S>,
    {
        let features = features
            .route_layer(from_fn_with_state(self.verifier.clone(), require_service))
            .with_state(state);
        let mut namespace = Router::new()
            .route("/manifest", get(manifest::serve))
            .with_state(self.manifest)
            .merge(features);
        if let Some(usermap) = self.usermap {
            namespace = namespace.nest("/usermap", usermap);
        }
        Router::new()
            .nest(
                &format!("/ucloud/{}", self.verifier.provider_id()),
                namespace,
            )
            .layer(axum::middleware::from_fn(crate::metrics::count_requests))
    }
}

/// Verifies the bearer token once and hands the result to the handler through the request's
/// extensions; a refused token never reaches the handler.
async fn require_service(
    State(verifier): State<Verifier>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    match ServiceRequest::from_request_parts(&mut parts, &verifier).await {
        Ok(verified) => {
            parts.extensions.insert(verified);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(rejection) => rejection.into_response(),
    }
}
