//! Provider registration and lifecycle (SPEC §1): immutable metadata, approval, suspension,
//! refresh-token rotation and revocation, who may register a test provider, and who may see which
//! provider. Each change records its own audit event, whoever asked for it (API, page or CLI).

use crate::audit::{Actor, AuditAction};
use crate::clock::SharedClock;
use crate::config::TestRegistration;
use crate::hashing::FastMap;
use crate::model::{Provider, ProviderStatus, Role, User};
use crate::secrets::{REFRESH_TOKEN_PREFIX, Secret};
use crate::store::{Store, StoreError};
use provider_kit::protocol::{ProviderEnv, ProviderMetadata};
use std::sync::{Arc, RwLock};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("a provider with id {0:?} already exists")]
    Duplicate(String),
    #[error("no provider {0:?}")]
    NotFound(String),
    #[error("provider {id:?} is {status} and cannot be {action}")]
    InvalidTransition {
        id: String,
        status: &'static str,
        action: &'static str,
    },
    #[error(
        "only an admin may register a test provider on this gateway (a test provider may point at any address); ask an admin to register it, or register it as env: production"
    )]
    TestRegistrationRestricted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A lifecycle action an admin takes on a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Approve,
    /// Refuses a provider waiting for approval: it becomes `suspended` (never brokered, no
    /// tokens), which an admin can still `Resume` should the refusal have been a mistake.
    Reject,
    Suspend,
    Resume,
}

impl Action {
    fn rule(self) -> (&'static [ProviderStatus], ProviderStatus, &'static str) {
        use ProviderStatus::*;
        match self {
            Self::Approve => (&[PendingApproval], Active, "approved"),
            Self::Reject => (&[PendingApproval], Suspended, "rejected"),
            Self::Suspend => (&[Active], Suspended, "suspended"),
            Self::Resume => (&[Suspended], Active, "resumed"),
        }
    }

    /// What the audit log calls it.
    pub fn audit_action(self) -> AuditAction {
        match self {
            Self::Approve => AuditAction::ProviderApproved,
            Self::Reject => AuditAction::ProviderRejected,
            Self::Suspend => AuditAction::ProviderSuspended,
            Self::Resume => AuditAction::ProviderResumed,
        }
    }
}

#[derive(Clone)]
pub struct Registry {
    store: Store,
    clock: SharedClock,
    test_registration: TestRegistration,
    /// Providers by id for the broker's hot path; changed here at once, re-read from the database
    /// by `reload_cache` so other replicas' changes arrive within one refresher poll.
    cache: Arc<RwLock<FastMap<String, Arc<Provider>>>>,
}

impl Registry {
    pub fn new(store: Store, clock: SharedClock, test_registration: TestRegistration) -> Self {
        Self {
            store,
            clock,
            test_registration,
            cache: Arc::default(),
        }
    }

    /// The provider from memory, loading it on a miss. Visibility is the caller's to check.
    pub async fn cached(&self, id: &str) -> Result<Option<Arc<Provider>>, RegistryError> {
        if let Some(p) = self.cache.read().unwrap_or_else(|p| p.into_inner()).get(id) {
            return Ok(Some(p.clone()));
        }
        let Some(provider) = self.store.provider(id).await? else {
            return Ok(None);
        };
        let provider = Arc::new(provider);
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), provider.clone());
        Ok(Some(provider))
    }

    /// Replaces the cache with the database's view of every provider.
    pub async fn reload_cache(&self) -> Result<(), RegistryError> {
        let all: FastMap<String, Arc<Provider>> = self
            .store
            .list_providers()
            .await?
            .into_iter()
            .map(|p| (p.metadata.id.to_string(), Arc::new(p)))
            .collect();
        *self.cache.write().unwrap_or_else(|p| p.into_inner()) = all;
        Ok(())
    }

    /// Re-reads one provider (the change feed said it changed); a deleted one leaves the cache.
    pub async fn reload_one(&self, id: &str) -> Result<(), RegistryError> {
        let provider = self.store.provider(id).await?;
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        match provider {
            Some(p) => cache.insert(id.to_owned(), Arc::new(p)),
            None => cache.remove(id),
        };
        Ok(())
    }

    /// Registers `metadata` owned by `owner`. Test providers are active at once; production ones wait
    /// for an admin. Returns the refresh token, which is never shown again.
    pub async fn register(
        &self,
        owner: &User,
        metadata: ProviderMetadata,
    ) -> Result<(Provider, Secret), RegistryError> {
        if metadata.env == ProviderEnv::Test
            && self.test_registration == TestRegistration::Admin
            && owner.role != Role::Admin
        {
            return Err(RegistryError::TestRegistrationRestricted);
        }
        let status = match metadata.env {
            ProviderEnv::Test => ProviderStatus::Active,
            ProviderEnv::Production => ProviderStatus::PendingApproval,
        };
        let refresh = Secret::generate(REFRESH_TOKEN_PREFIX);
        let provider = self
            .store
            .insert_provider(
                &metadata,
                status,
                owner.id,
                &refresh.hash(),
                self.clock.now_ms(),
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => RegistryError::Duplicate(metadata.id.to_string()),
                e => e.into(),
            })?;
        tracing::info!(provider = %provider.metadata.id, owner = %owner.username, status = provider.status.as_str(), "provider registered");
        let detail = serde_json::json!({ "env": provider.metadata.env.as_str(), "status": provider.status.as_str() });
        self.audit(
            &Actor::user(owner),
            AuditAction::ProviderRegistered,
            provider.metadata.id.as_str(),
            detail,
        )
        .await;
        Ok((provider, refresh))
    }

    /// The provider, if `viewer` may see it; a hidden provider looks exactly like a missing one.
    pub async fn get(&self, viewer: &User, id: &str) -> Result<Provider, RegistryError> {
        match self.store.provider(id).await? {
            Some(p) if visible_to(viewer, &p) => Ok(p),
            _ => Err(RegistryError::NotFound(id.to_owned())),
        }
    }

    /// Any provider, for operators' commands and internal use.
    pub async fn get_any(&self, id: &str) -> Result<Provider, RegistryError> {
        self.store
            .provider(id)
            .await?
            .ok_or_else(|| RegistryError::NotFound(id.to_owned()))
    }

    pub async fn list(&self, viewer: &User) -> Result<Vec<Provider>, RegistryError> {
        let all = self.store.list_providers().await?;
        Ok(all.into_iter().filter(|p| visible_to(viewer, p)).collect())
    }

    pub async fn list_all(&self) -> Result<Vec<Provider>, RegistryError> {
        Ok(self.store.list_providers().await?)
    }

    /// Applies an admin's (or the operator's) lifecycle `action`, recorded as `actor`'s.
    pub async fn apply(
        &self,
        id: &str,
        action: Action,
        actor: &Actor,
    ) -> Result<Provider, RegistryError> {
        let (from, to, verb) = action.rule();
        match self
            .store
            .transition_provider(id, from, to, self.clock.now_ms())
            .await?
        {
            Some(p) => {
                self.cache
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id.to_owned(), Arc::new(p.clone()));
                tracing::info!(provider = %id, action = verb, "provider lifecycle changed");
                let detail = serde_json::json!({ "status": p.status.as_str() });
                self.audit(actor, action.audit_action(), id, detail).await;
                Ok(p)
            }
            None => {
                let current = self.get_any(id).await?;
                Err(RegistryError::InvalidTransition {
                    id: id.to_owned(),
                    status: current.status.as_str(),
                    action: verb,
                })
            }
        }
    }

    /// Replaces the refresh token: the old one stops working at once; the new one is returned once.
    /// `detail` goes into the audit event (a JSON object without secrets).
    pub async fn rotate_refresh_token(
        &self,
        id: &str,
        actor: &Actor,
        detail: serde_json::Value,
    ) -> Result<Secret, RegistryError> {
        let refresh = Secret::generate(REFRESH_TOKEN_PREFIX);
        if !self
            .store
            .set_refresh_token_hash(id, Some(&refresh.hash()), self.clock.now_ms())
            .await?
        {
            return Err(RegistryError::NotFound(id.to_owned()));
        }
        tracing::info!(provider = %id, "refresh token rotated");
        self.audit(actor, AuditAction::ProviderRefreshTokenRotated, id, detail)
            .await;
        Ok(refresh)
    }

    /// Removes the refresh token; the provider cannot obtain access tokens until one is rotated in.
    pub async fn revoke_refresh_token(&self, id: &str, actor: &Actor) -> Result<(), RegistryError> {
        if !self
            .store
            .set_refresh_token_hash(id, None, self.clock.now_ms())
            .await?
        {
            return Err(RegistryError::NotFound(id.to_owned()));
        }
        tracing::info!(provider = %id, "refresh token revoked");
        let detail = serde_json::json!({});
        self.audit(actor, AuditAction::ProviderRefreshTokenRevoked, id, detail)
            .await;
        Ok(())
    }

    /// Records an event about a change already made (a failed write is logged, not returned).
    async fn audit(&self, actor: &Actor, action: AuditAction, id: &str, detail: serde_json::Value) {
        let event = crate::audit::event(self.clock.now_ms(), actor, action, id, detail);
        crate::audit::record(&self.store, &event).await;
    }
}

/// Admins and owners see their providers in any state; everyone else sees active production ones.
pub fn visible_to(viewer: &User, provider: &Provider) -> bool {
    viewer.role == Role::Admin
        || viewer.id == provider.owner_id
        || (provider.status == ProviderStatus::Active && !provider.is_test())
}
