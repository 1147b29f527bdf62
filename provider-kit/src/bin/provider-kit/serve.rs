//! `provider-kit serve`: resolves the settings (defaults, `--config` file, flags), reads the
//! credentials, and runs `provider_kit::devprovider` until SIGINT or SIGTERM, finishing requests in
//! flight; over HTTPS with `--tls-cert`/`--tls-key`, the certificate reloaded on SIGHUP and on file
//! change. `provider-kit reload-manifest` lives here too.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use provider_kit::auth::SystemClock;
use provider_kit::client::{Credentials, GatewayClient};
use provider_kit::devprovider::{DevProvider, ServeConfig};
use provider_kit::tls::ReloadingCert;

use crate::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = ServeConfig::resolve(args.into())?;
    let provider = DevProvider::new(config.dev_config()?).await?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("while binding {}", config.listen))?;
    match &config.tls {
        None => provider.serve(listener, shutdown_signal()).await?,
        Some(files) => {
            let cert = ReloadingCert::from_files(files)?;
            provider
                .serve_https(listener, cert, shutdown_signal())
                .await?
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// `provider-kit reload-manifest`: asks the gateway to fetch the manifest now and prints its answer.
pub async fn reload_manifest(credentials: &Path) -> anyhow::Result<()> {
    let credentials = Credentials::load(credentials)?;
    let client = GatewayClient::new(credentials.client_config(), Arc::new(SystemClock))?;
    let answer = client
        .reload_manifest()
        .await
        .context("while asking the gateway to reload the manifest")?;
    crate::say(&serde_json::to_string_pretty(&answer)?)
}
