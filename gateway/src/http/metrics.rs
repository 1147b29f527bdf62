//! `GET /metrics` (Prometheus text), served on its own listener (SPEC §7 `metrics_listen`), never
//! on the public one: it names providers, hidden test providers included.

use super::errors::ApiError;
use super::listener::ListenerStats;
use crate::app::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// A response status's class, the `status` label of `gateway_http_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatusClass {
    Informational,
    Success,
    Redirection,
    ClientError,
    ServerError,
}

impl StatusClass {
    pub fn of(status: StatusCode) -> Self {
        match status.as_u16() {
            ..=199 => Self::Informational,
            200..=299 => Self::Success,
            300..=399 => Self::Redirection,
            400..=499 => Self::ClientError,
            _ => Self::ServerError,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Informational => "1xx",
            Self::Success => "2xx",
            Self::Redirection => "3xx",
            Self::ClientError => "4xx",
            Self::ServerError => "5xx",
        }
    }
}

/// Upper bounds of the latency histogram's buckets, seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Latency {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_secs: f64,
}

#[derive(Default)]
struct HttpCounts {
    requests: BTreeMap<(String, StatusClass), u64>,
    latency: BTreeMap<String, Latency>,
}

/// Public-listener requests by matched route (`access_log::UNMATCHED` for the fallback, so the
/// label set stays the router's) and status class, and their latency. Fed by `access_log`.
#[derive(Default)]
pub struct HttpMetrics(Mutex<HttpCounts>);

impl HttpMetrics {
    pub fn observe(&self, route: &str, status: StatusCode, latency: Duration) {
        let Ok(mut c) = self.0.lock() else { return };
        *c.requests
            .entry((route.to_owned(), StatusClass::of(status)))
            .or_default() += 1;
        let l = c.latency.entry(route.to_owned()).or_default();
        let secs = latency.as_secs_f64();
        for (n, bound) in l.buckets.iter_mut().zip(BUCKETS) {
            if secs <= bound {
                *n += 1;
            }
        }
        l.count += 1;
        l.sum_secs += secs;
    }

    fn render(&self, out: &mut String) {
        let Ok(c) = self.0.lock() else { return };
        out.push_str("# HELP gateway_http_requests_total Requests on the public listener by matched route and status class.\n# TYPE gateway_http_requests_total counter\n");
        for ((route, class), n) in &c.requests {
            let _ = writeln!(
                out,
                "gateway_http_requests_total{{route=\"{}\",status=\"{}\"}} {n}",
                escape(route),
                class.label()
            );
        }
        out.push_str("# HELP gateway_http_request_duration_seconds Time to the response head, by matched route.\n# TYPE gateway_http_request_duration_seconds histogram\n");
        for (route, l) in &c.latency {
            let route = escape(route);
            for (n, bound) in l.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "gateway_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "gateway_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 gateway_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 gateway_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                l.count, l.sum_secs, l.count
            );
        }
    }
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
