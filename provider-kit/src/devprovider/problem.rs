//! The dev provider's errors as RFC 9457 problems (SPEC §6), so a user sees the same shape from the
//! provider as from the gateway.

use crate::protocol::Problem;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

/// An error a handler answers with.
#[derive(Debug)]
pub struct ApiProblem(Box<Problem>);

impl ApiProblem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        let title = status.canonical_reason().unwrap_or("Error");
        Self(Box::new(Problem::new(status.as_u16(), code, title, detail)))
    }

    /// Adds a member such as `balance` to the problem.
    pub fn with(self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        Self(Box::new(self.0.with(key, value)))
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "badRequest", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "notFound", detail)
    }

    /// An internal failure: logged with its cause, answered without it.
    pub fn internal(context: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{context}; see the provider's log"),
        )
    }
}

impl IntoResponse for ApiProblem {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.0).unwrap_or_default();
        (status, [(CONTENT_TYPE, Problem::CONTENT_TYPE)], body).into_response()
    }
}
