//! Agreements (SPEC §9): the operator's documents (`agreements:`) and providers' terms, and who
//! accepted which version. The gate asks [`Agreements::pending`] on every brokered call, so each
//! user's acceptances are cached in memory; a new acceptance drops the entry here at once and on
//! every other replica through the change feed (`agreements:<user id>`).

use crate::audit::{Actor, event};
use crate::clock::SharedClock;
use crate::hashing::FastMap;
use crate::model::User;
use crate::store::{AcceptanceRow, Store, StoreError};
use provider_kit::protocol::Terms;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};

/// Largest agreement text read at start, bytes.
pub const MAX_AGREEMENT_BYTES: u64 = 256 * 1024;

pub use crate::config::{AgreementConfig, validate_agreements as validate};

/// A gateway agreement with its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    pub id: String,
    pub version: String,
    pub title: String,
    pub text: String,
}

/// What a user is asked to accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Gateway(String),
    Provider(String),
}

impl Subject {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Gateway(_) => "gateway",
            Self::Provider(_) => "provider",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Self::Gateway(id) | Self::Provider(id) => id,
        }
    }
}

/// One document a user has not accepted in its current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub subject: Subject,
    pub version: String,
    pub title: String,
    /// A provider's terms live at the provider; a gateway agreement on `/agreements`.
    pub url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgreementError {
    #[error("no agreement {0:?}")]
    NoSuchAgreement(String),
    #[error("no provider {0:?} is available to you")]
    NoSuchProvider(String),
    #[error("provider {0} publishes no terms")]
    NoTerms(String),
    #[error(
        "{what} is at version {current:?}, not {offered:?}: read the current version and accept that one"
    )]
    WrongVersion {
        what: String,
        current: String,
        offered: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `(kind, subject, version)` the user accepted.
type Accepted = HashSet<(String, String, String)>;

#[derive(Clone)]
pub struct Agreements {
    documents: Arc<Vec<Agreement>>,
    store: Store,
    clock: SharedClock,
    cache: Arc<RwLock<FastMap<i64, Arc<Accepted>>>>,
}

impl Agreements {
    /// Reads every configured agreement's file; a missing or unreadable one is named.
    pub fn load(
        config: &[AgreementConfig],
        store: Store,
        clock: SharedClock,
    ) -> Result<Self, String> {
        let mut documents = Vec::new();
        for a in config {
            let named = |e: std::io::Error| {
                format!(
                    "agreement {:?}: cannot read its file {}: {e}",
                    a.id,
                    a.file.display()
                )
            };
            let size = std::fs::metadata(&a.file).map_err(named)?.len();
            if size > MAX_AGREEMENT_BYTES {
                return Err(format!(
                    "agreement {:?}: its file {} has {size} bytes; at most {MAX_AGREEMENT_BYTES} are read",
                    a.id,
                    a.file.display()
                ));
            }
            let text = std::fs::read_to_string(&a.file).map_err(named)?;
            documents.push(Agreement {
                id: a.id.clone(),
                version: a.version.clone(),
                title: a.title.clone(),
                text,
            });
        }
        Ok(Self {
            documents: Arc::new(documents),
            store,
            clock,
            cache: Arc::default(),
        })
    }

    /// The operator's agreements, in config order.
    pub fn documents(&self) -> &[Agreement] {
        &self.documents
    }

    async fn accepted(&self, user_id: i64) -> Result<Arc<Accepted>, StoreError> {
        if let Some(hit) = self.read_cache().get(&user_id) {
            return Ok(hit.clone());
        }
        let rows = self.store.acceptances_of(user_id).await?;
        let set: Arc<Accepted> = Arc::new(
            rows.into_iter()
                .map(|r| (r.kind, r.subject, r.version))
                .collect(),
        );
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(user_id, set.clone());
        }
        Ok(set)
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, FastMap<i64, Arc<Accepted>>> {
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }

    /// What `user` still has to accept: every gateway agreement not accepted in its current version,
    /// then `terms` of `provider` when given and not accepted in their version. Memory only once
    /// the user's acceptances are cached.
    pub async fn pending(
        &self,
        user: &User,
        terms: Option<(&str, &Terms)>,
    ) -> Result<Vec<Pending>, StoreError> {
        if self.documents.is_empty() && terms.is_none() {
            return Ok(Vec::new());
        }
        let accepted = self.accepted(user.id).await?;
        let has = |kind: &str, id: &str, version: &str| {
            accepted.contains(&(kind.to_owned(), id.to_owned(), version.to_owned()))
        };
        let mut pending: Vec<Pending> = self
            .documents
            .iter()
            .filter(|a| !has("gateway", &a.id, &a.version))
            .map(|a| Pending {
                subject: Subject::Gateway(a.id.clone()),
                version: a.version.clone(),
                title: a.title.clone(),
                url: None,
            })
            .collect();
        if let Some((provider, terms)) = terms
            && !has("provider", provider, &terms.version)
        {
            pending.push(Pending {
                subject: Subject::Provider(provider.to_owned()),
                version: terms.version.clone(),
                title: terms.title.clone(),
                url: Some(terms.url.clone()),
            });
        }
        Ok(pending)
    }

    /// The current version of a gateway agreement.
    pub fn current_version(&self, id: &str) -> Result<&str, AgreementError> {
        self.documents
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.version.as_str())
            .ok_or_else(|| AgreementError::NoSuchAgreement(id.to_owned()))
    }

    /// Records that `user` accepted `version` of `subject`, whose current version is `current`.
    /// Audited (`agreement.accepted`) the first time; accepting again changes nothing.
    pub async fn accept(
        &self,
        user: &User,
        subject: &Subject,
        version: &str,
        current: &str,
    ) -> Result<i64, AgreementError> {
        if version != current {
            return Err(AgreementError::WrongVersion {
                what: match subject {
                    Subject::Gateway(id) => format!("agreement {id}"),
                    Subject::Provider(id) => format!("the terms of provider {id}"),
                },
                current: current.to_owned(),
                offered: version.to_owned(),
            });
        }
        let now = self.clock.now_ms();
        let audit = event(
            now,
            &Actor::user(user),
            crate::audit::AuditAction::AgreementAccepted,
            &format!("{}:{}", subject.kind(), subject.id()),
            serde_json::json!({ "version": version }),
        );
        self.store
            .insert_acceptance(user.id, subject.kind(), subject.id(), version, now, &audit)
            .await?;
        self.forget(user.id);
        Ok(now)
    }

    /// The user's acceptances, oldest first.
    pub async fn of_user(&self, user: &User) -> Result<Vec<AcceptanceRow>, StoreError> {
        self.store.acceptances_of(user.id).await
    }

    /// Every acceptance, newest first (the admin's view).
    pub async fn all(&self, limit: i64) -> Result<Vec<AcceptanceRow>, StoreError> {
        self.store.all_acceptances(limit.clamp(1, 1000)).await
    }

    /// The change feed said the user's acceptances changed elsewhere.
    pub fn forget(&self, user_id: i64) {
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(&user_id);
        }
    }

    /// The change feed may have missed something.
    pub fn forget_all(&self) {
        if let Ok(mut cache) = self.cache.write() {
            cache.clear();
        }
    }
}
