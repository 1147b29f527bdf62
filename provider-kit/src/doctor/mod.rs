//! `provider-kit doctor`: why the federation does or does not work for this provider, asked in
//! order — the credentials file (`credentials`), then the gateway (`gateway`: refresh token, JWKS,
//! the manifest as the gateway parsed it and whether it reached the provider), and the clock skew
//! against the gateway (`skew`) — each answer a `Check` with the way out (`report`). Time comes
//! from the injected `Clock`, so a skewed clock is a test input. `serve` runs the start-up subset
//! (`Doctor::start_up`) and logs it.

mod certificate;
mod credentials;
mod gateway;
mod quarantine;
mod report;
pub mod skew;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use certificate::{EXPIRY_WARNING_SECS, certificate};
pub use quarantine::quarantine;
pub use report::{Check, CheckName, Report, Status};

use crate::auth::{Clock, Verifier};
use crate::client::{ClientError, Credentials, GatewayClient};

/// The gateway-facing checks for one provider.
pub struct Doctor {
    client: GatewayClient,
    verifier: Verifier,
    jwks_url: String,
    leeway: Duration,
}

impl Doctor {
    /// From the parts a provider already has; `leeway` is its verifier's.
    pub fn new(
        client: GatewayClient,
        verifier: Verifier,
        jwks_url: impl Into<String>,
        leeway: Duration,
    ) -> Self {
        Self {
            client,
            verifier,
            jwks_url: jwks_url.into(),
            leeway,
        }
    }

    /// A client and verifier as `serve` builds them; an unusable URL is a failed check.
    pub fn from_credentials(
        credentials: &Credentials,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Check> {
        let client =
            GatewayClient::new(credentials.client_config(), Arc::clone(&clock)).map_err(|e| {
                Check::fail(
                    CheckName::RefreshToken,
                    format!("gatewayUrl in the credentials file: {e}"),
                    "use the file `provider-kit register --out` wrote, unedited",
                )
            })?;
        let config = credentials.verifier_config();
        let leeway = config.leeway;
        let verifier = Verifier::new(config, clock).map_err(|e| {
            Check::fail(
                CheckName::Jwks,
                format!("issuer or jwksUrl in the credentials file: {e}"),
                "use the file `provider-kit register --out` wrote, unedited",
            )
        })?;
        Ok(Self::new(
            client,
            verifier,
            credentials.jwks_url.clone(),
            leeway,
        ))
    }

    /// What `serve` checks before it listens: refresh token, JWKS, clock skew (the gateway cannot
    /// fetch the manifest of a provider that is not listening yet). The error is the refresh
    /// failure, for the caller to decide whether to stop.
    pub async fn start_up(&self) -> (Vec<Check>, Result<(), ClientError>) {
        let (token, probed) = gateway::refresh_token(&self.client).await;
        let jwks = gateway::jwks(&self.verifier, &self.jwks_url).await;
        let (skew, outcome) = match probed {
            Ok(probe) => (skew::check(&probe, self.leeway), Ok(())),
            Err(error) => (
                Check::skip(
                    CheckName::ClockSkew,
                    "needs an access token from the gateway",
                ),
                Err(error),
            ),
        };
        (vec![token, jwks, skew], outcome)
    }

    /// Every gateway-facing check; the manifest ones need the refresh token to work.
    pub async fn gateway_checks(&self) -> Vec<Check> {
        let (mut checks, outcome) = self.start_up().await;
        match outcome {
            Ok(()) => checks.extend(gateway::manifest(&self.client).await),
            Err(_) => {
                for name in [CheckName::Manifest, CheckName::ProviderReachable] {
                    checks.push(Check::skip(name, "needs an access token from the gateway"));
                }
            }
        }
        checks
    }
}

/// `provider-kit doctor`: every check, from the credentials file at `path`.
pub async fn run(path: &Path, clock: Arc<dyn Clock>) -> Report {
    let (file, credentials) = credentials::check(path);
    let mut checks = vec![file];
    let doctor = match credentials {
        Some(credentials) => Doctor::from_credentials(&credentials, clock),
        None => Err(Check::skip(
            CheckName::RefreshToken,
            "needs a readable credentials file",
        )),
    };
    match doctor {
        Ok(doctor) => checks.extend(doctor.gateway_checks().await),
        Err(first) => {
            let failed = first.check;
            checks.push(first);
            for name in [
                CheckName::RefreshToken,
                CheckName::Jwks,
                CheckName::ClockSkew,
                CheckName::Manifest,
                CheckName::ProviderReachable,
            ] {
                if name != failed {
                    checks.push(Check::skip(name, "needs a usable credentials file"));
                }
            }
        }
    }
    Report::new(checks)
}
