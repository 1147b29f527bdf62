//! The audit log: security-relevant events, stored in the database and read by admins
//! (`GET /api/admin/audit`, `gateway audit list`).
//!
//! Every action is an [`AuditAction`] variant; its stable wire name is written once, in
//! [`AuditAction::as_str`]. Changes made by this crate's own stores (grants, lifecycle, projects)
//! write their event in the same transaction; the registry records its own events right after its
//! changes; other events (keys, users created) are recorded right after, with [`Audit::record`].

use crate::clock::SharedClock;
use crate::model::{AuditEntry, AuditEvent, User};
use crate::store::{Store, StoreError};
use serde_json::Value;

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user (an admin, a project manager, a provider's owner).
    User(String),
    /// Someone with the operator's command line (`gateway …`).
    Operator,
    /// A provider with an access token.
    Provider(String),
}

impl Actor {
    pub fn user(user: &User) -> Self {
        Self::User(user.username.clone())
    }

    pub fn name(&self) -> String {
        match self {
            Self::User(username) => username.clone(),
            Self::Operator => "_operator".to_owned(),
            Self::Provider(id) => format!("#P_{id}"),
        }
    }
}

/// Declares [`AuditAction`]: each variant with its stable name, so the enum, its list and its
/// names cannot drift apart.
macro_rules! audit_actions {
    ($($variant:ident => $name:literal,)*) => {
        /// Every audited action, one variant each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum AuditAction {
            $($variant,)*
        }

        impl AuditAction {
            pub const ALL: &[Self] = &[$(Self::$variant,)*];

            /// The stable name stored in the log and shown by the API and the CLI.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }
    };
}

audit_actions! {
    ProviderRegistered => "provider.registered",
    ProviderApproved => "provider.approved",
    ProviderRejected => "provider.rejected",
    ProviderSuspended => "provider.suspended",
    ProviderResumed => "provider.resumed",
    ProviderRefreshTokenRotated => "provider.refreshTokenRotated",
    ProviderRefreshTokenRevoked => "provider.refreshTokenRevoked",
    KeysRotated => "keys.rotated",
    KeysRevoked => "keys.revoked",
    UserCreated => "user.created",
    UserInvited => "user.invited",
    UserCreatedByIdentityProvider => "user.createdByIdentityProvider",
    UserSuspended => "user.suspended",
    UserResumed => "user.resumed",
    UserApproved => "user.approved",
    UserDisabled => "user.disabled",
    UserExpirySet => "user.expirySet",
    UserMerged => "user.merged",
    WalletGranted => "wallet.granted",
    ProjectCreated => "project.created",
    ProjectMemberSet => "project.memberSet",
    ProjectMemberRemoved => "project.memberRemoved",
    AgreementAccepted => "agreement.accepted",
    UserAssuranceSet => "user.assuranceSet",
    UserEmailCompleted => "user.emailCompleted",
}

/// An event at `at`; `detail` should be a JSON object without secrets.
pub fn event(
    at: i64,
    actor: &Actor,
    action: AuditAction,
    target: &str,
    detail: Value,
) -> AuditEvent {
    AuditEvent {
        at,
        actor: actor.name(),
        action: action.as_str().to_owned(),
        target: target.to_owned(),
        detail: detail.to_string(),
    }
}

/// Most entries one read returns.
pub const MAX_LIMIT: i64 = 1000;

#[derive(Clone)]
pub struct Audit {
    store: Store,
    clock: SharedClock,
}

impl Audit {
    pub fn new(store: Store, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// Records an event about a change that has already happened. The change stands even if this
    /// write fails, so a failure is logged loudly rather than returned.
    pub async fn record(&self, actor: &Actor, action: AuditAction, target: &str, detail: Value) {
        let event = event(self.clock.now_ms(), actor, action, target, detail);
        record(&self.store, &event).await;
    }

    /// Newest first, at most `limit` (clamped to 1..=`MAX_LIMIT`), before entry id `before`.
    pub async fn list(
        &self,
        limit: i64,
        before: Option<i64>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.store
            .list_audit(limit.clamp(1, MAX_LIMIT), before)
            .await
    }
}

/// `Audit::record` for domain modules that hold a store but no `Audit`.
pub async fn record(store: &Store, event: &AuditEvent) {
    if let Err(e) = store.insert_audit(event).await {
        tracing::error!(error = %e, action = %event.action, target = %event.target, "audit event not recorded");
    }
}

#[cfg(test)]
mod tests {
    use super::AuditAction;
    use std::collections::HashSet;

    #[test]
    fn every_action_has_its_own_name_in_the_area_dot_verb_form() {
        let names: HashSet<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), AuditAction::ALL.len());
        for name in names {
            let (area, verb) = name.split_once('.').expect(name);
            assert!(
                ["provider", "keys", "user", "wallet", "project", "agreement"].contains(&area),
                "{name}"
            );
            assert!(verb.chars().all(|c| c.is_ascii_alphabetic()), "{name}");
        }
    }
}
