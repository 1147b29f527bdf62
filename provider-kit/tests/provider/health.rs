//! Provider health: `/healthz` answers, and `/metrics` counts requests by status, refused tokens
//! by reason, charges by outcome — read as Prometheus would.

use std::sync::Arc;

use provider_kit::auth::{SystemClock, Verifier};
use provider_kit::client::GatewayClient;
use provider_kit::protocol::{ChargeRequest, Manifest, WalletOwner};
use provider_kit::router::{ManifestSource, ProviderRouter};
use provider_kit::testing::FakeGateway;

use crate::support::serve;

/// The value of one series in a Prometheus text page (0 when absent).
fn value(page: &str, series: &str) -> u64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn healthz_answers_and_metrics_count_requests_refused_tokens_and_charges() {
    let gateway = FakeGateway::start().await;
    let credentials = gateway.credentials("health");
    let verifier =
        Verifier::new(credentials.verifier_config(), Arc::new(SystemClock)).expect("config");
    let manifest = Manifest::from_yaml("version: 1\nfeatures: {}\n")
        .expect("manifest")
        .manifest;
    let features = axum::Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
    let router = ProviderRouter::new(verifier, ManifestSource::value(manifest))
        .build(features)
        .merge(provider_kit::metrics::routes());
    let provider = serve(router).await;
    let http = reqwest::Client::new();
    let metrics = || async {
        http.get(format!("{}/metrics", provider.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    };

    let health = http
        .get(format!("{}/healthz", provider.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let before = metrics().await;

    let token = gateway.service_token("health", Some("alice#1"), None);
    let ok = http
        .get(format!("{}/ucloud/health/ping", provider.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("ping");
    assert_eq!(ok.status(), 200);
    let refused = http
        .get(format!("{}/ucloud/health/ping", provider.base))
        .bearer_auth("not.a.token")
        .send()
        .await
        .expect("ping");
    assert_eq!(refused.status(), 401);

    let client =
        GatewayClient::new(gateway.client_config("health"), Arc::new(SystemClock)).expect("client");
    let broke = WalletOwner::Username("broke#1".into());
    let charge = ChargeRequest {
        charge_id: "health-1".into(),
        owner: broke,
        units: 1,
        description: String::new(),
    };
    assert!(client.charge(&charge).await.is_err());

    let after = metrics().await;
    assert!(
        after.contains("# TYPE provider_requests counter"),
        "{after}"
    );
    for series in [
        "provider_requests_total{status=\"200\"}",
        "provider_requests_total{status=\"401\"}",
        "provider_charges_total{outcome=\"insufficientFunds\"}",
    ] {
        assert!(
            value(&after, series) > value(&before, series),
            "{series}\n{after}"
        );
    }
    let refusals: u64 = after
        .lines()
        .filter(|l| l.starts_with("provider_verification_failures_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    let refusals_before: u64 = before
        .lines()
        .filter(|l| l.starts_with("provider_verification_failures_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert!(refusals > refusals_before, "{after}");
}
