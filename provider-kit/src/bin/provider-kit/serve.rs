//! `provider-kit serve`: wires the dev provider from provider-kit's public parts — `Verifier` for the
//! gateway's tokens, `GatewayClient` for charges and reports, `ProviderRouter` for `/ucloud/<id>` —
//! and runs it until SIGINT or SIGTERM, finishing requests in flight.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use provider_kit::auth::{Clock, SystemClock, Verifier};
use provider_kit::client::{ClientError, Credentials, GatewayClient};
use provider_kit::router::{ManifestSource, ProviderRouter};

use crate::ServeArgs;
use crate::accounts::Accounts;
use crate::config::ServeConfig;
use crate::jobs::{self, Jobs};
use crate::storage::{self, Storage};

/// What the dev provider's handlers share.
#[derive(Clone)]
pub struct DevState {
    verifier: Verifier,
    accounts: Arc<Accounts>,
    storage: Arc<Storage>,
    jobs: Arc<Jobs<GatewayClient>>,
}

impl FromRef<DevState> for Verifier {
    fn from_ref(state: &DevState) -> Self {
        state.verifier.clone()
    }
}

impl FromRef<DevState> for Arc<Accounts> {
    fn from_ref(state: &DevState) -> Self {
        Arc::clone(&state.accounts)
    }
}

impl FromRef<DevState> for Arc<Storage> {
    fn from_ref(state: &DevState) -> Self {
        Arc::clone(&state.storage)
    }
}

impl FromRef<DevState> for Arc<Jobs<GatewayClient>> {
    fn from_ref(state: &DevState) -> Self {
        Arc::clone(&state.jobs)
    }
}

/// The dev provider's features, relative to `/ucloud/<id>`; the router puts them behind the
/// service-token layer.
fn features() -> Router<DevState> {
    type W = GatewayClient;
    Router::new()
        .route("/storage/files", get(storage::get))
        .route(
            "/storage/files/{*path}",
            get(storage::get).put(storage::put).delete(storage::delete),
        )
        .route(
            "/compute/docker/jobs",
            get(jobs::list::<W>).post(jobs::submit::<W>),
        )
        .route(
            "/compute/docker/jobs/{id}",
            get(jobs::get::<W>).delete(jobs::cancel::<W>),
        )
        .route("/compute/docker/logs/{id}", get(jobs::logs::<W>))
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = ServeConfig::resolve(args)?;
    let credentials = Credentials::load(&config.credentials)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let verifier = Verifier::new(credentials.verifier_config(), Arc::clone(&clock))
        .context("while reading the gateway's issuer and JWKS URL from the credentials")?;
    let client = GatewayClient::new(credentials.client_config(), clock)
        .context("while reading the gateway URL from the credentials")?;
    let manifest = ManifestSource::file(&config.manifest)?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("while creating the data dir {}", config.data_dir.display()))?;
    check_gateway(&verifier, &client).await?;

    let provider_id = credentials.provider_id.clone();
    let jobs = Jobs::new(provider_id.clone(), client.clone(), config.max_job_secs);
    let state = DevState {
        verifier: verifier.clone(),
        accounts: Arc::new(Accounts::new(Some(client))),
        storage: Arc::new(Storage {
            data_dir: config.data_dir.clone(),
            max_upload_bytes: config.max_upload_bytes,
        }),
        jobs: Arc::clone(&jobs),
    };
    let router = ProviderRouter::new(verifier, manifest).build_with_state(features(), state);
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("while binding {}", config.listen))?;
    let address = listener
        .local_addr()
        .context("while reading the bound address")?;
    tracing::info!(
        "serving http://{address}/ucloud/{provider_id} (data in {})",
        config.data_dir.display()
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("while serving")?;
    jobs.cancel_all();
    tracing::info!("stopped");
    Ok(())
}

/// Finds a wrong URL or a refused refresh token at start-up. An unreachable gateway is only a
/// warning: it may start after the provider.
async fn check_gateway(verifier: &Verifier, client: &GatewayClient) -> anyhow::Result<()> {
    match verifier.refresh_keys().await {
        Ok(keys) => tracing::info!(keys, "fetched the gateway's signing keys"),
        Err(error) => {
            tracing::warn!(%error, "cannot fetch the gateway's keys yet; will retry on the first request")
        }
    }
    match client.check().await {
        Ok(()) => tracing::info!(
            gateway = client.gateway_url(),
            "the gateway accepts this provider's refresh token"
        ),
        Err(error @ ClientError::RefreshRejected(_)) => {
            anyhow::bail!(
                "{error}; an admin can issue a new one with `gateway providers rotate-token {}`",
                client.provider_id()
            )
        }
        Err(error) => {
            tracing::warn!(%error, "cannot get an access token yet; will retry on the first charge")
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
