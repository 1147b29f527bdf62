//! `App::build` wires everything once: store, clock, key ring, domain services. `App` holds the
//! components and nothing else: `serve` runs it on a listener (tests call it with port 0) and
//! `background` holds the loops that keep its caches fresh.

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
use std::sync::Arc;
use std::time::Duration;

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
    /// The access gate (SPEC §9): the broker decides with it, `/access` explains with it.
    pub gate: crate::policy::Gate,
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
        let manifests = Arc::new(manifests);
        let connections = Connections::new(
            store.clone(),
            clock.clone(),
            tokens.clone(),
            issuer.clone(),
            manifests.clients(),
        );
        let registry = Registry::new(
            store.clone(),
            clock.clone(),
            config.providers.test_registration,
        );
        let projects = Projects::new(store.clone(), clock.clone());
        let agreements =
            crate::policy::Agreements::load(&config.agreements, store.clone(), clock.clone())
                .map_err(|e| anyhow::anyhow!("while reading the agreements: {e}"))?;
        let gate = crate::policy::Gate {
            registry: registry.clone(),
            projects: projects.clone(),
            manifests: manifests.clone(),
            connections: connections.clone(),
            agreements,
        };
        let broker = Broker::new(
            config.broker.clone(),
            upstreams,
            &issuer,
            crate::broker::Deps {
                gate: gate.clone(),
                keys: keys.clone(),
                tokens: tokens.clone(),
                clock: clock.clone(),
            },
        );
        Ok(Arc::new(Self {
            identity_providers,
            http_metrics: Default::default(),
            feed_health: Default::default(),
            connections,
            gate,
            broker,
            accounts: Accounts::new(
                store.clone(),
                clock.clone(),
                config.session_ttl_secs,
                config.credential_cache_ms,
            )
            .with_throttle_policy(config.sign_in.policy()),
            accounting: Accounting::new(store.clone(), clock.clone()),
            projects,
            audit: Audit::new(store.clone(), clock.clone()),
            registry,
            tokens,
            manifests,
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

    /// Merges account `from` into `into` (SPEC §8) and then tells each provider of a moved
    /// connection (§4 rename). The merge is complete at its commit; a rename that does not reach
    /// its provider stays queued and `retry_renames` sends it again.
    pub async fn merge_users(
        &self,
        actor: &crate::audit::Actor,
        from: &str,
        into: &str,
    ) -> Result<crate::store::Merged, crate::accounts::AccountError> {
        let merged = self.accounts.merge(actor, from, into).await?;
        if !merged.renames.is_empty() {
            match self.connections.deliver_renames().await {
                Ok(done) => {
                    tracing::info!(
                        delivered = done.delivered,
                        failed = done.failed,
                        "renames after a merge"
                    )
                }
                Err(e) => {
                    tracing::error!(error = %e, "sending renames after a merge failed; retried later")
                }
            }
        }
        Ok(merged)
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
