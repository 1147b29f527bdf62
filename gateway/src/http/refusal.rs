//! The access gate's refusals (`policy::Refusal`) as problems: one mapping, used by the broker,
//! the connect flow and the agreements check of the API.

use super::errors::ApiError;
use crate::policy::{Pending, Refusal, Subject, agreements_url, connect_url};
use serde_json::{Value, json};

/// What a client is asked to accept, as the problem's `agreements` member.
pub fn pending_json(pending: &[Pending]) -> Value {
    Value::Array(
        pending
            .iter()
            .map(|p| {
                let mut v = match &p.subject {
                    Subject::Gateway(id) => json!({ "agreement": id }),
                    Subject::Provider(id) => json!({ "provider": id }),
                };
                v["version"] = json!(p.version);
                v["title"] = json!(p.title);
                if let Some(url) = &p.url {
                    v["url"] = json!(url);
                }
                v
            })
            .collect(),
    )
}

impl ApiError {
    /// The problem for `refusal`, its ways out based at `issuer`.
    pub fn refused(refusal: &Refusal, issuer: &str) -> Self {
        let detail = refusal.reason();
        match refusal {
            Refusal::AccountInvalid { missing } => Self::AccountInvalid {
                detail,
                missing: missing.iter().map(|m| (*m).to_owned()).collect(),
                complete_url: refusal.action_url(issuer).unwrap_or_default(),
            },
            Refusal::NoSuchProvider(_) => Self::NotFound(detail),
            Refusal::ProviderInactive { .. } => Self::ProviderInactive(detail),
            Refusal::ManifestUnavailable(provider) => Self::ManifestPending {
                detail,
                provider: provider.clone(),
            },
            Refusal::NotAMember(_) => Self::NotAProjectMember(detail),
            Refusal::AgreementRequired(pending) => Self::AgreementRequired {
                detail,
                agreements_url: agreements_url(issuer, pending),
                pending: pending_json(pending),
            },
            Refusal::ConnectionRequired { provider } => Self::ConnectionRequired {
                detail,
                provider: provider.clone(),
                connect_url: connect_url(issuer, provider),
            },
            Refusal::TwoFactorRequired { provider } => Self::AssuranceRequired {
                detail,
                provider: provider.clone(),
                missing: vec!["twoFactorAuthentication".to_owned()],
                sign_in_url: format!("{issuer}/login"),
            },
            Refusal::AssuranceRequired { provider, missing } => Self::AssuranceRequired {
                detail,
                provider: provider.clone(),
                missing: missing.clone(),
                sign_in_url: format!("{issuer}/login"),
            },
            Refusal::NotChecked(_) => Self::Internal(detail),
        }
    }
}
