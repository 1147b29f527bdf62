//! Wires the dev provider from provider-kit's public parts — `Verifier` for the gateway's tokens,
//! `GatewayClient` for charges and reports, `usermap` for the mapping store (`{data_dir}/usermap.db`),
//! automatic accounts and the `/usermap` connection flow, `ProviderRouter` for `/ucloud/<id>` — and
//! serves it on a listener until the shutdown future resolves, finishing requests in flight.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use tokio::net::TcpListener;

use super::DevProviderError;
use super::accounts::Mapper;
use super::config::DevProviderConfig;
use super::jobs::{self, Jobs};
use super::no_users::{self, NoLocalUsers};
use super::storage::{self, Storage};
use crate::auth::{Clock, SystemClock, Verifier};
use crate::client::{ClientError, Credentials, GatewayClient};
use crate::doctor::Doctor;
use crate::router::{ManifestSource, ProviderRouter};
use crate::tls::{self, ReloadingCert};
use crate::usermap::{
    self, FileAuthenticator, FlowSettings, LocalAuthenticator, MappingStore, STORE_FILE,
    UsermapFlow,
};

/// What the dev provider's handlers share.
#[derive(Clone)]
struct DevState {
    verifier: Verifier,
    mapper: Arc<Mapper>,
    storage: Arc<Storage>,
    jobs: Arc<Jobs<GatewayClient>>,
}

impl FromRef<DevState> for Verifier {
    fn from_ref(state: &DevState) -> Self {
        state.verifier.clone()
    }
}

impl FromRef<DevState> for Arc<Mapper> {
    fn from_ref(state: &DevState) -> Self {
        Arc::clone(&state.mapper)
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
    /// For the pending-connection retry task that runs while serving.
    accounts: usermap::Accounts,
}

impl DevProvider {
    /// Builds the provider and checks the gateway: a wrong URL or a refused refresh token is an
    /// error now; an unreachable gateway only a warning (it may start after the provider).
    pub async fn new(config: DevProviderConfig) -> Result<Self, DevProviderError> {
        let credentials = &config.credentials;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let verifier = Verifier::new(credentials.verifier_config(), Arc::clone(&clock))?;
        let client = GatewayClient::new(credentials.client_config(), Arc::clone(&clock))?;
        let manifest = ManifestSource::file(&config.manifest)?;
        // A broken users file stops the provider now rather than at a user's sign-in.
        let authenticator: Option<Arc<dyn LocalAuthenticator>> = match &config.users_file {
            Some(path) => Some(Arc::new(FileAuthenticator::new(path)?)),
            None => None,
        };
        std::fs::create_dir_all(&config.data_dir).map_err(|source| DevProviderError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let store_path = config.data_dir.join(STORE_FILE);
        let store =
            MappingStore::open(&store_path)
                .await
                .map_err(|source| DevProviderError::Store {
                    path: store_path.display().to_string(),
                    source,
                })?;
        let reporter = Arc::new(client.clone());
        let accounts = usermap::Accounts::new(config.accounts.clone(), store, clock, reporter)?;
        check_gateway(&verifier, &client, credentials).await?;

        let provider_id = credentials.provider_id.clone();
        let flow = UsermapFlow::new(
            verifier.clone(),
            accounts.clone(),
            authenticator
                .clone()
                .unwrap_or_else(|| Arc::new(NoLocalUsers)),
            flow_settings(credentials),
        );
        let usermap_routes = match authenticator {
            Some(_) => usermap::router(flow),
            None => {
                tracing::warn!(
                    "no users file: the connection flow's login will say that no local users are \
                     configured (pass --users-file)"
                );
                usermap::router_with_login(flow, no_users::login_routes())
            }
        };
        let jobs = Jobs::new(provider_id.clone(), client.clone(), config.max_job_secs);
        let state = DevState {
            verifier: verifier.clone(),
            mapper: Arc::new(Mapper::new(accounts.clone(), manifest.clone())),
            storage: Arc::new(Storage {
                data_dir: config.data_dir.clone(),
                max_upload_bytes: config.max_upload_bytes,
            }),
            jobs: Arc::clone(&jobs),
        };
        let router = ProviderRouter::new(verifier, manifest)
            .usermap(usermap_routes)
            .build_with_state(features(), state)
            .merge(crate::metrics::routes());
        Ok(Self {
            router,
            jobs,
            provider_id,
            data_dir: config.data_dir,
            accounts,
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
        let retries = self.spawn_pending_retries();
        let served = axum::serve(listener, self.router.clone())
            .with_graceful_shutdown(shutdown)
            .await;
        retries.abort();
        self.finish(served)
    }

    /// `serve` over HTTPS with `cert` (h2 and http/1.1), reloading it on SIGHUP and when its files
    /// change (`tls::watch`) while it serves.
    pub async fn serve_https(
        self,
        listener: TcpListener,
        cert: Arc<ReloadingCert>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), DevProviderError> {
        let address = listener.local_addr().map_err(DevProviderError::Serve)?;
        tracing::info!(
            "serving https://{address}/ucloud/{} (data in {})",
            self.provider_id,
            self.data_dir.display()
        );
        let watcher = tokio::spawn(tls::watch(cert.clone(), tls::DEFAULT_POLL_INTERVAL));
        let retries = self.spawn_pending_retries();
        let served = tls::serve(listener, self.router.clone(), cert, shutdown).await;
        watcher.abort();
        retries.abort();
        self.finish(served)
    }

    /// The task that looks at pending connections every `accounts.pending_retry_secs` (the dev
    /// provider resolves nothing by itself: an operator's link does), stopped when serving ends.
    fn spawn_pending_retries(&self) -> tokio::task::JoinHandle<()> {
        let every =
            std::time::Duration::from_secs(self.accounts.config().pending_retry_secs.max(1).into());
        tokio::spawn(usermap::run_pending_retries(
            self.accounts.clone(),
            Arc::new(usermap::OperatorResolves),
            every,
            std::future::pending(),
        ))
    }

    /// After serving: stops every running job.
    fn finish(self, served: std::io::Result<()>) -> Result<(), DevProviderError> {
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

/// The login page names the provider; the gateway's return URL must be on the issuer's origin (the
/// gateway builds it from its issuer, so anything else did not come from it).
fn flow_settings(credentials: &Credentials) -> FlowSettings {
    let mut settings = FlowSettings::new(format!("the provider {}", credentials.provider_id));
    settings.gateway_origin = reqwest::Url::parse(&credentials.issuer)
        .ok()
        .map(|url| url.origin())
        .filter(|origin| origin.is_tuple())
        .map(|origin| origin.ascii_serialization());
    settings
}

/// Runs `doctor`'s start-up checks and logs each (a clock skew as a warning). A refused refresh
/// token stops the provider; an unreachable gateway is only a warning: it may start after the
/// provider.
async fn check_gateway(
    verifier: &Verifier,
    client: &GatewayClient,
    credentials: &Credentials,
) -> Result<(), DevProviderError> {
    let doctor = Doctor::new(
        client.clone(),
        verifier.clone(),
        credentials.jwks_url.clone(),
        credentials.verifier_config().leeway,
    );
    let (checks, outcome) = doctor.start_up().await;
    for check in &checks {
        check.log();
    }
    match outcome {
        Err(error @ ClientError::RefreshRejected(_)) => Err(DevProviderError::RefreshRejected {
            provider: client.provider_id().to_owned(),
            error,
        }),
        Ok(()) | Err(_) => Ok(()),
    }
}
