//! `GET /metrics` (Prometheus text, through prometheus-client), served on its own listener (SPEC §7
//! `metrics_listen`), never on the public one: it names providers, hidden test providers included.

use super::errors::ApiError;
use super::listener::ListenerStats;
use crate::app::AppState;
use crate::metrics::process::Process;
use crate::metrics::scrape::{ListenerCounts, Snapshot};
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

#[derive(Clone)]
struct Metrics {
    app: AppState,
    listeners: Arc<[Arc<ListenerStats>]>,
}

/// The metrics listener's router: `/metrics` and nothing else.
pub fn router(app: AppState, listeners: Vec<Arc<ListenerStats>>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .with_state(Metrics {
            app,
            listeners: listeners.into(),
        })
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Build {
    version: &'static str,
    commit: &'static str,
}

/// The gateway's own series and the process's, in the OpenMetrics text format.
async fn metrics(State(m): State<Metrics>) -> Response {
    let app = &m.app;
    let mut registry = Registry::default();
    app.http_metrics.register(&mut registry);
    app.broker.metrics.register(&mut registry);
    app.accounts.sign_ins.register(&mut registry);
    app.accounting.charges.register(&mut registry);
    registry.register_collector(Box::new(snapshot(&m)));
    registry.register_collector(Box::new(Process));
    registry.register(
        "gateway_build",
        "The running gateway's version and commit",
        Info::new(Build {
            version: env!("CARGO_PKG_VERSION"),
            commit: env!("GATEWAY_GIT_COMMIT"),
        }),
    );
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        return ApiError::Internal(format!("encoding the metrics: {e}")).into_response();
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

fn snapshot(m: &Metrics) -> Snapshot {
    let app = &m.app;
    let (token_cache_hits, token_cache_misses) = app.broker.token_cache_counts();
    let s = &app.manifests.stats;
    let (pool_size, pool_idle) = app.store.pool_usage();
    Snapshot {
        token_cache_hits,
        token_cache_misses,
        manifest_fetches: vec![
            ("attempt", s.fetches.load(Relaxed)),
            ("parsed", s.parses.load(Relaxed)),
            ("not_modified", s.not_modified.load(Relaxed)),
            ("failed", s.failures.load(Relaxed)),
        ],
        listeners: m
            .listeners
            .iter()
            .map(|l| ListenerCounts {
                name: l.name,
                open: l.open.load(Relaxed) as u64,
                refused: l.refused.load(Relaxed),
                accept_errors: l.accept_errors.load(Relaxed),
            })
            .collect(),
        pool_size,
        pool_idle,
    }
}
