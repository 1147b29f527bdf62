//! The tutorial's example, exercised as a provider developer tests theirs, with
//! `provider_kit::testing` (feature `testing`): its `app` served behind the fake gateway's keys
//! answers a brokered call with the caller's principal and serves the workspace's dev manifest,
//! and what the provider charges and reports is what the fake gateway recorded.

use std::path::Path;
use std::sync::Arc;

use provider_kit::auth::{SystemClock, Verifier};
use provider_kit::client::GatewayClient;
use provider_kit::protocol::{ChargeRequest, Manifest, MappingReport, WalletOwner};
use provider_kit::router::ManifestSource;
use provider_kit::testing::FakeGateway;
use serde_json::{Value, json};

use crate::support::serve;

#[path = "../../examples/first_provider.rs"]
#[expect(
    dead_code,
    reason = "the example's `main` is for `cargo run --example`"
)]
mod example;

#[tokio::test]
async fn the_tutorial_provider_tells_a_gateway_user_who_they_are() {
    let gateway = FakeGateway::start().await;
    let credentials = gateway.credentials("first");
    let verifier =
        Verifier::new(credentials.verifier_config(), Arc::new(SystemClock)).expect("config");
    let manifest_file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/dev.manifest.yaml");
    let manifest = ManifestSource::file(&manifest_file).expect("the dev manifest");
    let provider = serve(example::app(verifier, manifest)).await;
    let http = reqwest::Client::new();

    let token = gateway.service_token("first", Some("alice#1"), None);
    let answer = http
        .get(format!("{}/ucloud/first/storage/whoami", provider.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.expect("json");
    assert_eq!(body, json!({"username": "alice#1", "project": null}));

    let unsigned = http
        .get(format!("{}/ucloud/first/storage/whoami", provider.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(unsigned.status(), 401);

    let served = reqwest::get(format!("{}/ucloud/first/manifest", provider.base))
        .await
        .expect("answer")
        .text()
        .await
        .expect("body");
    let expected = std::fs::read_to_string(&manifest_file).expect("read");
    assert_eq!(
        Manifest::from_yaml(&served).expect("yaml").manifest,
        Manifest::from_yaml(&expected).expect("yaml").manifest
    );
}

#[tokio::test]
async fn the_fake_gateway_records_what_a_provider_charges_and_reports() {
    let gateway = FakeGateway::start().await;
    let alice = WalletOwner::Username("alice#1".into());
    gateway.grant(alice.clone(), 10);
    let client =
        GatewayClient::new(gateway.client_config("first"), Arc::new(SystemClock)).expect("client");
    let charge = ChargeRequest {
        charge_id: "job-1".into(),
        owner: alice.clone(),
        units: 4,
        description: "one job".into(),
    };
    assert_eq!(client.charge(&charge).await.expect("charged").balance, 6);
    client
        .report_mapping(&MappingReport::implicit("alice#1", "alice"))
        .await
        .expect("reported");

    assert_eq!(gateway.charges(), vec![(charge, 200)]);
    assert_eq!(gateway.balance(&alice), 6);
    let reports = gateway.reports();
    assert_eq!(reports[0]["provider"], "first");
    assert_eq!(reports[0]["report"]["localIdentity"], "alice");
    // And the usermap token a gateway's connect page sends: three JWS parts, for the usermap flow.
    let token = gateway.usermap_token("first", "alice#1", "n-1", "https://gw.example/return");
    assert_eq!(token.split('.').count(), 3);
}
