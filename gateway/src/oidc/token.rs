//! The back channel: trading the code (with the PKCE verifier and the client's credentials) at the
//! token endpoint, and reading userinfo with the access token. Neither token is ever logged.

use super::config::{IdentityProviderConfig, TokenAuth};
use super::discovery::{Discovered, IDP_BOUNDS, IdpFault, basic_auth, get};
use crate::outbound::{HttpClient, call::exchange};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Map, Value};

pub enum TokenFault {
    Idp(IdpFault),
    /// The token endpoint's `error` (RFC 6749 §5.2), e.g. `invalid_grant` for a replayed code.
    Refused(String),
}

#[derive(Deserialize)]
pub struct Tokens {
    pub id_token: String,
    pub access_token: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

pub async fn exchange_code(
    client: &HttpClient,
    idp: &IdentityProviderConfig,
    secret: &str,
    d: &Discovered,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Result<Tokens, TokenFault> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    if idp.token_auth == TokenAuth::ClientSecretPost {
        form.push(("client_id", &idp.client_id));
        form.push(("client_secret", secret));
    }
    let body = serde_urlencoded::to_string(&form)
        .map_err(|e| TokenFault::Idp(IdpFault::Invalid(e.to_string())))?;
    let mut builder = http::Request::post(d.token_endpoint.as_str())
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json")
        .header(
            http::header::USER_AGENT,
            concat!("ucloud-gateway/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(auth) = basic_auth(idp, secret) {
        builder = builder.header(http::header::AUTHORIZATION, auth);
    }
    let request = builder
        .body(
            http_body_util::Full::new(bytes::Bytes::from(body))
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .map_err(|e| TokenFault::Idp(IdpFault::Invalid(e.to_string())))?;
    let reply = exchange(client, request, IDP_BOUNDS)
        .await
        .map_err(|e| TokenFault::Idp(IdpFault::Unreachable(e)))?;
    if reply.status.is_client_error() {
        let code = serde_json::from_slice::<ErrorBody>(&reply.body)
            .map(|e| {
                e.error
                    .chars()
                    .filter(|c| c.is_ascii_graphic())
                    .take(64)
                    .collect()
            })
            .unwrap_or_else(|_| format!("HTTP {}", reply.status.as_u16()));
        return Err(TokenFault::Refused(code));
    }
    if !reply.status.is_success() {
        return Err(TokenFault::Idp(IdpFault::Status(reply.status.as_u16())));
    }
    serde_json::from_slice(&reply.body)
        .map_err(|_| TokenFault::Idp(IdpFault::Invalid("the token answer has no id_token".into())))
}

/// The userinfo claims (a JSON object; a signed userinfo answer is not read).
pub async fn userinfo(
    client: &HttpClient,
    url: &url::Url,
    access_token: &str,
) -> Result<Map<String, Value>, IdpFault> {
    let body = get(client, url, Some(access_token)).await?;
    serde_json::from_slice(&body)
        .map_err(|_| IdpFault::Invalid("userinfo is not a JSON object".into()))
}
