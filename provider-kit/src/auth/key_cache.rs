//! The gateway's public keys, kept in memory and refetched when a token names a `kid` we do not know
//! (a key rotation, SPEC §2) and when the set is older than the refresh interval (a key revoked,
//! SPEC §2: re-read at least every 10 minutes). Refetches are throttled by the `Clock` and
//! single-flight, so a flood of tokens with invented kids costs the gateway at most one request per
//! interval; a failed refetch keeps the keys we had.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::clock::Clock;
use super::error::{VerifyError, sanitize};
use super::jwks::{self, JwksError, KeyMap};
use super::signature::VerifyingKey;

/// An honest key set holds a handful of keys in a few KiB.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// What the fetch task needs, shared with it so a fetch survives the request that started it.
struct Shared {
    url: reqwest::Url,
    http: reqwest::Client,
    keys: RwLock<Arc<KeyMap>>,
    last_failed: AtomicBool,
    fetches: AtomicU64,
    /// Clock time at which the fetch that stored `keys` started; `NEVER` before the first.
    fetched_at: AtomicI64,
}

const NEVER: i64 = i64::MIN;

#[derive(Default)]
struct FetchState {
    /// A fetch whose waiter went away (its request was cancelled); the next waiter awaits it
    /// instead of being throttled while it is still running.
    in_flight: Option<JoinHandle<()>>,
}

pub(crate) struct KeyCache {
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
    min_interval: i64,
    refresh_interval: i64,
    /// When the last fetch started, successful or not; `NEVER` before the first. Written under
    /// `fetch`, read without it so the hot path never waits on the lock.
    last_attempt: AtomicI64,
    fetch: tokio::sync::Mutex<FetchState>,
}

impl KeyCache {
    pub(crate) fn new(
        url: reqwest::Url,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
        min_interval: Duration,
        refresh_interval: Duration,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                url,
                http,
                keys: RwLock::new(Arc::new(KeyMap::new())),
                last_failed: AtomicBool::new(false),
                fetches: AtomicU64::new(0),
                fetched_at: AtomicI64::new(NEVER),
            }),
            clock,
            min_interval: super::config::secs(min_interval),
            refresh_interval: super::config::secs(refresh_interval),
            last_attempt: AtomicI64::new(NEVER),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
        }
    }

    /// JWKS requests made so far, failed ones included.
    pub(crate) fn fetches(&self) -> u64 {
        self.shared.fetches.load(Ordering::Relaxed)
    }

    fn cached(&self, kid: &str) -> Option<Arc<VerifyingKey>> {
        self.snapshot().get(kid).cloned()
    }

    /// The key set as last fetched.
    pub(crate) fn snapshot(&self) -> Arc<KeyMap> {
        Arc::clone(
            &self
                .shared
                .keys
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    fn throttled(&self, now: i64) -> bool {
        let last = self.last_attempt.load(Ordering::Acquire);
        last != NEVER && now < last.saturating_add(self.min_interval)
    }

    /// Whether a fetched set is due for its periodic re-read. Before the first fetch nothing has
    /// been verified, so nothing can be stale: the first token's `kid` fetches the set on demand.
    fn stale(&self, now: i64) -> bool {
        let fetched_at = self.shared.fetched_at.load(Ordering::Acquire);
        fetched_at != NEVER && now >= fetched_at.saturating_add(self.refresh_interval)
    }

    /// Re-reads the key set if it is older than the refresh interval (and the throttle allows).
    /// Returns true when a new set was stored: verifications made with keys it no longer holds
    /// must then be forgotten.
    pub(crate) async fn refresh_if_stale(&self) -> bool {
        let now = self.clock.now_unix();
        if !self.stale(now) || self.throttled(now) {
            return false;
        }
        let mut state = self.fetch.lock().await;
        Self::finish_in_flight(&mut state).await;
        let now = self.clock.now_unix();
        // Whoever held the lock before us may just have refreshed.
        if !self.stale(now) || self.throttled(now) {
            return false;
        }
        tracing::debug!("the gateway's JWK Set is due for its periodic re-read");
        self.fetch_locked(&mut state, now).await;
        !self.shared.last_failed.load(Ordering::Acquire)
    }

    /// The key for `kid`, fetching the key set first if the kid is new and the throttle allows.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<VerifyingKey>, VerifyError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let mut state = self.fetch.lock().await;
        Self::finish_in_flight(&mut state).await;
        // Whoever held the lock before us may just have fetched the key we need.
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let now = self.clock.now_unix();
        let throttled = self.throttled(now);
        if !throttled {
            self.fetch_locked(&mut state, now).await;
            if let Some(key) = self.cached(kid) {
                return Ok(key);
            }
        }
        if self.shared.last_failed.load(Ordering::Acquire) {
            Err(VerifyError::JwksUnavailable)
        } else {
            tracing::debug!(kid = %sanitize(kid), throttled, "token names an unknown key");
            Err(VerifyError::UnknownKey(sanitize(kid)))
        }
    }

    /// Fetches the key set now, ignoring the throttle (start-up, or an operator's request), and
    /// returns how many usable keys it holds.
    pub(crate) async fn refresh(&self) -> Result<usize, VerifyError> {
        let mut state = self.fetch.lock().await;
        Self::finish_in_flight(&mut state).await;
        self.fetch_locked(&mut state, self.clock.now_unix()).await;
        if self.shared.last_failed.load(Ordering::Acquire) {
            return Err(VerifyError::JwksUnavailable);
        }
        Ok(self
            .shared
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len())
    }

    async fn finish_in_flight(state: &mut FetchState) {
        if let Some(task) = state.in_flight.as_mut() {
            // A panicked fetch changed nothing; the flags already say what we know.
            let _ = task.await;
            state.in_flight = None;
        }
    }

    async fn fetch_locked(&self, state: &mut FetchState, now: i64) {
        self.last_attempt.store(now, Ordering::Release);
        let shared = Arc::clone(&self.shared);
        state.in_flight = Some(tokio::spawn(
            async move { shared.fetch_and_store(now).await },
        ));
        Self::finish_in_flight(state).await;
    }
}

impl Shared {
    async fn fetch_and_store(&self, started: i64) {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        match self.fetch_set().await {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), "fetched the gateway's JWK Set");
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
                self.fetched_at.fetch_max(started, Ordering::AcqRel);
                self.last_failed.store(false, Ordering::Release);
            }
            Err(error) => {
                tracing::warn!(url = %self.url, %error, "could not fetch the gateway's JWK Set; keeping the keys we have");
                self.last_failed.store(true, Ordering::Release);
            }
        }
    }

    async fn fetch_set(&self) -> Result<KeyMap, JwksError> {
        let mut response = self
            .http
            .get(self.url.clone())
            .header(
                reqwest::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(JwksError::Status(response.status().as_u16()));
        }
        let too_large = JwksError::TooLarge(MAX_JWKS_BYTES);
        if response
            .content_length()
            .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
        {
            return Err(too_large);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        jwks::parse(&body)
    }
}
