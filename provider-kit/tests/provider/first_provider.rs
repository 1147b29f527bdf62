//! The tutorial's example, exercised: its `app` served behind the fake gateway's keys answers a
//! brokered call with the caller's principal, and serves the workspace's dev manifest.

use std::path::Path;
use std::sync::Arc;

use provider_kit::auth::{SystemClock, Verifier};
use provider_kit::protocol::Manifest;
use provider_kit::router::ManifestSource;
use serde_json::{Value, json};

use crate::support::{FakeGateway, serve};

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
