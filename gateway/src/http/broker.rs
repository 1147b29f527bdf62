//! `ANY /ucloud/{id}/{path}`: extract the user, the optional `UCloud-Project` and the peer address,
//! hand the request as received to the broker, stream the answer back. Every answer, the
//! provider's or a refusal, carries the request's `X-Request-Id`.

use super::errors::ApiError;
use super::extract::UserAuth;
use crate::app::AppState;
use crate::broker::{Brokered, Call, X_REQUEST_ID, request_id};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
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
    match app.broker.handle(call).await {
        Ok(Brokered::Manifest(manifest)) => {
            Ok(axum::Json(manifest.as_ref().clone()).into_response())
        }
        Ok(Brokered::Upstream(response)) => Ok(response.map(Body::new)),
        Err(e) => Err(e.into()),
    }
}
