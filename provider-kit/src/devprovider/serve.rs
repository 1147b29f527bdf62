//! Wires the dev provider from provider-kit's public parts — `Verifier` for the gateway's tokens,
//! `GatewayClient` for charges and reports, `ProviderRouter` for `/ucloud/<id>` — and serves it on
//! a listener until the shutdown future resolves, finishing requests in flight.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use tokio::net::TcpListener;

use super::DevProviderError;
use super::accounts::Accounts;
use super::config::DevProviderConfig;
use super::jobs::{self, Jobs};
use super::storage::{self, Storage};
use crate::auth::{Clock, SystemClock, Verifier};
use crate::client::{ClientError, GatewayClient};
use crate::router::{ManifestSource, ProviderRouter};

/// What the dev provider's handlers share.
#[derive(Clone)]
struct DevState {
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

/// A dev provider ready to serve: configured, its data dir made, the gateway checked.
pub struct DevProvider {
    router: Router,
    jobs: Arc<Jobs<GatewayClient>>,
    provider_id: String,
    data_dir: std::path::PathBuf,
}

impl DevProvider {
    /// Builds the provider and checks the gateway: a wrong URL or a refused refresh token is an
    /// error now; an unreachable gateway only a warning (it may start after the provider).
    pub async fn new(config: DevProviderConfig) -> Result<Self, DevProviderError> {
        let credentials = &config.credentials;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let verifier = Verifier::new(credentials.verifier_config(), Arc::clone(&clock))?;
        let client = GatewayClient::new(credentials.client_config(), clock)?;
        let manifest = ManifestSource::file(&config.manifest)?;
        std::fs::create_dir_all(&config.data_dir).map_err(|source| DevProviderError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
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
        Ok(Self {
            router,
            jobs,
            provider_id,
            data_dir: config.data_dir,
        })
    }

    /// The provider's router: everything under `/ucloud/<id>`.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves on `listener` until `shutdown` resolves, then finishes requests in flight and stops
    /// every running job.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), DevProviderError> {
        let address = listener.local_addr().map_err(DevProviderError::Serve)?;
        tracing::info!(
            "serving http://{address}/ucloud/{} (data in {})",
            self.provider_id,
            self.data_dir.display()
        );
        let served = axum::serve(listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await;
        self.jobs.cancel_all();
        served.map_err(DevProviderError::Serve)?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Runs the dev provider of `config` on `listener` until `shutdown` resolves: what `provider-kit
/// serve` and `gateway dev` do.
pub async fn serve(
    config: DevProviderConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DevProviderError> {
    DevProvider::new(config)
        .await?
        .serve(listener, shutdown)
        .await
}

/// Finds a wrong URL or a refused refresh token at start-up. An unreachable gateway is only a
/// warning: it may start after the provider.
async fn check_gateway(
    verifier: &Verifier,
    client: &GatewayClient,
) -> Result<(), DevProviderError> {
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
            return Err(DevProviderError::RefreshRejected {
                provider: client.provider_id().to_owned(),
                error,
            });
        }
        Err(error) => {
            tracing::warn!(%error, "cannot get an access token yet; will retry on the first charge")
        }
    }
    Ok(())
}
