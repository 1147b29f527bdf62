//! `gateway dev`: a complete local federation in one command (SPEC §7). The gateway runs on the
//! embedded defaults (same code path as `serve`) next to the provider-kit dev provider, in-process;
//! an admin, a demo user with an API token and a wallet, the dev provider (a test provider owned
//! by the demo user, so it is usable at once) and its local user `demo_local` (to try Connect) are
//! made on the first run and reused after. It prints the URLs and credentials, and stops both
//! servers cleanly on SIGINT/SIGTERM.

mod setup;

use crate::app::{App, AppState};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::serve::{serve_with_metrics, shutdown_signal};
use anyhow::Context;
use provider_kit::client::{Credentials, Secret};
use provider_kit::devprovider::{DevProvider, DevProviderConfig};
use setup::{ADMIN, DEMO, Found, LOCAL_USER, PROVIDER, Saved};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;

/// The manifest the dev provider serves when `manifests/dev.manifest.yaml` is not in the working
/// directory (it is re-read on every request, so editing either copy changes what it offers).
const MANIFEST: &str = include_str!("../../../manifests/dev.manifest.yaml");
const MANIFEST_IN_TREE: &str = "manifests/dev.manifest.yaml";

#[derive(clap::Args)]
pub struct DevArgs {
    /// Address the gateway listens on [default: `listen` of the configuration, 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<String>,
    /// Port of the dev provider on 127.0.0.1. The first run registers it at this port; later
    /// runs must use the same one.
    #[arg(long, env = "GATEWAY_DEV_PROVIDER_PORT", default_value_t = 9000)]
    provider_port: u16,
    /// Database URL, e.g. `postgres://user@host/db` to run the federation on PostgreSQL
    /// [default: `database_url` of the configuration (`GATEWAY_DATABASE_URL`), SQLite under the
    /// data dir].
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

pub async fn dev(mut config: Config, args: DevArgs) -> anyhow::Result<()> {
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(database) = args.database {
        config.database_url = database;
    }
    // The dev provider is a test provider owned by the demo user (SPEC §1: `gateway dev` uses owner).
    config.providers.test_registration = crate::config::TestRegistration::Owner;
    // Held until `dev` returns, as `serve` holds it.
    let _lock = super::serve::lock_for_serving(&config)?;
    // Both ports first, so a taken one is reported before anything is made.
    let gateway_listener = super::serve::bind(
        &config.listen,
        "the gateway",
        "choose another address with `--listen 127.0.0.1:8081` or GATEWAY_LISTEN=127.0.0.1:8081",
    )
    .await?;
    let provider_address = format!("127.0.0.1:{}", args.provider_port);
    let provider_listener = super::serve::bind(
        &provider_address,
        "the dev provider",
        "choose another port with `--provider-port 9001` (or GATEWAY_DEV_PROVIDER_PORT); the \
         first run registers the dev provider at that port, later runs must use the same one",
    )
    .await?;
    let metrics_listener = super::serve::bind_metrics(&config.metrics_listen).await?;
    let bound = gateway_listener
        .local_addr()
        .context("while reading the bound address")?;
    let issuer = config.issuer(Some(bound));
    let app = App::build(config, issuer, Arc::new(SystemClock)).await?;
    let local_url = local_url(&app, bound);

    let saved_path = Saved::path(&app.config.data_dir);
    let mut saved = Saved::load(&saved_path)?;
    let federation = prepare(&app, &mut saved, args.provider_port).await;
    // Whatever was made is kept, even when a later step failed.
    saved.save(&saved_path)?;
    let federation = federation?;
    let provider_config = provider_config(&app, &local_url, &saved)?;

    let (stop_gateway, gateway_stopped) = stop_switch();
    let metrics_address = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
    let serving = serve_with_metrics(
        app.clone(),
        gateway_listener,
        metrics_listener,
        gateway_stopped,
    );
    let mut gateway =
        tokio::spawn(async move { serving.await.context("while serving the gateway") });
    tracing::info!(%bound, issuer = %app.issuer, database = app.store.backend_name(), "gateway listening");
    let (stop_provider, provider_stopped) = stop_switch();
    let provider = match DevProvider::new(provider_config).await {
        Ok(provider) => provider,
        Err(e) => {
            let _ = stop_gateway.send(true);
            let _ = gateway.await;
            return Err(e).context("while starting the dev provider");
        }
    };
    let serving = provider.serve(provider_listener, provider_stopped);
    let mut provider =
        tokio::spawn(async move { serving.await.context("while serving the dev provider") });
    refresh_manifest(&app).await;
    print_banner(
        &local_url,
        &provider_address,
        metrics_address,
        &saved_path,
        &saved,
        &federation,
    );

    let (mut gateway_done, mut provider_done) = (None, None);
    tokio::select! {
        () = shutdown_signal() => {}
        result = &mut gateway => gateway_done = Some(joined(result)),
        result = &mut provider => provider_done = Some(joined(result)),
    }
    let unexpected = gateway_done.is_some() || provider_done.is_some();
    // The gateway drains first (brokered requests in flight still reach the provider), then the
    // provider finishes its own requests and stops its jobs.
    let _ = stop_gateway.send(true);
    let gateway_result = match gateway_done {
        Some(result) => result,
        None => joined(gateway.await),
    };
    let _ = stop_provider.send(true);
    let provider_result = match provider_done {
        Some(result) => result,
        None => joined(provider.await),
    };
    gateway_result?;
    provider_result?;
    if unexpected {
        anyhow::bail!("a server stopped without being asked to");
    }
    tracing::info!("stopped");
    Ok(())
}

fn joined(result: Result<anyhow::Result<()>, tokio::task::JoinError>) -> anyhow::Result<()> {
    result.context("a server task failed")?
}

/// How each part of the federation was found, for the banner.
struct Federation {
    admin: Found,
    demo: Found,
    token: Found,
    provider: Found,
    balance: i64,
    wallet: Found,
    local_user: Found,
}

/// Makes or finds the users, the token, the provider and the wallet, keeping secrets in `saved`.
async fn prepare(app: &App, saved: &mut Saved, provider_port: u16) -> anyhow::Result<Federation> {
    let (_, admin) = setup::ensure_user(app, ADMIN, true, &mut saved.admin_password).await?;
    let (demo_user, demo) = setup::ensure_user(app, DEMO, false, &mut saved.demo_password).await?;
    let token = setup::ensure_api_token(app, &demo_user, &mut saved.demo_api_token).await?;
    let metadata = setup::metadata(provider_port)?;
    let (_, provider) =
        setup::ensure_provider(app, &demo_user, metadata, &mut saved.provider_refresh_token)
            .await?;
    let (balance, wallet) = setup::ensure_wallet(app, &demo_user, PROVIDER).await?;
    let local_user = setup::ensure_local_user(&users_file(app), &mut saved.local_user_password)?;
    Ok(Federation {
        admin,
        demo,
        token,
        provider,
        balance,
        wallet,
        local_user,
    })
}

/// A resolved future stops a server: the sender side of the switch.
fn stop_switch() -> (
    watch::Sender<bool>,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (sender, mut receiver) = watch::channel(false);
    let stopped = async move {
        let _ = receiver.wait_for(|stop| *stop).await;
    };
    (sender, stopped)
}

/// The gateway's URL as this machine reaches it: the bound address, with loopback for a wildcard.
fn local_url(app: &App, bound: SocketAddr) -> String {
    let scheme = if app.config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let host = if bound.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), bound.port())
    } else {
        bound
    };
    format!("{scheme}://{host}")
}

fn provider_config(app: &App, local_url: &str, saved: &Saved) -> anyhow::Result<DevProviderConfig> {
    let refresh_token = saved
        .provider_refresh_token
        .clone()
        .context("the dev provider has no refresh token")?;
    let data_dir = provider_data_dir(app);
    let manifest = manifest_path(&data_dir)?;
    let credentials = Credentials {
        gateway_url: local_url.to_owned(),
        provider_id: PROVIDER.to_owned(),
        refresh_token: Secret::new(refresh_token),
        issuer: app.issuer.clone(),
        jwks_url: format!("{local_url}/.well-known/jwks.json"),
    };
    let mut config = DevProviderConfig::new(credentials, manifest, data_dir);
    config.users_file = Some(users_file(app));
    Ok(config)
}

/// The dev provider's data dir: storage folders, the mapping store, the users file.
fn provider_data_dir(app: &App) -> PathBuf {
    app.config.data_dir.join("dev-provider")
}

/// The dev provider's local users (`demo_local`), for the Connect button.
fn users_file(app: &App) -> PathBuf {
    provider_data_dir(app).join("users.yaml")
}

/// `manifests/dev.manifest.yaml` of the working directory, or a copy of it in the data dir.
fn manifest_path(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let in_tree = PathBuf::from(MANIFEST_IN_TREE);
    if in_tree.is_file() {
        return Ok(in_tree);
    }
    let copy = data_dir.join("manifest.yaml");
    if !copy.exists() {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("while creating {}", data_dir.display()))?;
        std::fs::write(&copy, MANIFEST)
            .with_context(|| format!("while writing {}", copy.display()))?;
    }
    Ok(copy)
}

/// Fetches the dev provider's manifest now instead of at the refresher's next round.
async fn refresh_manifest(app: &AppState) {
    let refreshed = match app.registry.get_any(PROVIDER).await {
        Ok(provider) => app
            .manifests
            .refresh(&provider)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match refreshed.and_then(|r| match r {
        crate::manifests::Refreshed::Failed(failure) => Err(failure.to_string()),
        done => Ok(done),
    }) {
        Err(error) => {
            tracing::warn!(%error, "the dev provider's manifest could not be fetched yet; the refresher retries")
        }
        Ok(_) => tracing::info!(provider = PROVIDER, "manifest fetched"),
    }
}

fn print_banner(
    gateway: &str,
    provider: &str,
    metrics: Option<SocketAddr>,
    saved_path: &Path,
    saved: &Saved,
    federation: &Federation,
) {
    let shown = |secret: &Option<String>| secret.clone().unwrap_or_else(|| "(unknown)".into());
    let how = |found: &Found| match found {
        Found::Created => "created",
        Found::Existing => "existing",
        Found::NotOurs => "existing, not made by `gateway dev`: password unchanged",
    };
    let owner = match federation.provider {
        Found::NotOurs => "existing, owned by another user",
        ref found => how(found),
    };
    let token = shown(&saved.demo_api_token);
    let lines = [
        String::new(),
        "gateway dev: a local federation is running (Ctrl-C to stop)".to_owned(),
        String::new(),
        format!("  sign in        {gateway}/login"),
        format!("  providers      {gateway}/providers"),
        format!("  API            {gateway}/api   (e.g. {gateway}/api/me)"),
        match metrics {
            Some(addr) => format!("  metrics        http://{addr}/metrics   (its own listener)"),
            None => "  metrics        off (metrics_listen is empty)".to_owned(),
        },
        format!(
            "  dev provider   http://{provider}/ucloud/{PROVIDER}   ({owner}; brokered at {gateway}/ucloud/{PROVIDER}/...)"
        ),
        String::new(),
        format!(
            "  admin          {ADMIN} / {}   ({})",
            shown(&saved.admin_password),
            how(&federation.admin)
        ),
        format!(
            "  demo user      {DEMO} / {}   ({})",
            shown(&saved.demo_password),
            how(&federation.demo)
        ),
        format!("  demo API token {token}   ({})", how(&federation.token)),
        format!(
            "  demo wallet    {} units at {PROVIDER}   ({})",
            federation.balance,
            how(&federation.wallet)
        ),
        format!(
            "  local account  {LOCAL_USER} / {}   ({}; at the dev provider: sign in with it after \
             Connect on {gateway}/providers)",
            shown(&saved.local_user_password),
            how(&federation.local_user)
        ),
        String::new(),
        format!(
            "  try: curl -H 'Authorization: Bearer {token}' {gateway}/ucloud/{PROVIDER}/storage/files"
        ),
        format!(
            "  these credentials are kept in {} (mode 0600) and reused by the next `gateway dev`",
            saved_path.display()
        ),
        String::new(),
    ];
    let mut out = std::io::stdout().lock();
    for line in lines {
        // A closed stdout must not stop the servers.
        let _ = std::io::Write::write_all(&mut out, format!("{line}\n").as_bytes());
    }
    let _ = std::io::Write::flush(&mut out);
}
