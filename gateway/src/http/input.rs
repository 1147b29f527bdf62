//! What a request's path, query and form may carry (SPEC §6): axum's extractors behind wrappers
//! whose rejections are problems, and the one text rule for inputs — no NUL anywhere (PostgreSQL
//! cannot store it), and no control character in a path parameter. Checked before any handler,
//! so before any SQL.

use super::errors::ApiError;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, RawPathParams, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// Refuses a path parameter that holds a control character (NUL included) or is not UTF-8 once
/// percent-decoded, for every route it layers. A catch-all `{*rest}` is left to its handler (the
/// broker's raw-path gate has its own rule and code).
pub async fn path_params_are_text(
    matched: Option<MatchedPath>,
    params: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    request: Request,
    next: Next,
) -> Response {
    let route = matched.as_ref().map_or("", MatchedPath::as_str);
    let catch_all: Vec<&str> = route
        .split('/')
        .filter_map(|s| s.strip_prefix("{*")?.strip_suffix('}'))
        .collect();
    let refused = match &params {
        Err(_) if catch_all.is_empty() => Some(ApiError::BadRequest(
            "path: a parameter is not UTF-8 once percent-decoded".into(),
        )),
        Err(_) => None,
        Ok(params) => params
            .iter()
            .filter(|(name, _)| !catch_all.contains(name))
            .find_map(|(name, value)| path_param(name, value).err()),
    };
    match refused {
        Some(e) => e.into_response(),
        None => next.run(request).await,
    }
}

/// The rule for one path parameter.
pub fn path_param(name: &str, value: &str) -> Result<(), ApiError> {
    if value.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "{name}: must not contain control characters"
        )));
    }
    Ok(())
}

/// The rule for any other text: no NUL.
pub fn no_nul(what: &str, value: &str) -> Result<(), ApiError> {
    if value.contains('\0') {
        return Err(ApiError::BadRequest(format!(
            "{what}: must not contain NUL characters"
        )));
    }
    Ok(())
}

/// Refuses a JSON text with a `\u0000` escape inside a string (JSON cannot carry a raw NUL).
pub fn no_nul_in_json(bytes: &[u8]) -> Result<(), ApiError> {
    let mut rest = bytes;
    while let Some(at) = rest.iter().position(|&b| b == b'\\') {
        let escape = rest.get(at + 1..).unwrap_or_default();
        if escape.starts_with(b"u0000") {
            return Err(ApiError::BadRequest(
                "body: must not contain NUL characters".into(),
            ));
        }
        // Skip the escaped character, so `\\u0000` (a backslash, then text) is not taken for one.
        rest = rest.get(at + 2..).unwrap_or_default();
    }
    Ok(())
}

fn no_nul_in_urlencoded(what: &str, text: &[u8]) -> Result<(), ApiError> {
    for (key, value) in url::form_urlencoded::parse(text) {
        no_nul(what, &key)?;
        no_nul(what, &value)?;
    }
    Ok(())
}

/// `axum::extract::Path` with problem rejections.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(value) = axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(ApiError::from)?;
        Ok(Self(value))
    }
}

/// `axum::extract::Query` with problem rejections, and no NUL in any name or value.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        no_nul_in_urlencoded("query", parts.uri.query().unwrap_or("").as_bytes())?;
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state)
                .await
                .map_err(ApiError::from)?;
        Ok(Self(value))
    }
}

/// An `application/x-www-form-urlencoded` body (bounded by the router's body limit) with problem
/// rejections, and no NUL in any name or value.
pub struct Form<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(ApiError::UnsupportedMediaType(
                "send the form as Content-Type: application/x-www-form-urlencoded",
            ));
        }
        let BodyBytes(bytes) = BodyBytes::from_request(req, state).await?;
        no_nul_in_urlencoded("form", &bytes)?;
        serde_urlencoded::from_bytes(&bytes)
            .map(Self)
            .map_err(|e| ApiError::BadRequest(format!("form: {e}")))
    }
}

/// The whole body (bounded by the router's body limit) with problem rejections.
pub struct BodyBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for BodyBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(ApiError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_escape_in_json_is_found_but_an_escaped_backslash_before_text_is_not() {
        assert!(no_nul_in_json(br#"{"a":"x\u0000y"}"#).is_err());
        assert!(no_nul_in_json(br#"{"a":"\\\u0000"}"#).is_err());
        assert!(no_nul_in_json(br#"{"a":"\\u0000"}"#).is_ok());
        assert!(no_nul_in_json(br#"{"a":"\n\u0001"}"#).is_ok());
    }

    #[test]
    fn path_parameters_refuse_every_control_character() {
        for bad in ["\0", "a\u{1}", "x\ny", "\u{7f}", "\u{85}"] {
            assert!(path_param("id", bad).is_err(), "{bad:?}");
        }
        assert!(path_param("username", "DanSebastianThrane#1234").is_ok());
    }
}
