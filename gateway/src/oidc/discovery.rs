//! An IdP's endpoints, algorithms and keys: `{issuer}/.well-known/openid-configuration` and its
//! `jwks_uri`, fetched through the outbound policy, bounded, checked, and cached. The JWK Set is
//! fetched again when a token names a key we do not have (at most every `MIN_JWKS_REFETCH_SECS`).

use super::config::{IdentityProviderConfig, TokenAuth};
use super::id_token::acceptable;
use crate::outbound::is_loopback;
use crate::outbound::{Body, Bounds, CallError, HttpClient, call::exchange};
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

/// Every answer from an IdP is read whole within these bounds.
pub const IDP_BOUNDS: Bounds = Bounds {
    timeout: Duration::from_secs(10),
    max_body: 256 * 1024,
};
/// A discovery document is trusted this long before it is fetched again.
pub const DISCOVERY_TTL_SECS: i64 = 3600;
pub const MIN_JWKS_REFETCH_SECS: i64 = 10;

/// Why an IdP could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IdpFault {
    #[error("could not be reached ({0})")]
    Unreachable(CallError),
    #[error("answered {0}")]
    Status(u16),
    #[error("sent something unusable: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
struct Document {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// What the gateway uses of a discovery document, checked.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub authorization_endpoint: url::Url,
    pub token_endpoint: url::Url,
    pub userinfo_endpoint: Option<url::Url>,
    pub jwks_uri: url::Url,
    pub algorithms: Vec<Algorithm>,
    pub fetched_at: i64,
}

/// Keys of one IdP by `kid` (a key without `kid` is stored under "").
#[derive(Clone, Default)]
pub struct Keys {
    pub by_kid: HashMap<String, (DecodingKey, Option<Algorithm>)>,
    pub fetched_at: i64,
}

/// `GET url` within [`IDP_BOUNDS`]; the body of a 2xx answer.
pub async fn get(
    client: &HttpClient,
    url: &url::Url,
    bearer: Option<&str>,
) -> Result<bytes::Bytes, IdpFault> {
    let mut builder = http::Request::get(url.as_str())
        .header(http::header::ACCEPT, "application/json")
        .header(
            http::header::USER_AGENT,
            concat!("ucloud-gateway/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(token) = bearer {
        builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = builder
        .body(empty())
        .map_err(|e| IdpFault::Invalid(e.to_string()))?;
    let reply = exchange(client, request, IDP_BOUNDS)
        .await
        .map_err(IdpFault::Unreachable)?;
    if !reply.status.is_success() {
        return Err(IdpFault::Status(reply.status.as_u16()));
    }
    Ok(reply.body)
}

pub fn empty() -> Body {
    use http_body_util::BodyExt;
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Fetches and checks the discovery document of `idp`.
pub async fn discover(
    client: &HttpClient,
    idp: &IdentityProviderConfig,
    now: i64,
) -> Result<Discovered, IdpFault> {
    let issuer = idp.issuer.trim_end_matches('/');
    let url = url::Url::parse(&format!("{issuer}/.well-known/openid-configuration"))
        .map_err(|e| IdpFault::Invalid(e.to_string()))?;
    let body = get(client, &url, None).await?;
    let doc: Document = serde_json::from_slice(&body)
        .map_err(|e| IdpFault::Invalid(format!("discovery document: {e}")))?;
    if doc.issuer != idp.issuer {
        return Err(IdpFault::Invalid(format!(
            "the discovery document names the issuer {:?}, not {:?}",
            doc.issuer, idp.issuer
        )));
    }
    let issuer_url = url::Url::parse(&idp.issuer).map_err(|e| IdpFault::Invalid(e.to_string()))?;
    let endpoint = |name: &str, raw: &str| endpoint(&issuer_url, name, raw);
    let algorithms: Vec<Algorithm> = doc
        .id_token_signing_alg_values_supported
        .iter()
        .filter_map(|a| acceptable(a))
        .collect();
    if algorithms.is_empty() {
        return Err(IdpFault::Invalid(
            "it announces no ID-token signing algorithm the gateway accepts (RS256, ES256, …)"
                .into(),
        ));
    }
    // OpenID Connect Discovery: absent means client_secret_basic.
    let methods = doc
        .token_endpoint_auth_methods_supported
        .unwrap_or_else(|| vec!["client_secret_basic".into()]);
    if !methods.iter().any(|m| m == idp.token_auth.as_str()) {
        return Err(IdpFault::Invalid(format!(
            "it does not allow token_auth {} (it allows {})",
            idp.token_auth.as_str(),
            methods.join(", ")
        )));
    }
    Ok(Discovered {
        authorization_endpoint: endpoint("authorization_endpoint", &doc.authorization_endpoint)?,
        token_endpoint: endpoint("token_endpoint", &doc.token_endpoint)?,
        userinfo_endpoint: doc
            .userinfo_endpoint
            .as_deref()
            .map(|u| endpoint("userinfo_endpoint", u))
            .transpose()?,
        jwks_uri: endpoint("jwks_uri", &doc.jwks_uri)?,
        algorithms,
        fetched_at: now,
    })
}

/// An endpoint is https, or http when the issuer itself is http on loopback and so is the endpoint.
fn endpoint(issuer: &url::Url, name: &str, raw: &str) -> Result<url::Url, IdpFault> {
    let url = url::Url::parse(raw).map_err(|e| IdpFault::Invalid(format!("{name}: {e}")))?;
    let ok = match url.scheme() {
        "https" => url.host().is_some(),
        "http" => issuer.scheme() == "http" && is_loopback(issuer) && is_loopback(&url),
        _ => false,
    };
    if ok {
        Ok(url)
    } else {
        Err(IdpFault::Invalid(format!(
            "{name} {raw:?} must be an https URL"
        )))
    }
}

/// Fetches the JWK Set: RSA and EC keys meant for signatures; symmetric keys are skipped.
pub async fn fetch_keys(
    client: &HttpClient,
    jwks_uri: &url::Url,
    now: i64,
) -> Result<Keys, IdpFault> {
    let body = get(client, jwks_uri, None).await?;
    let set: JwkSet =
        serde_json::from_slice(&body).map_err(|e| IdpFault::Invalid(format!("JWK Set: {e}")))?;
    let mut by_kid = HashMap::new();
    for jwk in &set.keys {
        let usable = matches!(
            jwk.algorithm,
            AlgorithmParameters::RSA(_) | AlgorithmParameters::EllipticCurve(_)
        ) && !matches!(
            jwk.common.public_key_use,
            Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
        );
        if !usable {
            continue;
        }
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|a| acceptable(&a.to_string()));
        by_kid.insert(jwk.common.key_id.clone().unwrap_or_default(), (key, alg));
    }
    Ok(Keys {
        by_kid,
        fetched_at: now,
    })
}

/// Which token endpoint authentication is used: the configured one (discovery allowed it).
pub fn basic_auth(idp: &IdentityProviderConfig, secret: &str) -> Option<String> {
    use base64::Engine;
    (idp.token_auth == TokenAuth::ClientSecretBasic).then(|| {
        // RFC 6749 §2.3.1: both parts form-urlencoded before base64.
        let enc =
            |s: &str| serde_urlencoded::to_string([("", s)]).unwrap_or_default()[1..].to_owned();
        let pair = format!("{}:{}", enc(&idp.client_id), enc(secret));
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    })
}
