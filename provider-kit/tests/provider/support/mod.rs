//! Test kit for provider-kit's public API: a fake gateway (keys, tokens, wallets) and helpers to run
//! a provider's router on 127.0.0.1:0, run the `provider-kit` binary, and wait on conditions.

pub mod dev;
pub mod process;

// The fake gateway is the `testing` kit provider developers use too.
pub use provider_kit::testing::{gateway, signing};

use std::time::Duration;

pub use gateway::{ChargeMode, FakeGateway, ReloadAnswer};

/// A server task that stops when the test drops it.
pub struct Served {
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on 127.0.0.1:0.
pub async fn serve(router: axum::Router) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move { axum::serve(listener, router).await.expect("server") });
    Served { base, task }
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
