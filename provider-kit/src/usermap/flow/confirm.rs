//! SPEC §4 step 3 ▲, the confirm step: after the browser proved a local account (`prove`, by any
//! sign-in method), the user sees who is being linked — the gateway user's name, username and
//! organization from the principal, and the local account — and confirms with an explicit click
//! whose form carries its own CSRF token (`confirm`). Only then is the mapping recorded, reported
//! with the nonce, and the browser sent back with the gateway's completion code.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Completed, FlowError, UsermapFlow, checked_hash, return_origin, with_nonce_and_code};
use crate::client::ClientError;
use crate::protocol::{MappingReport, ReportedState};
use crate::usermap::local_auth::{LocalIdentity, random};
use crate::usermap::store::Claim;

/// What the confirm page shows and needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub gateway_username: String,
    pub full_name: String,
    pub organization: Option<String>,
    /// The local account the browser proved.
    pub local_account: String,
    /// The confirm form's own CSRF token (not the login form's).
    pub csrf: String,
    /// The gateway's origin, where the browser goes next (for the page's `form-action`).
    pub return_origin: String,
}

impl UsermapFlow {
    /// The browser proved `identity` (the built-in form, or a site's own login routes, which then
    /// answer `confirm_redirect`): it is kept on the attempt, with a new confirm token, until the
    /// user confirms. Nothing is mapped or reported here. Proving again replaces the account.
    #[tracing::instrument(skip_all)]
    pub async fn prove(&self, attempt_id: &str, identity: &LocalIdentity) -> Result<(), FlowError> {
        self.live_attempt(attempt_id).await?;
        let csrf = URL_SAFE_NO_PAD.encode(random::<32>());
        let store = self.inner.accounts.store();
        if !store
            .prove_attempt(&checked_hash(attempt_id)?, identity.account(), &csrf)
            .await?
        {
            return Err(FlowError::AttemptUsed);
        }
        Ok(())
    }

    /// The attempt behind the browser's cookie, proven and waiting for the user's click.
    pub async fn confirmation(&self, attempt_id: &str) -> Result<Confirmation, FlowError> {
        let attempt = self.live_attempt(attempt_id).await?;
        let (Some(local_account), Some(csrf)) = (attempt.proven_account, attempt.confirm_csrf)
        else {
            return Err(FlowError::NotProven);
        };
        Ok(Confirmation {
            return_origin: return_origin(&attempt.return_url, None)?,
            gateway_username: attempt.gateway_username,
            full_name: attempt.full_name,
            organization: attempt.organization,
            local_account,
            csrf,
        })
    }

    /// Steps 3–5 on the user's click: the confirm token must be the attempt's; claims the attempt,
    /// records the mapping of the proven account, reports it with the nonce, and returns where to
    /// send the browser (with the gateway's completion code). If the gateway does not take the
    /// report, nothing stays changed and the user can confirm again.
    #[tracing::instrument(skip_all)]
    pub async fn confirm(&self, attempt_id: &str, csrf: &str) -> Result<Completed, FlowError> {
        let pending = self.confirmation(attempt_id).await?;
        if aws_lc_rs::constant_time::verify_slices_are_equal(
            pending.csrf.as_bytes(),
            csrf.as_bytes(),
        )
        .is_err()
        {
            return Err(FlowError::Csrf);
        }
        let accounts = &self.inner.accounts;
        let store = accounts.store();
        let hash = checked_hash(attempt_id)?;
        let now = accounts.clock().now_unix();
        let mut tx = store.begin().await?;
        let attempt = match tx.claim_attempt(&hash, csrf, now).await? {
            Claim::Claimed(attempt) => *attempt,
            Claim::Unknown => return Err(FlowError::NoAttempt),
            Claim::Used => return Err(FlowError::AttemptUsed),
            Claim::Expired => return Err(FlowError::AttemptExpired),
            // Proven again (another tab) since this page was shown.
            Claim::NotConfirmed => return Err(FlowError::Csrf),
        };
        let account = attempt.proven_account.ok_or(FlowError::NotProven)?;
        let username = attempt.gateway_username.clone();
        let (mapping, new) = accounts
            .map_in(&mut tx, &username, &account, &attempt.full_name, now)
            .await?;
        tx.commit().await?;
        let report = MappingReport {
            nonce: Some(attempt.nonce.clone()),
            username: username.clone(),
            local_identity: mapping.account.name.clone(),
            state: ReportedState::Ok,
            comment: None,
            comment_url: None,
            renamed_from: None,
        };
        let answer = accounts.reporter().report(&report).await.and_then(|a| {
            a.completion_code.ok_or_else(|| {
                ClientError::InvalidResponse("the answer carries no completionCode".into())
            })
        });
        let code = match answer {
            Ok(code) => code,
            Err(error) => {
                tracing::warn!(%error, "the gateway did not take a mapping report; undoing");
                if new {
                    accounts.unlink(&username).await?;
                }
                store.release_attempt(&hash).await?;
                return Err(FlowError::Report(error));
            }
        };
        let redirect_url = with_nonce_and_code(&attempt.return_url, &attempt.nonce, &code)?;
        store
            .mark_reported(&username, accounts.clock().now_unix())
            .await?;
        tracing::info!(account = %mapping.account.name, "connected a gateway user");
        Ok(Completed {
            redirect_url,
            local_account: mapping.account.name,
        })
    }
}
