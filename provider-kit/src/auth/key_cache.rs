//! The gateway's public keys, kept in memory and refetched only when a token names a `kid` we do not
//! know (a key rotation, SPEC §2). Refetches are throttled by the `Clock` and single-flight, so a
//! flood of tokens with invented kids costs the gateway at most one request per interval; a failed
//! refetch keeps the keys we had.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
}

#[derive(Default)]
struct FetchState {
    last_attempt: Option<i64>,
    /// A fetch whose waiter went away (its request was cancelled); the next waiter awaits it
    /// instead of being throttled while it is still running.
    in_flight: Option<JoinHandle<()>>,
}

pub(crate) struct KeyCache {
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
    min_interval: i64,
    fetch: tokio::sync::Mutex<FetchState>,
}

impl KeyCache {
    pub(crate) fn new(
        url: reqwest::Url,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
        min_interval: Duration,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                url,
                http,
                keys: RwLock::new(Arc::new(KeyMap::new())),
                last_failed: AtomicBool::new(false),
                fetches: AtomicU64::new(0),
            }),
            clock,
            min_interval: super::config::secs(min_interval),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
        }
    }

    /// JWKS requests made so far, failed ones included.
    pub(crate) fn fetches(&self) -> u64 {
        self.shared.fetches.load(Ordering::Relaxed)
    }

    fn cached(&self, kid: &str) -> Option<Arc<VerifyingKey>> {
        let keys = self
            .shared
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        keys.get(kid).cloned()
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
        let throttled = state
            .last_attempt
            .is_some_and(|last| now < last.saturating_add(self.min_interval));
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
        state.last_attempt = Some(now);
        let shared = Arc::clone(&self.shared);
        state.in_flight = Some(tokio::spawn(async move { shared.fetch_and_store().await }));
        Self::finish_in_flight(state).await;
    }
}

impl Shared {
    async fn fetch_and_store(&self) {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        match self.fetch_set().await {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), "fetched the gateway's JWK Set");
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
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
