//! The `usermap/rename` calls owed after an account merge (SPEC §4, §8). The merge's transaction
//! queues one per moved connection (`pending_renames`), so a merge is never half done: the
//! gateway's side is complete at commit, and each provider is told right after, or, if it cannot
//! be reached or refuses, again later with backoff until it takes the call. A provider answers a
//! retried rename as done, so retrying is safe.

use super::Connections;
use crate::accounts::principal;
use crate::store::PendingRename;

/// First retry after this long; doubling per failed attempt up to `MAX_BACKOFF_MS`.
const FIRST_BACKOFF_MS: i64 = 30_000;
const MAX_BACKOFF_MS: i64 = 3_600_000;
/// How long a sender holds a rename it took (longer than one call may last).
const CLAIM_MS: i64 = 120_000;
/// Renames sent per round.
const BATCH: i64 = 100;

/// What one round of deliveries did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub delivered: usize,
    pub failed: usize,
}

impl Connections {
    /// Sends every rename that is due, oldest first, each claimed first so that two senders (the
    /// command that merged, a serving replica's retry task) never send one twice at once; a
    /// provider that failed once in this round gets none of its later renames, so they arrive in
    /// order.
    pub async fn deliver_renames(&self) -> Result<Delivered, crate::store::StoreError> {
        let now = self.clock.now_ms();
        let mut done = Delivered::default();
        let mut failed_providers: Vec<String> = Vec::new();
        for rename in self.store.due_renames(now, BATCH).await? {
            if failed_providers.contains(&rename.provider_id)
                || !self
                    .store
                    .claim_rename(&rename.id, now, now + CLAIM_MS)
                    .await?
            {
                continue;
            }
            match self.send_rename(&rename).await {
                Ok(()) => {
                    self.store.rename_delivered(&rename.id).await?;
                    done.delivered += 1;
                }
                Err(error) => {
                    let backoff = FIRST_BACKOFF_MS
                        .saturating_mul(1 << rename.attempts.clamp(0, 16))
                        .min(MAX_BACKOFF_MS);
                    tracing::warn!(provider = %rename.provider_id, attempts = rename.attempts + 1, %error, "rename not delivered; retrying later");
                    self.store
                        .rename_failed(&rename.id, now + backoff, &error)
                        .await?;
                    failed_providers.push(rename.provider_id.clone());
                    done.failed += 1;
                }
            }
        }
        Ok(done)
    }

    /// `POST {provider}/ucloud/{id}/usermap/rename {"from","to"}` with a service token made for
    /// the new user. The error is a short class, never a token or the provider's body.
    async fn send_rename(&self, rename: &PendingRename) -> Result<(), String> {
        let provider = self
            .store
            .provider(&rename.provider_id)
            .await
            .map_err(|e| format!("database: {e}"))?
            .ok_or("the provider is gone")?;
        let user = self
            .store
            .user_by_username(&rename.to_username)
            .await
            .map_err(|e| format!("database: {e}"))?
            .ok_or("the new user is gone")?;
        let id = provider.metadata.id.as_str();
        let token = self
            .tokens
            .service_token(id, Some(principal(&user)), None)
            .map_err(|e| format!("signing: {e}"))?;
        let url = format!("{}/usermap/rename", provider.metadata.namespace_url());
        let body = serde_json::json!({ "from": rename.from_username, "to": rename.to_username });
        match self
            .http
            .post_json(&provider.metadata, &url, &token, &body)
            .await
        {
            Ok(r) if r.status.is_success() => {
                tracing::info!(provider = %id, from = %rename.from_username, to = %rename.to_username, "provider renamed a user");
                Ok(())
            }
            Ok(r) => Err(format!("httpStatus {}", r.status.as_u16())),
            Err(e) => Err(e.to_string()),
        }
    }
}
