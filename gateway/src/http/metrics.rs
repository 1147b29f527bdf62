//! `GET /metrics` (Prometheus text), served on its own listener (SPEC §7 `metrics_listen`), never
//! on the public one: it names providers, hidden test providers included.

use super::errors::ApiError;
use super::listener::ListenerStats;
use crate::app::AppState;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::fmt::Write;
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

/// The gateway's own Prometheus series.
async fn metrics(State(m): State<Metrics>) -> Response {
    let app = &m.app;
    let mut out = String::new();
    let (hits, misses) = app.broker.token_cache_counts();
    app.broker.metrics.render(&mut out, hits, misses);
    let s = &app.manifests.stats;
    out.push_str("# HELP gateway_manifest_fetches_total Manifest fetches by outcome.\n# TYPE gateway_manifest_fetches_total counter\n");
    for (outcome, n) in [
        ("attempt", &s.fetches),
        ("parsed", &s.parses),
        ("not_modified", &s.not_modified),
        ("failed", &s.failures),
    ] {
        let _ = writeln!(
            out,
            "gateway_manifest_fetches_total{{outcome=\"{outcome}\"}} {}",
            n.load(Relaxed)
        );
    }
    render_listeners(&mut out, &m.listeners);
    app.http_metrics.render(&mut out);
    let _ = writeln!(
        out,
        "# HELP gateway_build_info The running gateway's version.\n# TYPE gateway_build_info gauge\ngateway_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
        .into_response()
}

/// A series: name, type, help, and how to read it from a listener's counters.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ListenerStats) -> u64,
);

fn render_listeners(out: &mut String, listeners: &[Arc<ListenerStats>]) {
    let series: [Series; 3] = [
        (
            "gateway_http_connections_open",
            "gauge",
            "Open connections per listener.",
            |l| l.open.load(Relaxed) as u64,
        ),
        (
            "gateway_http_connections_refused_total",
            "counter",
            "Connections closed at once because the listener's connection limit was reached.",
            |l| l.refused.load(Relaxed),
        ),
        (
            "gateway_http_accept_errors_total",
            "counter",
            "Accept errors (such as too many open files) after which the listener paused.",
            |l| l.accept_errors.load(Relaxed),
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for l in listeners {
            let _ = writeln!(out, "{name}{{listener=\"{}\"}} {}", l.name, value(l));
        }
    }
}
