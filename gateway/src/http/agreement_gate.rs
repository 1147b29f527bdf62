//! The agreements check of every user API call (SPEC §9), which the `UserAuth` extractor applies,
//! and the `/agreements` address the web pages send a user to: apart from the agreements API
//! (`agreements.rs`), so the extractors and the API handlers don't import each other.

use super::errors::ApiError;
use crate::app::App;
use crate::model::User;
use crate::policy::agreements_url;

/// Every `/api/` call but `/api/me*` and `/api/providers/{id}/access` waits for the gateway's
/// agreements (brokered calls are checked by the broker's gate).
fn exempt(path: &str) -> bool {
    if !path.starts_with("/api/") || path == "/api/me" || path.starts_with("/api/me/") {
        return true;
    }
    path.strip_prefix("/api/providers/")
        .and_then(|rest| rest.strip_suffix("/access"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

pub async fn required_for_api(app: &App, user: &User, path: &str) -> Result<(), ApiError> {
    if exempt(path) || app.gate.agreements.documents().is_empty() {
        return Ok(());
    }
    let pending = app
        .gate
        .agreements
        .pending(user, None)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if pending.is_empty() {
        return Ok(());
    }
    Err(ApiError::refused(
        &crate::policy::Refusal::AgreementRequired(pending),
        &app.issuer,
    ))
}

/// The `agreementsUrl` for everything `user` still has to accept, or `None`.
pub async fn pending_url(app: &App, user: &User) -> Option<String> {
    let pending = app.gate.agreements.pending(user, None).await.ok()?;
    (!pending.is_empty()).then(|| agreements_url(&app.issuer, &pending))
}

#[cfg(test)]
mod tests {
    use super::exempt;

    #[test]
    fn only_api_me_and_the_access_explanation_skip_the_agreements_check() {
        for open in [
            "/api/me",
            "/api/me/agreements",
            "/api/providers/hpc/access",
            "/ucloud/hpc/storage/x",
            "/providers",
        ] {
            assert!(exempt(open), "{open}");
        }
        for gated in [
            "/api/meh",
            "/api/wallets",
            "/api/connections",
            "/api/providers",
            "/api/providers/hpc",
            "/api/providers//access",
            "/api/providers/hpc/access/x",
            "/api/providers/a/b/access",
            "/api/admin/agreements",
        ] {
            assert!(!exempt(gated), "{gated}");
        }
    }
}
