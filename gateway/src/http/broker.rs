//! `ANY /ucloud/{id}/{path}` once `front` has authenticated the user: read the optional
//! `UCloud-Project`, hand the request as received to the broker, stream the
//! answer back. Every answer, the provider's or a refusal, carries the request's `X-Request-Id`
//! (added by `front`).

use super::errors::ApiError;
use crate::app::App;
use crate::broker::{Brokered, Call};
use crate::model::User;
use axum::body::Body;
use axum::http::{HeaderValue, Request};
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;

pub async fn forward<B>(
    app: &App,
    user: &User,
    request_id: &HeaderValue,
    peer: IpAddr,
    request: Request<B>,
) -> Response
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<crate::outbound::BoxError>,
{
    let project = match project(&request) {
        Ok(project) => project,
        Err(e) => return e.into_response(),
    };
    let call = Call {
        user,
        project: project.as_deref(),
        peer: Some(peer),
        request_id,
        request,
    };
    match app.broker.handle(call).await {
        Ok(Brokered::Manifest(manifest)) => axum::Json(manifest.as_ref().clone()).into_response(),
        Ok(Brokered::Upstream(response)) => response.map(Body::new),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `UCloud-Project`, when sent: a project id (checked against membership by the gate).
fn project<B>(request: &Request<B>) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get("ucloud-project") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|p| !p.is_empty() && p.len() <= 128)
        .map(|p| Some(p.to_owned()))
        .ok_or_else(|| ApiError::BadRequest("UCloud-Project: must be a project id".into()))
}
