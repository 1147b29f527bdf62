//! Requests in flight on one connection, and the deadline that closes it when none is: the
//! header-read timeout until its first request starts, the idle timeout after that.

use std::future::Future;
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
    /// `sleep` is the timer (`tokio::time::sleep`; tests pass their own).
    pub async fn expired<F: Future<Output = ()>>(
        &self,
        first: Duration,
        idle: Duration,
        sleep: impl Fn(Duration) -> F,
    ) {
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
                () = sleep(quiet_for) => return,
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
    use futures_util::FutureExt;
    use std::sync::Mutex;

    const FIRST: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(60);

    /// A timer the test fires by hand, recording each wait asked of it.
    struct Timer {
        asked: Mutex<Vec<Duration>>,
        fire: watch::Sender<bool>,
    }

    impl Timer {
        fn new() -> Arc<Self> {
            Arc::new(Self {
                asked: Mutex::new(Vec::new()),
                fire: watch::Sender::new(false),
            })
        }

        fn sleep(
            self: &Arc<Self>,
        ) -> impl Fn(Duration) -> futures_util::future::BoxFuture<'static, ()> {
            let timer = self.clone();
            move |d| {
                timer.asked.lock().unwrap().push(d);
                let mut fired = timer.fire.subscribe();
                async move {
                    let _ = fired.wait_for(|f| *f).await;
                }
                .boxed()
            }
        }

        fn asked(&self) -> Vec<Duration> {
            self.asked.lock().unwrap().clone()
        }
    }

    #[test]
    fn before_its_first_request_a_connection_has_the_header_read_timeout() {
        let (activity, timer) = (Activity::new(), Timer::new());
        let expired = activity.expired(FIRST, IDLE, timer.sleep());
        tokio::pin!(expired);
        assert!(expired.as_mut().now_or_never().is_none());
        assert_eq!(timer.asked(), [FIRST]);
        timer.fire.send_replace(true);
        assert!(expired.now_or_never().is_some());
    }

    #[test]
    fn a_request_in_flight_holds_the_connection_and_then_the_idle_timeout_runs() {
        let (activity, timer) = (Activity::new(), Timer::new());
        let request = activity.begin();
        let expired = activity.expired(FIRST, IDLE, timer.sleep());
        tokio::pin!(expired);
        assert!(expired.as_mut().now_or_never().is_none());
        assert_eq!(
            timer.asked(),
            Vec::<Duration>::new(),
            "no timer runs while a request is in flight"
        );
        drop(request);
        assert!(expired.as_mut().now_or_never().is_none());
        assert_eq!(timer.asked(), [IDLE]);
        timer.fire.send_replace(true);
        assert!(expired.now_or_never().is_some());
    }

    #[test]
    fn a_request_that_starts_while_quiet_restarts_the_wait_with_the_idle_timeout() {
        let (activity, timer) = (Activity::new(), Timer::new());
        let expired = activity.expired(FIRST, IDLE, timer.sleep());
        tokio::pin!(expired);
        assert!(expired.as_mut().now_or_never().is_none());
        let request = activity.begin();
        assert!(expired.as_mut().now_or_never().is_none());
        drop(request);
        assert!(expired.as_mut().now_or_never().is_none());
        assert_eq!(timer.asked(), [FIRST, IDLE]);
    }
}
