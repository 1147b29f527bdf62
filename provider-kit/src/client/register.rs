//! Registration (SPEC §1), the one call a provider makes with a *user's* credentials: a signed-in
//! user's personal API token registers the metadata, and the answer holds the provider's refresh
//! token, shown this once. `provider-kit register` calls this and saves the result as `Credentials`.

use serde::Deserialize;

use super::config::{ClientConfig, Credentials};
use super::error::{ClientError, clip};
use super::secret::Secret;
use super::transport::read_bounded;
use super::{ClientConfigError, checked_base, http_client};
use crate::protocol::ProviderMetadata;

/// The gateway's `201` answer to a registration.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    pub id: String,
    /// `active` for a test provider, `pendingApproval` for a production one.
    pub status: String,
    pub refresh_token: Secret,
    pub issuer: String,
    pub jwks_url: String,
}

impl Registration {
    /// What the provider keeps: this answer plus the gateway it came from.
    pub fn credentials(&self, gateway_url: &str) -> Credentials {
        Credentials {
            gateway_url: gateway_url.trim_end_matches('/').to_owned(),
            provider_id: self.id.clone(),
            refresh_token: self.refresh_token.clone(),
            issuer: self.issuer.clone(),
            jwks_url: self.jwks_url.clone(),
        }
    }
}

/// Registers `metadata` at the gateway as the user whose API token this is. A taken id is
/// `ClientError::Conflict`; a refused API token `ClientError::Unauthorized`.
#[tracing::instrument(skip_all, fields(provider = %metadata.id))]
pub async fn register(
    gateway_url: &str,
    api_token: &Secret,
    metadata: &ProviderMetadata,
) -> Result<Registration, ClientError> {
    let base = checked_base(gateway_url)
        .map_err(|e: ClientConfigError| ClientError::Config(format!("{gateway_url:?}: {e}")))?;
    let timeout = ClientConfig::DEFAULT_TIMEOUT;
    let http = http_client(timeout, ClientConfig::DEFAULT_CONNECT_TIMEOUT)
        .map_err(|e| ClientError::Config(e.to_string()))?;
    let response = http
        .post(format!("{base}/api/providers"))
        .bearer_auth(api_token.expose())
        .json(metadata)
        .send()
        .await
        .map_err(|e| ClientError::transport(&e, timeout))?;
    let status = response.status().as_u16();
    let body = read_bounded(response, ClientConfig::DEFAULT_MAX_RESPONSE_BYTES, timeout).await?;
    if !(200..300).contains(&status) {
        return Err(ClientError::from_answer(status, &body));
    }
    let registration: Registration = serde_json::from_slice(&body)
        .map_err(|e| ClientError::InvalidResponse(clip(&format!("registration answer: {e}"))))?;
    if registration.id != metadata.id.as_str() || registration.refresh_token.is_empty() {
        return Err(ClientError::InvalidResponse(
            "the registration answer does not match the request".into(),
        ));
    }
    Ok(registration)
}
