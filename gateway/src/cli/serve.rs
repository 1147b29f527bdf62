//! `gateway serve`: bind, build the App, serve until a signal.

use crate::app::App;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::serve::{serve_with_metrics, shutdown_signal};
use crate::store::ServeLock;
use anyhow::Context;
use std::sync::Arc;

pub async fn serve(config: Config) -> anyhow::Result<()> {
    // Held until `serve` returns: a second server on the same SQLite file refuses to start.
    let _lock = lock_for_serving(&config)?;
    let listener = bind(
        &config.listen,
        "the gateway",
        "choose another address with `listen` or GATEWAY_LISTEN=127.0.0.1:8081",
    )
    .await?;
    let bound = listener
        .local_addr()
        .context("while reading the bound address")?;
    let metrics = bind_metrics(&config.metrics_listen).await?;
    let issuer = config.issuer(Some(bound));
    let app = App::build(config, issuer.clone(), Arc::new(SystemClock)).await?;
    let runtime = match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::CurrentThread => "current-thread (one CPU)",
        _ => "multi-thread (one worker per CPU)",
    };
    tracing::info!(%bound, %issuer, database = app.store.backend_name(), runtime, "gateway listening");
    serve_with_metrics(app, listener, metrics, shutdown_signal())
        .await
        .context("while serving")?;
    tracing::info!("stopped");
    Ok(())
}

/// The SQLite serving lock (SPEC §10), taken before anything is bound or opened; none on PostgreSQL.
pub fn lock_for_serving(config: &Config) -> anyhow::Result<Option<ServeLock>> {
    Ok(crate::store::lock_for_serving(&config.database_url())?)
}

/// Binds `address` for `what`; a taken address (or any bind failure) says so and how to choose
/// another (`hint`). `serve` and `dev` answer alike.
pub async fn bind(
    address: &str,
    what: &str,
    hint: &str,
) -> anyhow::Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => Ok(listener),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            anyhow::bail!("{address} is already in use, so {what} cannot listen there; {hint}")
        }
        Err(e) => Err(e).with_context(|| format!("while binding {address} for {what}; {hint}")),
    }
}

/// The metrics listener (`metrics_listen`), or none when it is empty.
pub async fn bind_metrics(address: &str) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    if address.is_empty() {
        tracing::info!("metrics listener off (metrics_listen is empty)");
        return Ok(None);
    }
    let listener = bind(
        address,
        "the metrics listener",
        "set metrics_listen or GATEWAY_METRICS_LISTEN to another address, or to \"\" to turn it off",
    )
    .await?;
    let bound = listener
        .local_addr()
        .context("while reading the metrics address")?;
    tracing::info!(%bound, "metrics listening on http://{bound}/metrics");
    Ok(Some(listener))
}
