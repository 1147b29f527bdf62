//! The gateway's view of what each provider offers (SPEC §1): manifests fetched, validated, cached
//! and refreshed. An invalid manifest never replaces the last valid one; failures back off
//! exponentially; the broker reads the in-memory cache without touching the database. A production
//! provider is fetched only once an admin has approved it.

mod fetch;

pub use crate::outbound::ProviderClients;
pub use fetch::{FetchError, FetchFailure, Fetched, Fetcher};

use crate::clock::SharedClock;
use crate::config::ManifestConfig;
use crate::hashing::FastMap;
use crate::model::{ManifestRecord, Provider, ProviderStatus};
use crate::store::{Store, StoreError};
use crate::tokens::Tokens;
use provider_kit::protocol::Manifest;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// What one refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// A new valid manifest replaced the cached one.
    Updated,
    /// The provider answered 304: the cached manifest is still current.
    NotModified,
    /// The fetch or the manifest failed; the previous manifest (if any) stays.
    Failed(FetchFailure),
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing the service token: {0}")]
    Token(String),
    #[error(
        "provider {0} is pending approval; its manifest is fetched once an admin has approved it"
    )]
    NotApproved(String),
}

/// Whether the gateway may call `provider` for its manifest: not a production provider that no
/// admin has approved yet (its domain is unvetted).
pub fn may_fetch(provider: &Provider) -> bool {
    provider.is_test() || provider.status != ProviderStatus::PendingApproval
}

/// Counters for `/metrics` and for tests that must see what did (not) happen.
#[derive(Debug, Default)]
pub struct ManifestStats {
    pub fetches: AtomicU64,
    pub parses: AtomicU64,
    pub not_modified: AtomicU64,
    pub failures: AtomicU64,
}

#[derive(Debug, Clone, Default)]
pub struct Cached {
    pub manifest: Option<Arc<Manifest>>,
    pub record: ManifestRecord,
    /// For a record this process fetched and saved: its number in `Manifests::saves`; 0 for one
    /// read from the database.
    saved: u64,
}

impl Cached {
    /// A record as read from the database, with its manifest parsed.
    fn read(record: ManifestRecord) -> Self {
        let manifest = record
            .manifest_json
            .as_deref()
            .and_then(|json| serde_json::from_str::<Manifest>(json).ok())
            .map(Arc::new);
        Self {
            manifest,
            record,
            saved: 0,
        }
    }
}

pub struct Manifests {
    store: Store,
    tokens: Tokens,
    clock: SharedClock,
    fetcher: Fetcher,
    config: ManifestConfig,
    cache: RwLock<FastMap<String, Arc<Cached>>>,
    /// Records this process has saved, counted: what tells a re-read from the database that a
    /// fetch of its own saved a newer record while the read was under way.
    saves: AtomicU64,
    pub stats: ManifestStats,
}

impl Manifests {
    pub fn new(
        store: Store,
        tokens: Tokens,
        clock: SharedClock,
        config: ManifestConfig,
    ) -> Result<Self, FetchError> {
        Ok(Self {
            fetcher: Fetcher::new(&config)?,
            store,
            tokens,
            clock,
            config,
            cache: RwLock::default(),
            saves: AtomicU64::new(0),
            stats: ManifestStats::default(),
        })
    }

    /// The clients the gateway uses for its own calls to providers.
    pub fn clients(&self) -> ProviderClients {
        self.fetcher.clients()
    }

    /// The last valid manifest of a provider, from memory. The broker's hot path.
    pub fn current(&self, provider_id: &str) -> Option<Arc<Manifest>> {
        self.read_cache()
            .get(provider_id)
            .and_then(|c| c.manifest.clone())
    }

    /// The last valid manifest and the fetch status, for the provider's owner and admins.
    pub async fn status(&self, provider_id: &str) -> Result<Arc<Cached>, ManifestError> {
        if let Some(cached) = self.read_cache().get(provider_id) {
            return Ok(cached.clone());
        }
        let record = self
            .store
            .manifest_record(provider_id)
            .await?
            .unwrap_or_default();
        Ok(self.remember(provider_id, Cached::read(record)))
    }

    /// Re-reads every record from the database: picks up what other replicas fetched.
    pub async fn reload_from_store(&self) -> Result<(), ManifestError> {
        let began = self.saves.load(Ordering::SeqCst);
        for (id, record) in self.store.all_manifest_records().await? {
            self.remember_read(&id, Some(record), began);
        }
        Ok(())
    }

    /// Re-reads one provider's record (the change feed said a process saved it).
    pub async fn reload_one(&self, provider_id: &str) -> Result<(), ManifestError> {
        let began = self.saves.load(Ordering::SeqCst);
        let record = self.store.manifest_record(provider_id).await?;
        self.remember_read(provider_id, record, began);
        Ok(())
    }

    /// Caches a record read from the database by a read that began when `began` records had been
    /// saved here — unless a fetch of this process saved one since, which is at least as new (its
    /// own change notification brings any later one). Without this, the change feed's re-read
    /// after this process's first save could land after its second and bring the first back.
    fn remember_read(&self, provider_id: &str, record: Option<ManifestRecord>, began: u64) {
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        if cache.get(provider_id).is_some_and(|c| c.saved > began) {
            return;
        }
        match record {
            Some(record) => {
                cache.insert(provider_id.to_owned(), Arc::new(Cached::read(record)));
            }
            None => {
                cache.remove(provider_id);
            }
        }
    }

    /// Fetches every provider whose manifest is due; returns how many were attempted.
    pub async fn refresh_due(&self) -> Result<usize, ManifestError> {
        use futures_util::StreamExt;
        let due = self
            .store
            .providers_due_for_manifest(self.clock.now_ms())
            .await?;
        let mut providers = Vec::with_capacity(due.len());
        for id in &due {
            if let Some(p) = self.store.provider(id).await?
                && may_fetch(&p)
            {
                providers.push(p);
            }
        }
        let count = providers.len();
        futures_util::stream::iter(providers)
            .for_each_concurrent(8, |p| async move {
                if let Err(e) = self.refresh(&p).await {
                    tracing::warn!(provider = %p.metadata.id, error = %e, "manifest refresh failed");
                }
            })
            .await;
        Ok(count)
    }

    /// Fetches one provider's manifest now and records the outcome.
    pub async fn refresh(&self, provider: &Provider) -> Result<Refreshed, ManifestError> {
        let id = provider.metadata.id.as_str();
        if !may_fetch(provider) {
            return Err(ManifestError::NotApproved(id.to_owned()));
        }
        let mut record = self.status(id).await?.record.clone();
        let token = self
            .tokens
            .service_token(id, None, None)
            .map_err(|e| ManifestError::Token(e.to_string()))?;
        let etag = record.manifest_json.as_ref().and(record.etag.as_deref());
        self.stats.fetches.fetch_add(1, Ordering::Relaxed);
        let outcome = match self.fetcher.fetch(&provider.metadata, &token, etag).await {
            Ok(Fetched::NotModified) => {
                self.stats.not_modified.fetch_add(1, Ordering::Relaxed);
                Refreshed::NotModified
            }
            Ok(Fetched::Body {
                bytes,
                content_type,
                etag,
            }) => {
                self.stats.parses.fetch_add(1, Ordering::Relaxed);
                match Manifest::parse(&bytes, content_type.as_deref()) {
                    Ok(parsed) => {
                        record.manifest_json = serde_json::to_string(&parsed.manifest).ok();
                        record.warnings = parsed.warnings;
                        record.etag = etag;
                        record.fetched_at = Some(self.clock.now_ms());
                        Refreshed::Updated
                    }
                    Err(errors) => Refreshed::Failed(FetchFailure::from_manifest_errors(&errors)),
                }
            }
            Err(failure) => Refreshed::Failed(failure),
        };
        let now = self.clock.now_ms();
        record.checked_at = Some(now);
        match &outcome {
            Refreshed::Failed(error) => {
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                record.failures += 1;
                record.last_error = Some(error.to_string());
                record.next_fetch_at = now + self.backoff_ms(record.failures);
                tracing::warn!(provider = %id, class = error.class(), %error, failures = record.failures, "manifest not updated");
            }
            _ => {
                record.failures = 0;
                record.last_error = None;
                record.next_fetch_at = now + self.config.refresh_secs * 1000;
            }
        }
        self.store.save_manifest_record(id, &record).await?;
        let saved = self.saves.fetch_add(1, Ordering::SeqCst) + 1;
        self.remember(
            id,
            Cached {
                saved,
                ..Cached::read(record)
            },
        );
        Ok(outcome)
    }

    /// `retry_secs × 2^(failures-1)`, capped at `max_backoff_secs`.
    fn backoff_ms(&self, failures: i64) -> i64 {
        let exponent = u32::try_from((failures - 1).clamp(0, 30)).unwrap_or(30);
        let secs = self.config.retry_secs.saturating_mul(1_i64 << exponent);
        secs.min(self.config.max_backoff_secs) * 1000
    }

    fn remember(&self, provider_id: &str, cached: Cached) -> Arc<Cached> {
        let cached = Arc::new(cached);
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(provider_id.to_owned(), cached.clone());
        cached
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, FastMap<String, Arc<Cached>>> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }
}
