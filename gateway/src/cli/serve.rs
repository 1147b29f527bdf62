//! `gateway serve`: bind, build the App, serve until a signal.

use crate::app::{App, serve as serve_app, shutdown_signal};
use crate::clock::SystemClock;
use crate::config::Config;
use anyhow::Context;
use std::sync::Arc;

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("while binding {}", config.listen))?;
    let bound = listener
        .local_addr()
        .context("while reading the bound address")?;
    let issuer = config.issuer(Some(bound));
    let app = App::build(config, issuer.clone(), Arc::new(SystemClock)).await?;
    tracing::info!(%bound, %issuer, database = app.store.backend_name(), "gateway listening");
    serve_app(app, listener, shutdown_signal())
        .await
        .context("while serving")?;
    tracing::info!("stopped");
    Ok(())
}
