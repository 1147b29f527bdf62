//! The calls a provider makes to the gateway, each one a typed request and a typed answer:
//! charge a wallet (SPEC §5), report a user mapping (SPEC §4 step 4), reload the manifest.

use serde::de::DeserializeOwned;

use super::error::{ClientError, clip};
use super::{GatewayClient, transport::Answer};
use crate::protocol::{ChargeRequest, ChargeResponse, MappingReport, MappingReportAnswer};

/// What a successful charge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargeOutcome {
    /// Units left in the wallet.
    pub balance: i64,
    /// The `chargeId` was charged before; this is the first answer again and nothing more was taken.
    pub duplicate: bool,
}

impl GatewayClient {
    /// Charges a wallet. Resending the same request (same `chargeId`, same body) after a transport
    /// error or timeout is safe: the gateway charges it once. `402` is
    /// `ClientError::PaymentRequired { balance }` and nothing was taken.
    #[tracing::instrument(skip_all, fields(charge_id = %request.charge_id, units = request.units))]
    pub async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, ClientError> {
        let outcome = self.charge_once(request).await;
        let label = match &outcome {
            Ok(done) if done.duplicate => "duplicate",
            Ok(_) => "accepted",
            Err(ClientError::PaymentRequired { .. }) => "insufficientFunds",
            Err(_) => "error",
        };
        crate::metrics::global().charged(label);
        outcome
    }

    async fn charge_once(&self, request: &ChargeRequest) -> Result<ChargeOutcome, ClientError> {
        let answer = self.post("/api/accounting/charge", request).await?;
        let response: ChargeResponse = parse(success(answer)?)?;
        Ok(ChargeOutcome {
            balance: response.balance,
            duplicate: response.duplicate,
        })
    }

    /// Tells the gateway that a gateway user has a local account here (SPEC §4): with the attempt's
    /// `nonce` in the explicit flow, whose answer carries the completion code for the return URL,
    /// without it in the implicit one. An empty answer has no code.
    #[tracing::instrument(skip_all, fields(state = ?report.state))]
    pub async fn report_mapping(
        &self,
        report: &MappingReport,
    ) -> Result<MappingReportAnswer, ClientError> {
        let path = format!("/api/providers/usermap/{}", self.inner.config.provider_id);
        let body = success(self.post(&path, report).await?)?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(MappingReportAnswer {
                completion_code: None,
            });
        }
        parse(body)
    }

    /// Asks the gateway to fetch this provider's manifest now instead of at its next refresh.
    /// Returns what the gateway answered (its view of the manifest), `Null` for an empty answer;
    /// an invalid manifest is `Rejected` with code `invalidManifest` and the gateway's reasons.
    #[tracing::instrument(skip_all)]
    pub async fn reload_manifest(&self) -> Result<serde_json::Value, ClientError> {
        let path = format!(
            "/api/providers/{}/manifest/reload",
            self.inner.config.provider_id
        );
        let body = success(self.post(&path, &serde_json::json!({})).await?)?;
        if body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        parse(body)
    }

    async fn post(&self, path: &str, body: &impl serde::Serialize) -> Result<Answer, ClientError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| ClientError::InvalidResponse(format!("request body: {e}")))?;
        self.inner.post_json(path, body).await
    }
}

fn success(answer: Answer) -> Result<Vec<u8>, ClientError> {
    match answer.status {
        200..=299 => Ok(answer.body),
        300..=399 => Err(ClientError::InvalidResponse(format!(
            "{} redirect; redirects are not followed",
            answer.status
        ))),
        status => Err(ClientError::from_answer(status, &answer.body)),
    }
}

fn parse<T: DeserializeOwned>(body: Vec<u8>) -> Result<T, ClientError> {
    serde_json::from_slice(&body)
        .map_err(|e| ClientError::InvalidResponse(clip(&format!("answer body: {e}"))))
}
