//! `ANY /ucloud/{id}/{path}`: extract the user, the optional `UCloud-Project` and the peer address,
//! hand the request as received to the broker, stream the answer back. Every answer, the
//! provider's or a refusal, carries the request's `X-Request-Id`.

use super::errors::ApiError;
use super::extract::UserAuth;
use crate::app::AppState;
use crate::broker::{BrokerError, Brokered, Call, ProxyError, X_REQUEST_ID, request_id};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use provider_kit::protocol::Problem;
use std::net::SocketAddr;

pub async fn broker(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
    request: Request,
) -> Response {
    let id = request_id(request.headers());
    let mut response = match forward(&app, &user, &id, request).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    response.headers_mut().insert(X_REQUEST_ID, id);
    response
}

async fn forward(
    app: &AppState,
    user: &crate::model::User,
    request_id: &axum::http::HeaderValue,
    request: Request,
) -> Result<Response, ApiError> {
    let project = match request.headers().get("ucloud-project") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|p| !p.is_empty() && p.len() <= 128)
                .ok_or_else(|| ApiError::BadRequest("UCloud-Project: must be a project id".into()))?
                .to_owned(),
        ),
        None => None,
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let call = Call {
        user,
        project: project.as_deref(),
        peer,
        request_id,
        request,
    };
    match app.broker.handle(app, call).await {
        Ok(Brokered::Manifest(manifest)) => {
            Ok(axum::Json(manifest.as_ref().clone()).into_response())
        }
        Ok(Brokered::Upstream(response)) => Ok(response.map(Body::new)),
        Err(e) => Err(e.into()),
    }
}

impl From<BrokerError> for ApiError {
    fn from(e: BrokerError) -> Self {
        use BrokerError::*;
        let detail = e.to_string();
        let problem =
            |status, code: &str, title: &str| Problem::new(status, code, title, detail.clone());
        Self::Problem(Box::new(match e {
            InvalidPath(_) => problem(400, "invalidPath", "Invalid path"),
            NoSuchProvider(_) | NotFound(_) => problem(404, "notFound", "Not found"),
            ProviderInactive { .. } => problem(403, "providerInactive", "Provider not active"),
            ManifestUnavailable(p) => {
                problem(503, "manifestUnavailable", "Manifest unavailable").with("provider", p)
            }
            FeatureNotSupported { provider, feature } => {
                problem(400, "featureNotSupported", "Feature not supported")
                    .with("provider", provider)
                    .with("feature", feature)
            }
            ConnectionRequired {
                provider,
                connect_url,
            } => problem(403, "connectionRequired", "Connection required")
                .with("provider", provider)
                .with("connectUrl", connect_url),
            NotAMember(_) => problem(403, "notAProjectMember", "Not a project member"),
            Proxy(ProxyError::Unreachable { provider, cause }) => {
                tracing::warn!(%provider, %cause, "provider unreachable");
                problem(502, "providerUnreachable", "Provider unreachable")
                    .with("provider", provider)
            }
            Proxy(ProxyError::Timeout { provider, .. }) => {
                problem(504, "providerTimeout", "Provider timeout").with("provider", provider)
            }
            Proxy(ProxyError::BodyTooLarge { .. }) => {
                problem(413, "payloadTooLarge", "Payload too large")
            }
            Proxy(ProxyError::BadUri(cause)) | Internal(cause) => return Self::Internal(cause),
        }))
    }
}
