//! The background loops of a serving gateway, each named, started by `serve` beside the listeners
//! and stopped (then joined) when it drains: the key-ring reload, the sweeps of expired sessions and
//! abandoned sign-ins, the manifest refresher, the retried merge renames, and the change feed (`change_feed`).

mod change_feed;

use crate::app::AppState;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Starts every loop; each returns once `stop` turns true.
pub fn start(app: &AppState, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(reload_keys(app.clone(), stop.clone())),
        tokio::spawn(expire_sessions(app.clone(), stop.clone())),
        tokio::spawn(refresh_manifests(app.clone(), stop.clone())),
        tokio::spawn(retry_renames(app.clone(), stop.clone())),
        tokio::spawn(change_feed::follow(app.clone(), stop.clone())),
        tokio::spawn(change_feed::resync_periodically(app.clone(), stop.clone())),
    ]
}

/// Waits `period`: true when it passed, false when `stop` turned true first (the loop returns).
async fn tick(stop: &mut watch::Receiver<bool>, period: Duration) -> bool {
    tokio::select! {
        _ = stop.changed() => false,
        () = tokio::time::sleep(period) => true,
    }
}

/// Picks up keys another replica (or `gateway keys rotate`) added, and drops expired ones.
async fn reload_keys(app: AppState, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(app.config.key_reload_secs.max(1));
    while tick(&mut stop, every).await {
        if let Err(e) = app.keys.reload().await {
            tracing::warn!(error = %e, "key ring reload failed; keeping the keys loaded");
        }
    }
}

async fn expire_sessions(app: AppState, mut stop: watch::Receiver<bool>) {
    while tick(&mut stop, Duration::from_secs(600)).await {
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

/// Sends the `usermap/rename` calls still owed after merges (each with its own backoff).
async fn retry_renames(app: AppState, mut stop: watch::Receiver<bool>) {
    while tick(&mut stop, Duration::from_secs(15)).await {
        if let Err(e) = app.connections.deliver_renames().await {
            tracing::warn!(error = %e, "sending owed renames failed");
        }
    }
}

/// Fetches due manifests every `poll_ms`, and every 15 polls re-reads what other replicas fetched.
async fn refresh_manifests(app: AppState, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_millis(app.config.manifest.poll_ms);
    let mut ticks: u64 = 0;
    while tick(&mut stop, every).await {
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
