//! Provider health: `GET /healthz` and Prometheus counters of what a provider does — requests by
//! status, token verification failures by reason, charges by outcome, accounts made by backend.
//! The counters are one process-wide set (`global()`): the verifier, the gateway client, the
//! account code and the router's request layer write to it wherever they are built, and
//! `routes()` serves it. Serve `/metrics` where only your monitoring reaches it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use axum::Router;
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The counters. Labels are closed sets (status codes, `VerifyError::reason`, charge outcomes,
/// backend names), so the series stay few.
#[derive(Debug, Default)]
pub struct ProviderMetrics {
    requests: Mutex<BTreeMap<u16, u64>>,
    verification_failures: Mutex<BTreeMap<&'static str, u64>>,
    charges: Mutex<BTreeMap<&'static str, u64>>,
    accounts_created: Mutex<BTreeMap<&'static str, u64>>,
}

/// The process's counters.
pub fn global() -> &'static ProviderMetrics {
    static METRICS: OnceLock<ProviderMetrics> = OnceLock::new();
    METRICS.get_or_init(ProviderMetrics::default)
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    if let Ok(mut map) = map.lock() {
        *map.entry(key).or_default() += 1;
    }
}

fn series<K: Copy + std::fmt::Display>(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    map: &Mutex<BTreeMap<K, u64>>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    if let Ok(map) = map.lock() {
        for (key, value) in map.iter() {
            let _ = writeln!(out, "{name}{{{label}=\"{key}\"}} {value}");
        }
    }
}

impl ProviderMetrics {
    pub fn request(&self, status: u16) {
        bump(&self.requests, status);
    }
    pub fn verification_failed(&self, reason: &'static str) {
        bump(&self.verification_failures, reason);
    }
    /// `accepted`, `duplicate`, `insufficientFunds` or `error`.
    pub fn charged(&self, outcome: &'static str) {
        bump(&self.charges, outcome);
    }
    pub fn account_created(&self, backend: &'static str) {
        bump(&self.accounts_created, backend);
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        series(
            &mut out,
            "provider_requests_total",
            "Requests answered, by status.",
            "status",
            &self.requests,
        );
        series(
            &mut out,
            "provider_verification_failures_total",
            "Gateway tokens refused, by reason.",
            "reason",
            &self.verification_failures,
        );
        series(
            &mut out,
            "provider_charges_total",
            "Charges sent to the gateway, by outcome.",
            "outcome",
            &self.charges,
        );
        series(
            &mut out,
            "provider_accounts_created_total",
            "Local accounts made, by backend.",
            "backend",
            &self.accounts_created,
        );
        out
    }
}

/// `GET /healthz` (the process is up) and `GET /metrics` (the counters).
pub fn routes() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/metrics",
            get(|| async {
                (
                    [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                    global().render(),
                )
                    .into_response()
            }),
        )
}

/// The request layer `ProviderRouter` puts on its routes: counts each answer by status.
pub async fn count_requests(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    global().request(response.status().as_u16());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_as_prometheus_text_with_their_labels() {
        let metrics = ProviderMetrics::default();
        metrics.request(200);
        metrics.request(200);
        metrics.verification_failed("expired");
        metrics.charged("insufficientFunds");
        metrics.account_created("ldap");
        let text = metrics.render();
        assert!(text.contains("# TYPE provider_requests_total counter\n"));
        assert!(text.contains("provider_requests_total{status=\"200\"} 2\n"));
        assert!(text.contains("provider_verification_failures_total{reason=\"expired\"} 1\n"));
        assert!(text.contains("provider_charges_total{outcome=\"insufficientFunds\"} 1\n"));
        assert!(text.contains("provider_accounts_created_total{backend=\"ldap\"} 1\n"));
    }
}
