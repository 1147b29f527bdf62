//! `App::build` wires everything once: store, clock, key ring, domain services. `serve` runs it on a
//! listener until the shutdown future resolves; tests call it with port 0.

use crate::accounts::Accounts;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::keys::KeyRing;
use crate::registry::Registry;
use crate::store::Store;
use crate::tokens::Tokens;
use anyhow::Context;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub struct App {
    pub config: Config,
    pub issuer: String,
    pub store: Store,
    pub clock: SharedClock,
    pub keys: Arc<KeyRing>,
    pub accounts: Accounts,
    pub registry: Registry,
    pub tokens: Tokens,
}

pub type AppState = Arc<App>;

impl App {
    /// Connects and migrates the database and opens the key ring (generating the first key if none).
    /// `issuer` is the gateway's public URL, fixed before anything is signed.
    pub async fn build(
        config: Config,
        issuer: String,
        clock: SharedClock,
    ) -> anyhow::Result<AppState> {
        create_private_dir(&config.data_dir)?;
        let database_url = config.database_url();
        let store = Store::connect(&database_url).await.with_context(|| {
            format!(
                "while opening the database {}",
                crate::config::redact_url(&database_url)
            )
        })?;
        let retention = config
            .access_token_ttl_secs
            .max(config.service_token_ttl_secs)
            + 60;
        let keys = KeyRing::open(store.clone(), config.keys_dir(), clock.clone(), retention)
            .await
            .context("while loading the signing keys")?;
        let keys = Arc::new(keys);
        Ok(Arc::new(Self {
            accounts: Accounts::new(store.clone(), clock.clone(), config.session_ttl_secs),
            registry: Registry::new(store.clone(), clock.clone()),
            tokens: Tokens::new(
                store.clone(),
                keys.clone(),
                clock.clone(),
                issuer.clone(),
                config.access_token_ttl_secs,
            ),
            issuer,
            store,
            clock,
            keys,
            config,
        }))
    }

    /// True when the gateway is served over https, so cookies get `Secure`.
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

/// The data dir holds keys and (by default) the database: only its owner may enter it.
fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("while creating the data dir {}", dir.display()))?;
    }
    Ok(())
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains in-flight requests and stops
/// the background tasks.
pub async fn serve(
    app: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks = vec![
        tokio::spawn(reload_keys(app.clone(), stop_rx.clone())),
        tokio::spawn(expire_sessions(app.clone(), stop_rx.clone())),
    ];
    let router = crate::http::router(app.clone());
    let result = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    app.store.close().await;
    result
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}

/// Picks up keys another replica (or `gateway keys rotate`) added, and drops expired ones.
async fn reload_keys(app: AppState, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(app.config.key_reload_secs.max(1));
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(e) = app.keys.reload().await {
            tracing::warn!(error = %e, "key ring reload failed; keeping the keys loaded");
        }
    }
}

async fn expire_sessions(app: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(Duration::from_secs(600)) => {}
        }
        if let Err(e) = app.accounts.delete_expired_sessions().await {
            tracing::warn!(error = %e, "removing expired sessions failed");
        }
    }
}
