//! The checks that ask the gateway: is the refresh token accepted (the same `POST /oauth/token` the
//! client renews with), is the JWK Set reachable (through the `Verifier`, as on every request),
//! and — through the reload answer, the one provider-authenticated view of the provider the
//! gateway offers — the manifest as the gateway parsed it, its warnings, and whether the gateway
//! can reach the provider at all.

use serde_json::Value;

use super::report::{Check, CheckName};
use crate::auth::Verifier;
use crate::client::{ClientError, GatewayClient, TokenProbe};

/// The gateway's problem codes for a reload (its error table, `gateway/src/http/errors.rs`).
const INVALID_MANIFEST: &str = "invalidManifest";
const PROVIDER_UNREACHABLE: &str = "providerUnreachable";
const PROVIDER_NOT_APPROVED: &str = "providerNotApproved";

pub async fn refresh_token(client: &GatewayClient) -> (Check, Result<TokenProbe, ClientError>) {
    let probed = client.probe().await;
    let check = match &probed {
        Ok(probe) => Check::pass(
            CheckName::RefreshToken,
            format!(
                "the gateway issued an access token for `{}` (valid {} s)",
                client.provider_id(),
                probe.expires_in
            ),
        ),
        Err(error @ ClientError::RefreshRejected(_)) => Check::fail(
            CheckName::RefreshToken,
            error.to_string(),
            format!(
                "the token was revoked or rotated, or the provider is suspended: an admin can issue \
                 a new one with `gateway providers rotate-token {}` (put it in refreshToken of the \
                 credentials file)",
                client.provider_id()
            ),
        ),
        Err(error @ (ClientError::Transport(_) | ClientError::Timeout(_))) => Check::fail(
            CheckName::RefreshToken,
            error.to_string(),
            format!(
                "is the gateway running at {}? Check gatewayUrl in the credentials file",
                client.gateway_url()
            ),
        ),
        Err(error) => Check::fail(
            CheckName::RefreshToken,
            error.to_string(),
            format!(
                "check that gatewayUrl ({}) is the gateway itself, not a proxy or another service",
                client.gateway_url()
            ),
        ),
    };
    (check, probed)
}

pub async fn jwks(verifier: &Verifier, jwks_url: &str) -> Check {
    match verifier.refresh_keys().await {
        Ok(0) => Check::fail(
            CheckName::Jwks,
            format!("{jwks_url} publishes no usable signing key"),
            "check jwksUrl in the credentials file; the gateway publishes RS256 keys there",
        ),
        Ok(keys) => Check::pass(
            CheckName::Jwks,
            format!("{jwks_url} publishes {keys} signing key(s)"),
        ),
        Err(error) => Check::fail(
            CheckName::Jwks,
            format!("cannot fetch {jwks_url}: {error}"),
            "is the gateway running, and is jwksUrl in the credentials file its \
             /.well-known/jwks.json?",
        ),
    }
}

/// Asks the gateway to fetch the manifest now: (the manifest check, the reachability check).
pub async fn manifest(client: &GatewayClient) -> [Check; 2] {
    match client.reload_manifest().await {
        Ok(answer) => parsed(&answer),
        Err(ClientError::Rejected {
            code: Some(code),
            detail,
            ..
        }) if code == INVALID_MANIFEST => [
            Check::fail(
                CheckName::Manifest,
                format!("the gateway refused the manifest: {detail}"),
                "fix the manifest the provider serves (the reason names the field), then run \
                 `provider-kit doctor` again",
            ),
            Check::pass(
                CheckName::ProviderReachable,
                "the gateway reached the provider (and got a manifest it refused)",
            ),
        ],
        Err(ClientError::Rejected {
            code: Some(code),
            detail,
            ..
        }) if code == PROVIDER_NOT_APPROVED => [
            Check::skip(
                CheckName::Manifest,
                "not fetched: the provider is waiting for approval",
            ),
            Check::warn(
                CheckName::ProviderReachable,
                format!("not asked: {detail}"),
                format!(
                    "a production provider's manifest is fetched once an admin approves it: \
                     `gateway providers approve {}`",
                    client.provider_id()
                ),
            ),
        ],
        Err(ClientError::Server {
            code: Some(code),
            detail,
            ..
        }) if code == PROVIDER_UNREACHABLE => [
            Check::skip(
                CheckName::Manifest,
                "not fetched: the gateway cannot reach the provider",
            ),
            Check::fail(
                CheckName::ProviderReachable,
                format!("the gateway could not fetch the manifest: {detail}"),
                "is the provider running (`provider-kit serve`) and reachable from the gateway at \
                 the domain and port it was registered with?",
            ),
        ],
        Err(error) => [
            Check::fail(
                CheckName::Manifest,
                format!("the reload failed: {error}"),
                "see the gateway's log for this provider",
            ),
            Check::skip(CheckName::ProviderReachable, "unknown: the reload failed"),
        ],
    }
}

fn parsed(answer: &Value) -> [Check; 2] {
    let warnings: Vec<String> = answer["warnings"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|w| w.as_str().map_or_else(|| w.to_string(), str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let reload = answer["reload"].as_str().unwrap_or("done");
    let mut notes: Vec<String> = warnings.iter().map(|w| format!("warning: {w}")).collect();
    if !answer["manifest"].is_null() {
        notes.push(format!("as the gateway parsed it: {}", answer["manifest"]));
    }
    let details = serde_json::json!({
        "reload": reload,
        "manifest": answer["manifest"],
        "warnings": warnings,
    });
    let manifest = if warnings.is_empty() {
        Check::pass(
            CheckName::Manifest,
            format!("the gateway parsed the manifest without warnings (reload: {reload})"),
        )
    } else {
        Check::warn(
            CheckName::Manifest,
            format!(
                "the gateway parsed the manifest with {} warning(s) (reload: {reload})",
                warnings.len()
            ),
            "the warnings name what the gateway ignored; fix them in the manifest",
        )
    };
    [
        manifest.with_notes(notes).with_details(details),
        Check::pass(
            CheckName::ProviderReachable,
            "the gateway fetched the manifest from the provider just now",
        ),
    ]
}
