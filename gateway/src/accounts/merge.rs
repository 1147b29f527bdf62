//! Account merge (SPEC §8): `gateway users merge --from OLD --into NEW` and
//! `POST /api/admin/users/merge`. The store does it in one transaction (`store::merge`); here are
//! the refusals that need no database, and the audit row. The renames owed to providers are sent
//! by `App::merge_users` after the commit (`connections::renames`).

use super::lifecycle::refuse_self;
use super::{AccountError, Accounts};
use crate::audit::{Actor, event};
use crate::store::{MergePlan, MergeRefusal, Merged};
use serde_json::json;

impl Accounts {
    pub async fn merge(
        &self,
        actor: &Actor,
        from: &str,
        into: &str,
    ) -> Result<Merged, AccountError> {
        if from == into {
            return Err(AccountError::MergeRefused(
                "an account cannot be merged into itself".into(),
            ));
        }
        let old = self.user(from).await?;
        let new = self.user(into).await?;
        refuse_self(actor, &old, "merge away").map_err(|_| {
            AccountError::MergeRefused("you cannot merge your own account away".into())
        })?;
        let now = self.clock.now_ms();
        let plan = MergePlan {
            from: &old,
            into: &new,
            now,
        };
        let done = self
            .store
            .merge_users(&plan, |merged| {
                let mut detail = serde_json::to_value(merged).unwrap_or_else(|_| json!({}));
                detail["into"] = json!(new.username);
                event(
                    now,
                    actor,
                    crate::audit::AuditAction::UserMerged,
                    &old.username,
                    detail,
                )
            })
            .await?;
        let merged = done.map_err(|refusal| {
            AccountError::MergeRefused(match refusal {
                MergeRefusal::BothConnected(providers) => format!(
                    "both accounts are connected to {}; one of them must disconnect first",
                    providers.join(", ")
                ),
                MergeRefusal::IntoDisabled => format!("{into} is disabled"),
                MergeRefusal::FromDisabled => {
                    format!("{from} is disabled (merged before?); resume it first")
                }
            })
        })?;
        self.credentials.forget_user(old.id);
        self.credentials.forget_user(new.id);
        tracing::info!(from = %from, into = %into, actor = %actor.name(), connections = merged.connections.len(), "accounts merged");
        Ok(merged)
    }
}
