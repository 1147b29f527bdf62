//! `App::build` wires everything once: store, clock, key ring, domain services. `serve` runs it on a
//! listener until the shutdown future resolves; tests call it with port 0.

use crate::accounting::Accounting;
use crate::accounts::Accounts;
use crate::audit::Audit;
use crate::broker::{Broker, Upstreams};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::connections::Connections;
use crate::keys::KeyRing;
use crate::manifests::Manifests;
use crate::projects::Projects;
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
    pub accounting: Accounting,
    pub projects: Projects,
    pub audit: Audit,
    pub registry: Registry,
    pub tokens: Tokens,
    pub manifests: Arc<Manifests>,
    pub broker: Broker,
    pub connections: Connections,
    /// The operator's OpenID Providers (SPEC §8); empty without `identity_providers:`.
    pub identity_providers: crate::oidc::IdentityProviders,
    pub http_metrics: crate::metrics::HttpMetrics,
    /// Whether the change feed is listening (SPEC §10), for `/readyz`.
    pub feed_health: crate::changes::FeedHealth,
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
        let keys = KeyRing::open(
            store.clone(),
            &config.keys,
            config.keys_dir(),
            clock.clone(),
            retention,
        )
        .await
        .context("while loading the signing keys")?;
        let keys = Arc::new(keys);
        let tokens = Tokens::new(
            store.clone(),
            keys.clone(),
            clock.clone(),
            issuer.clone(),
            config.access_token_ttl_secs,
            config.service_token_ttl_secs,
        );
        let manifests = Manifests::new(
            store.clone(),
            tokens.clone(),
            clock.clone(),
            config.manifest.clone(),
        )
        .context("while setting up manifest fetching")?;
        manifests
            .reload_from_store()
            .await
            .context("while loading cached manifests")?;
        let upstreams = Upstreams::new(
            &config.manifest,
            Duration::from_millis(config.broker.connect_timeout_ms),
        )
        .map_err(|e| anyhow::anyhow!("while setting up the broker's client: {e}"))?;
        let identity_providers = crate::oidc::IdentityProviders::new(
            &config.identity_providers,
            &crate::outbound::OutboundConfig {
                extra_roots: config.manifest.extra_roots.clone(),
                allow_private: Vec::new(),
                connect_timeout: Duration::from_millis(config.manifest.connect_timeout_ms),
            },
            store.clone(),
            clock.clone(),
            issuer.clone(),
        )
        .map_err(|e| anyhow::anyhow!("while setting up the identity providers: {e}"))?;
        Ok(Arc::new(Self {
            identity_providers,
            http_metrics: Default::default(),
            feed_health: Default::default(),
            connections: Connections::new(
                store.clone(),
                clock.clone(),
                tokens.clone(),
                issuer.clone(),
                manifests.clients(),
            ),
            broker: Broker::new(config.broker.clone(), upstreams, &issuer),
            accounts: Accounts::new(
                store.clone(),
                clock.clone(),
                config.session_ttl_secs,
                config.credential_cache_ms,
            )
            .with_throttle_policy(config.sign_in.policy()),
            accounting: Accounting::new(store.clone(), clock.clone()),
            projects: Projects::new(store.clone(), clock.clone()),
            audit: Audit::new(store.clone(), clock.clone()),
            registry: Registry::new(
                store.clone(),
                clock.clone(),
                config.providers.test_registration,
            ),
            tokens,
            manifests: Arc::new(manifests),
            issuer,
            store,
            clock,
            keys,
            config,
        }))
    }

    /// Disables an account (sessions and API tokens revoked with it) and ends every provider
    /// connection of the user, telling each provider.
    pub async fn disable_user(
        &self,
        actor: &crate::audit::Actor,
        username: &str,
    ) -> Result<crate::accounts::AccountLifecycle, crate::accounts::AccountError> {
        let done = self.accounts.disable(actor, username).await?;
        let providers = self.registry.list_all().await.unwrap_or_default();
        match self
            .connections
            .disconnect_all(&done.user, &providers)
            .await
        {
            Ok(n) => {
                tracing::info!(user = %username, connections = n, "connections of a disabled account ended")
            }
            Err(e) => {
                tracing::error!(user = %username, error = %e, "ending the connections of a disabled account failed")
            }
        }
        Ok(done)
    }

    /// When a key rotated in now starts signing.
    pub fn key_activation(&self, immediate: bool) -> crate::keys::Activation {
        if immediate {
            crate::keys::Activation::Now
        } else {
            crate::keys::Activation::After(self.config.key_activation_secs)
        }
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
/// the background tasks. No metrics listener: see `serve_with_metrics`.
pub async fn serve(
    app: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_metrics(app, listener, None, shutdown).await
}

/// `serve`, plus `GET /metrics` on `metrics` (its own listener, SPEC §7) when given. Every
/// listener runs `http::listener` with the `server:` limits.
pub async fn serve_with_metrics(
    app: AppState,
    listener: TcpListener,
    metrics: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use crate::http::listener::{self, Limits, Listener, ListenerStats};
    // Fail before anything starts if the TLS files are unusable.
    let tls = match &app.config.tls {
        Some(tls) => Some(
            crate::tls::server::reloading(&tls.cert, &tls.key)
                .map_err(|e| std::io::Error::other(e.to_string()))?,
        ),
        None => None,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = vec![
        tokio::spawn(reload_keys(app.clone(), stop_rx.clone())),
        tokio::spawn(expire_sessions(app.clone(), stop_rx.clone())),
        tokio::spawn(refresh_manifests(app.clone(), stop_rx.clone())),
        tokio::spawn(crate::changes::follow(app.clone(), stop_rx.clone())),
        tokio::spawn(crate::changes::resync_periodically(
            app.clone(),
            stop_rx.clone(),
        )),
    ];
    // SIGHUP and changed files reload the certificate for new handshakes.
    if let Some(tls) = &tls {
        let watcher = crate::tls::server::watch_until(tls.cert.clone(), stop_rx.clone());
        tasks.push(tokio::spawn(watcher));
    }
    let limits = Limits::from_config(&app.config.server);
    let public = Listener {
        tcp: listener,
        tls: tls.map(|tls| crate::http::tls::acceptor(tls.config)),
        stats: ListenerStats::new("public"),
    };
    let mut stats = vec![public.stats.clone()];
    let metrics = metrics.map(|tcp| Listener {
        tcp,
        tls: None,
        stats: ListenerStats::new("metrics"),
    });
    if let Some(m) = &metrics {
        stats.push(m.stats.clone());
    }
    let (drain_tx, drain_rx) = watch::channel(false);
    let public = listener::serve(
        public,
        crate::http::router(app.clone()),
        limits,
        drain_rx.clone(),
    );
    let metrics_router = crate::http::metrics::router(app.clone(), stats);
    let metrics = async {
        match metrics {
            Some(m) => listener::serve(m, metrics_router, limits, drain_rx).await,
            None => Ok(()),
        }
    };
    let signal = async move {
        shutdown.await;
        let _ = drain_tx.send(true);
    };
    let (result, metrics_result, ()) = tokio::join!(public, metrics, signal);
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    app.store.close().await;
    result.and(metrics_result)
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
        if let Err(e) = app.identity_providers.sweep().await {
            tracing::warn!(error = %e, "removing abandoned identity-provider sign-ins failed");
        }
        if let Err(e) = app.accounts.sweep_sign_in_throttle().await {
            tracing::warn!(error = %e, "removing old sign-in counters failed");
        }
    }
}

/// Fetches due manifests every `poll_ms`, and every 15 polls re-reads what other replicas fetched.
async fn refresh_manifests(app: AppState, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_millis(app.config.manifest.poll_ms);
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(every) => {}
        }
        ticks += 1;
        if let Err(e) = app.registry.reload_cache().await {
            tracing::warn!(error = %e, "re-reading providers failed");
        }
        if ticks.is_multiple_of(15)
            && let Err(e) = app.manifests.reload_from_store().await
        {
            tracing::warn!(error = %e, "re-reading manifests failed");
        }
        let work = app.manifests.refresh_due();
        tokio::select! {
            _ = stop.changed() => return,
            result = work => if let Err(e) = result {
                tracing::warn!(error = %e, "manifest refresh round failed");
            },
        }
    }
}
