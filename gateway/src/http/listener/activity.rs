//! Requests in flight on one connection, and the deadline that closes it when none is: the
//! header-read timeout until its first request starts; after that, on HTTP/2 the idle timeout,
//! and on HTTP/1.1 the header-read timeout again (or the idle one, when shorter). From outside
//! the parser an HTTP/1.1 connection waiting for its next request and one stalled inside a
//! request's head look the same: both are bounded by the header-read timeout, as SPEC §7 says.
//! (hyper's own per-request header timer did this before, at the price of a boxed timer armed and
//! disarmed on every request.)
//!
//! Starting or ending a request writes three atomics and reads the clock; only the deadline's own
//! timer wakes the connection, once per timeout period, and then reads them. (A channel that woke
//! the deadline on every request start and end, and re-armed its timer each time, cost a busy
//! connection two wake-ups and a timer per request.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Clone)]
pub struct Activity(Arc<Shared>);

struct Shared {
    /// When the connection was accepted: the origin of `changed_at`.
    opened: Instant,
    in_flight: AtomicUsize,
    /// Whether the connection speaks HTTP/2 (many requests at once, each with its own head).
    multiplexed: AtomicBool,
    /// Requests started on the connection, ever.
    started: AtomicU64,
    /// Nanoseconds after `opened` when a request last started or ended.
    changed_at: AtomicU64,
}

impl Shared {
    fn touch(&self) {
        let since = u64::try_from(self.opened.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.changed_at.store(since, Ordering::SeqCst);
    }
}

/// One request counted as in flight until dropped (its response body sent or abandoned).
pub struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Activity {
    pub fn new() -> Self {
        Self(Arc::new(Shared {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            multiplexed: AtomicBool::new(false),
            started: AtomicU64::new(0),
            changed_at: AtomicU64::new(0),
        }))
    }

    /// A request of `version` starts.
    pub fn begin(&self, version: http::Version) -> InFlight {
        if version == http::Version::HTTP_2 {
            self.0.multiplexed.store(true, Ordering::Relaxed);
        }
        self.0.touch();
        self.0.started.fetch_add(1, Ordering::SeqCst);
        self.0.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.0.clone())
    }

    /// Resolves once the connection has had no request in flight for `first` (before any request
    /// started; on HTTP/1.1 also after one did, or `idle` when shorter) or `idle` (HTTP/2, after a
    /// request started), counted from the last start or end. While a request is in flight the
    /// connection stays open, however long it takes.
    pub async fn expired(&self, first: Duration, idle: Duration) {
        let shared = &self.0;
        // The earliest either wait can end; a first wake-up too early only re-arms.
        let mut deadline = shared.opened + first.min(idle);
        loop {
            tokio::time::sleep_until(deadline).await;
            let quiet = if shared.started.load(Ordering::SeqCst) == 0 {
                first
            } else if shared.multiplexed.load(Ordering::Relaxed) {
                idle
            } else {
                first.min(idle)
            };
            if shared.in_flight.load(Ordering::SeqCst) > 0 {
                deadline = Instant::now() + quiet;
                continue;
            }
            let changed = Duration::from_nanos(shared.changed_at.load(Ordering::SeqCst));
            let due = shared.opened + changed + quiet;
            if due <= Instant::now() {
                return;
            }
            deadline = due;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    const FIRST: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(60);
    const TICK: Duration = Duration::from_millis(1);
    const H1: http::Version = http::Version::HTTP_11;
    const H2: http::Version = http::Version::HTTP_2;

    /// Lets the paused clock run `d` and the deadline see it; whether it has expired by then.
    async fn after(
        expired: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
        d: Duration,
    ) -> bool {
        tokio::time::advance(d).await;
        expired.as_mut().now_or_never().is_some()
    }

    #[tokio::test(start_paused = true)]
    async fn before_its_first_request_a_connection_has_the_header_read_timeout() {
        let activity = Activity::new();
        let expired = activity.expired(FIRST, IDLE);
        tokio::pin!(expired);
        assert!(!after(&mut expired, FIRST - TICK).await);
        assert!(
            after(&mut expired, TICK).await,
            "closed at the header-read timeout"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_holds_the_connection_and_then_the_idle_timeout_runs() {
        let activity = Activity::new();
        let request = activity.begin(H2);
        let expired = activity.expired(FIRST, IDLE);
        tokio::pin!(expired);
        assert!(
            !after(&mut expired, FIRST + IDLE * 3).await,
            "a request in flight holds the connection past both timeouts"
        );
        drop(request);
        assert!(!after(&mut expired, IDLE - TICK).await);
        assert!(
            after(&mut expired, TICK).await,
            "closed one idle timeout after the request ended"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn each_http2_request_restarts_the_wait_with_the_idle_timeout() {
        let activity = Activity::new();
        let expired = activity.expired(FIRST, IDLE);
        tokio::pin!(expired);
        assert!(!after(&mut expired, FIRST - TICK * 2).await);
        drop(activity.begin(H2));
        assert!(
            !after(&mut expired, IDLE - TICK).await,
            "a request ended: the idle timeout counts from then, not the header-read one"
        );
        drop(activity.begin(H2));
        assert!(
            !after(&mut expired, IDLE - TICK).await,
            "and again from the next"
        );
        assert!(after(&mut expired, TICK).await);
    }

    #[tokio::test(start_paused = true)]
    async fn an_http1_connection_waits_for_its_next_request_as_long_as_for_its_first() {
        let activity = Activity::new();
        let expired = activity.expired(FIRST, IDLE);
        tokio::pin!(expired);
        let request = activity.begin(H1);
        assert!(!after(&mut expired, IDLE * 2).await, "in flight: held");
        drop(request);
        assert!(!after(&mut expired, FIRST - TICK).await);
        assert!(
            after(&mut expired, TICK).await,
            "closed one header-read timeout after its request ended, not one idle timeout"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_http1_connection_with_a_shorter_idle_timeout_closes_at_that() {
        let activity = Activity::new();
        let (first, idle) = (IDLE, FIRST);
        let expired = activity.expired(first, idle);
        tokio::pin!(expired);
        drop(activity.begin(H1));
        assert!(!after(&mut expired, idle - TICK).await);
        assert!(after(&mut expired, TICK).await, "the shorter of the two");
    }
}
