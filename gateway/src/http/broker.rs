//! `ANY /ucloud/{id}/{path}`: extract the user and the optional `UCloud-Project`, hand the request
//! to the broker, stream the answer back.

use super::errors::ApiError;
use super::extract::UserAuth;
use crate::app::AppState;
use crate::broker::{BrokerError, Brokered, Call, ProxyError};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use provider_kit::protocol::Problem;

pub async fn broker(
    State(app): State<AppState>,
    UserAuth(user): UserAuth,
    Path((provider, path)): Path<(String, String)>,
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
    let query = request.uri().query().map(str::to_owned);
    let call = Call {
        user: &user,
        provider: &provider,
        path: &path,
        query: query.as_deref(),
        project: project.as_deref(),
        request,
    };
    match app.broker.handle(&app, call).await {
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
