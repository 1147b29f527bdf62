//! The change feed's follower (SPEC §10): each change from `store::Feed`, parsed by
//! [`Change::parse`], drops or reloads exactly the cache entry it names; a full re-read runs when
//! the feed may have missed something and every `change_resync_secs`.

use super::tick;
use crate::app::App;
use crate::changes::Change;
use crate::store::FeedEvent;
use std::time::Duration;
use tokio::sync::watch;

/// Drops or reloads what `change` names.
pub async fn apply(app: &App, change: &Change) {
    let result = match change {
        Change::Credential(hash) => {
            app.accounts.forget_credential(hash);
            Ok(())
        }
        Change::User(id) => {
            app.accounts.forget_user_credentials(*id);
            Ok(())
        }
        Change::Provider(id) => app.registry.reload_one(id).await.map_err(|e| e.to_string()),
        Change::Manifest(id) => app
            .manifests
            .reload_one(id)
            .await
            .map_err(|e| e.to_string()),
        Change::Keys => app.keys.reload().await.map_err(|e| e.to_string()),
        Change::Brokered {
            user_id,
            provider_id,
        } => {
            app.connections.forget_brokered(provider_id, *user_id);
            Ok(())
        }
        Change::Agreements(user_id) => {
            app.gate.agreements.forget(*user_id);
            Ok(())
        }
    };
    if let Err(error) = result {
        tracing::warn!(?change, %error, "applying a change from the feed failed; the next resync retries");
    }
}

/// Re-reads everything cached: the feed may have missed changes.
pub async fn resync(app: &App) {
    app.accounts.forget_all_credentials();
    app.connections.forget_all_brokered();
    app.gate.agreements.forget_all();
    if let Err(e) = app.registry.reload_cache().await {
        tracing::warn!(error = %e, "resync: re-reading providers failed");
    }
    if let Err(e) = app.manifests.reload_from_store().await {
        tracing::warn!(error = %e, "resync: re-reading manifests failed");
    }
    if let Err(e) = app.keys.reload().await {
        tracing::warn!(error = %e, "resync: re-reading the key ring failed; keeping the keys loaded");
    }
}

/// Follows the feed until `stop`: applies each change, resyncs when told to.
pub async fn follow(app: std::sync::Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut feed = app.store.change_feed().await;
    if !feed.needs_listener() {
        app.feed_health.set(true);
    }
    loop {
        let event = tokio::select! {
            _ = stop.changed() => return,
            event = feed.next() => event,
        };
        match event {
            FeedEvent::Changed(line) => match Change::parse(&line) {
                Some(change) => apply(&app, &change).await,
                None => {
                    tracing::warn!(%line, "unknown change on the feed; re-reading everything");
                    resync(&app).await;
                }
            },
            FeedEvent::Resync => {
                resync(&app).await;
                app.feed_health.set(true);
            }
            FeedEvent::Lost => app.feed_health.set(false),
        }
    }
}

/// The safety net: a full re-read every `change_resync_secs`.
pub async fn resync_periodically(app: std::sync::Arc<App>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(app.config.change_resync_secs.max(1));
    while tick(&mut stop, every).await {
        resync(&app).await;
    }
}
