//! Provider health: `GET /healthz` and Prometheus counters (prometheus-client) of what a provider does — requests by
//! status, token verification failures by reason, charges by outcome, accounts made by backend.
//! The counters are one process-wide set (`global()`): the verifier, the gateway client, the
//! account code and the router's request layer write to it wherever they are built, and
//! `routes()` serves it. Serve `/metrics` where only your monitoring reaches it.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Status {
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Backend {
    backend: &'static str,
}

/// The counters, prometheus-client families. Labels are closed sets (status codes,
/// `VerifyError::reason`, charge outcomes, backend names), so the series stay few.
#[derive(Debug, Default)]
pub struct ProviderMetrics {
    requests: Family<Status, Counter>,
    verification_failures: Family<Reason, Counter>,
    charges: Family<Outcome, Counter>,
    accounts_created: Family<Backend, Counter>,
}

/// The process's counters.
pub fn global() -> &'static ProviderMetrics {
    static METRICS: OnceLock<ProviderMetrics> = OnceLock::new();
    METRICS.get_or_init(ProviderMetrics::default)
}

impl ProviderMetrics {
    pub fn request(&self, status: u16) {
        self.requests.get_or_create(&Status { status }).inc();
    }
    pub fn verification_failed(&self, reason: &'static str) {
        self.verification_failures
            .get_or_create(&Reason { reason })
            .inc();
    }
    /// `accepted`, `duplicate`, `insufficientFunds` or `error`.
    pub fn charged(&self, outcome: &'static str) {
        self.charges.get_or_create(&Outcome { outcome }).inc();
    }
    pub fn account_created(&self, backend: &'static str) {
        self.accounts_created
            .get_or_create(&Backend { backend })
            .inc();
    }

    /// The OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut registry = Registry::default();
        registry.register(
            "provider_requests",
            "Requests answered, by status",
            self.requests.clone(),
        );
        registry.register(
            "provider_verification_failures",
            "Gateway tokens refused, by reason",
            self.verification_failures.clone(),
        );
        registry.register(
            "provider_charges",
            "Charges sent to the gateway, by outcome",
            self.charges.clone(),
        );
        registry.register(
            "provider_accounts_created",
            "Local accounts made, by backend",
            self.accounts_created.clone(),
        );
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
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
                    [(
                        CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
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
        assert!(
            text.contains("# TYPE provider_requests counter\n"),
            "{text}"
        );
        assert!(text.contains("provider_requests_total{status=\"200\"} 2\n"));
        assert!(text.contains("provider_verification_failures_total{reason=\"expired\"} 1\n"));
        assert!(text.contains("provider_charges_total{outcome=\"insufficientFunds\"} 1\n"));
        assert!(text.contains("provider_accounts_created_total{backend=\"ldap\"} 1\n"));
    }
}
