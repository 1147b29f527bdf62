//! Requests in flight on one connection, and the deadline that closes it when none is: the
//! header-read timeout until its first request starts, the idle timeout after that.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Clone)]
pub struct Activity(Arc<watch::Sender<usize>>);

/// One request counted as in flight until dropped (its response body sent or abandoned).
pub struct InFlight(Arc<watch::Sender<usize>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Activity {
    pub fn new() -> Self {
        Self(Arc::new(watch::Sender::new(0)))
    }

    pub fn begin(&self) -> InFlight {
        self.0.send_modify(|n| *n += 1);
        InFlight(self.0.clone())
    }

    /// Resolves once the connection has had no request in flight for `first` (before any request
    /// started) or `idle` (after one did). Any request starting or ending restarts the wait.
    pub async fn expired(&self, first: Duration, idle: Duration) {
        let mut changes = self.0.subscribe();
        let mut quiet_for = first;
        loop {
            if *changes.borrow_and_update() != 0 {
                quiet_for = idle;
                if changes.wait_for(|n| *n == 0).await.is_err() {
                    return std::future::pending().await;
                }
            }
            tokio::select! {
                () = tokio::time::sleep(quiet_for) => return,
                changed = changes.changed() => if changed.is_err() {
                    return std::future::pending().await;
                },
            }
            quiet_for = idle;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_connection_expires_only_while_no_request_is_in_flight() {
        let activity = Activity::new();
        let expired = activity.expired(Duration::from_secs(1), Duration::from_secs(60));
        tokio::pin!(expired);
        let request = activity.begin();
        // Paused time jumps ahead; a request in flight holds the connection open.
        assert!(
            tokio::time::timeout(Duration::from_secs(600), &mut expired)
                .await
                .is_err()
        );
        drop(request);
        let started = tokio::time::Instant::now();
        expired.await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(60) && waited < Duration::from_secs(61));
    }

    #[tokio::test(start_paused = true)]
    async fn before_its_first_request_a_connection_has_the_header_read_timeout() {
        let activity = Activity::new();
        let started = tokio::time::Instant::now();
        activity
            .expired(Duration::from_secs(1), Duration::from_secs(60))
            .await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(1) && waited < Duration::from_secs(2));
    }
}
