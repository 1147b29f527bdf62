//! The audit log: security-relevant events, stored in the database and read by admins
//! (`GET /api/admin/audit`, `gateway audit list`).
//!
//! Actions (stable names): `provider.registered`, `provider.approved`, `provider.suspended`,
//! `provider.resumed`, `provider.refreshTokenRotated`, `provider.refreshTokenRevoked`, `keys.rotated`,
//! `keys.revoked`,
//! `user.created`, `user.suspended`, `user.resumed`, `user.disabled`, `user.expirySet`, `user.merged`,
//! `wallet.granted`, `project.created`, `project.memberSet`, `project.memberRemoved`.
//! Changes made by this crate's own stores (grants, lifecycle, projects) write their event in the
//! same transaction; events about changes made elsewhere are recorded right after, with `record`.

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

/// An event at `at`; `detail` should be a JSON object without secrets.
pub fn event(at: i64, actor: &Actor, action: &str, target: &str, detail: Value) -> AuditEvent {
    AuditEvent {
        at,
        actor: actor.name(),
        action: action.to_owned(),
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
    pub async fn record(&self, actor: &Actor, action: &str, target: &str, detail: Value) {
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

/// The audit action of an admin's provider lifecycle change.
pub fn provider_action(action: crate::registry::Action) -> &'static str {
    use crate::registry::Action::*;
    match action {
        Approve => "provider.approved",
        Suspend => "provider.suspended",
        Resume => "provider.resumed",
    }
}
