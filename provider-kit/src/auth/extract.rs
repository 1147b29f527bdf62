//! The HTTP edge of verification: an axum extractor that turns `Authorization: Bearer <jwt>` into
//! verified `ServiceClaims`, so a handler that takes a `ServiceRequest` cannot run for a caller the
//! gateway did not vouch for. Refusals are RFC 9457 problems that name the reason, never the token.
//! A request that passed the router's service-token layer carries its `ServiceRequest` in its
//! extensions, so the extractor does not verify it twice.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::VerifyError;
use super::verifier::Verifier;
use crate::protocol::{Principal, Problem, ServiceClaims};

/// A request the gateway made, with the claims of its verified service token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequest {
    claims: ServiceClaims,
}

impl ServiceRequest {
    pub fn claims(&self) -> &ServiceClaims {
        &self.claims
    }

    pub fn into_claims(self) -> ServiceClaims {
        self.claims
    }

    /// The user the gateway is acting for; `None` for the gateway's own calls.
    pub fn principal(&self) -> Option<&Principal> {
        self.claims.principal.as_ref()
    }

    /// The project the user chose with `UCloud-Project`, already checked by the gateway.
    pub fn project(&self) -> Option<&str> {
        self.claims.project.as_deref()
    }
}

/// Why the extractor refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthRejection {
    #[error("the request has no Authorization: Bearer token")]
    MissingBearer,
    #[error(transparent)]
    Invalid(#[from] VerifyError),
}

impl AuthRejection {
    /// A gateway key set we cannot fetch is our outage, not the caller's bad token: answer 503 so
    /// the gateway reports an unavailable provider instead of an authentication failure.
    fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(VerifyError::JwksUnavailable) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let status = self.status();
        let problem = if status == StatusCode::UNAUTHORIZED {
            Problem::new(
                status.as_u16(),
                "invalidToken",
                "Invalid token",
                self.to_string(),
            )
        } else {
            Problem::new(
                status.as_u16(),
                "jwksUnavailable",
                "Cannot verify tokens",
                self.to_string(),
            )
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(Problem::CONTENT_TYPE),
        );
        // RFC 6750 §3: a request without credentials gets the bare challenge, a bad token an error.
        match self {
            Self::MissingBearer => {
                headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Invalid(_) if status == StatusCode::UNAUTHORIZED => {
                let challenge = HeaderValue::from_static(r#"Bearer error="invalid_token""#);
                headers.insert(WWW_AUTHENTICATE, challenge);
            }
            Self::Invalid(_) => {}
        }
        response
    }
}

fn bearer(parts: &Parts) -> Result<&str, AuthRejection> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Err(AuthRejection::MissingBearer),
        (Some(value), None) => value,
        (Some(_), Some(_)) => {
            return Err(VerifyError::Malformed("more than one Authorization header").into());
        }
    };
    let value = value
        .to_str()
        .map_err(|_| VerifyError::Malformed("Authorization header is not visible ASCII"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("Bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(AuthRejection::MissingBearer),
    }
}

impl<S> FromRequestParts<S> for ServiceRequest
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    #[tracing::instrument(skip_all)]
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Already verified by the router's service-token layer: extensions never come off the wire.
        if let Some(verified) = parts.extensions.get::<Self>() {
            return Ok(verified.clone());
        }
        let verifier = Verifier::from_ref(state);
        let token = bearer(parts)?;
        match verifier.verify_service(token).await {
            Ok(claims) => Ok(Self { claims }),
            Err(reason) => {
                tracing::debug!(%reason, "refused a service token");
                Err(reason.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(values: &[&str]) -> Parts {
        let mut builder = axum::http::Request::builder();
        for value in values {
            builder = builder.header(AUTHORIZATION, *value);
        }
        builder.body(()).expect("a request").into_parts().0
    }

    #[test]
    fn the_bearer_token_is_read_from_one_authorization_header() {
        assert_eq!(bearer(&parts(&["Bearer a.b.c"])), Ok("a.b.c"));
        assert_eq!(bearer(&parts(&["BEARER  a.b.c "])), Ok("a.b.c"));
        assert_eq!(bearer(&parts(&[])), Err(AuthRejection::MissingBearer));
        assert_eq!(
            bearer(&parts(&["Bearer"])),
            Err(AuthRejection::MissingBearer)
        );
        assert_eq!(
            bearer(&parts(&["Token a.b.c"])),
            Err(AuthRejection::MissingBearer)
        );
    }

    #[test]
    fn two_authorization_headers_are_ambiguous_and_refused() {
        let two = parts(&["Bearer a.b.c", "Bearer d.e.f"]);
        let refused = bearer(&two);
        let expected = VerifyError::Malformed("more than one Authorization header");
        assert_eq!(refused, Err(AuthRejection::Invalid(expected)));
    }
}
