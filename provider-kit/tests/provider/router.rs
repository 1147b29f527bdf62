//! `ProviderRouter` served over HTTP: the manifest in either encoding, feature routes that only run
//! for a verified gateway call, and the usermap seam outside that layer.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use provider_kit::auth::{ServiceRequest, SystemClock, Verifier};
use provider_kit::protocol::Manifest;
use provider_kit::router::{ManifestSource, ProviderRouter};
use serde_json::{Value, json};

use crate::support::{FakeGateway, serve};

fn verifier(gateway: &FakeGateway, id: &str) -> Verifier {
    Verifier::new(
        gateway.credentials(id).verifier_config(),
        Arc::new(SystemClock),
    )
    .expect("config")
}

fn manifest() -> Manifest {
    let yaml = "features:\n  storage: { enabled: true, projects: true }\n";
    Manifest::from_yaml(yaml).expect("a manifest").manifest
}

async fn whoami(request: ServiceRequest) -> axum::Json<Value> {
    axum::Json(
        json!({"username": request.principal().map(|p| p.username.clone()),
                      "project": request.project()}),
    )
}

fn features() -> Router<Verifier> {
    Router::new()
        .route("/storage/whoami", get(whoami))
        // A handler that forgets to ask for the principal is still behind the layer.
        .route("/storage/open", get(|| async { "anyone?" }))
}

#[tokio::test]
async fn the_manifest_is_served_as_yaml_unless_json_is_preferred() {
    let gateway = FakeGateway::start().await;
    let router = ProviderRouter::new(verifier(&gateway, "dev"), ManifestSource::value(manifest()))
        .build(features());
    let provider = serve(router).await;
    let url = format!("{}/ucloud/dev/manifest", provider.base);
    let http = reqwest::Client::new();

    let yaml = http.get(&url).send().await.expect("answer");
    assert_eq!(yaml.headers()["content-type"], "application/yaml");
    let text = yaml.text().await.expect("body");
    assert_eq!(
        Manifest::from_yaml(&text).expect("valid YAML").manifest,
        manifest()
    );

    let json = http
        .get(&url)
        .header("accept", "application/json")
        .send()
        .await
        .expect("answer");
    assert_eq!(json.headers()["content-type"], "application/json");
    let text = json.text().await.expect("body");
    assert_eq!(
        Manifest::from_json(&text).expect("valid JSON").manifest,
        manifest()
    );
}

#[tokio::test]
async fn a_manifest_file_is_read_on_every_request_and_a_broken_edit_is_a_500_invalid_manifest() {
    let gateway = FakeGateway::start().await;
    let dir = std::env::temp_dir().join(format!("pk-router-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("manifest.yaml");
    std::fs::write(&path, "features:\n  storage: { enabled: true }\n").expect("write");
    let source = ManifestSource::file(&path).expect("a valid file");
    let provider =
        serve(ProviderRouter::new(verifier(&gateway, "dev"), source).build(features())).await;
    let url = format!("{}/ucloud/dev/manifest", provider.base);

    let served = reqwest::get(&url)
        .await
        .expect("answer")
        .text()
        .await
        .expect("body");
    assert!(
        Manifest::from_yaml(&served)
            .expect("yaml")
            .manifest
            .features
            .storage
            .enabled
    );
    std::fs::write(&path, "features:\n  storage: { enabled: false }\n").expect("write");
    let served = reqwest::get(&url)
        .await
        .expect("answer")
        .text()
        .await
        .expect("body");
    assert!(
        !Manifest::from_yaml(&served)
            .expect("yaml")
            .manifest
            .features
            .storage
            .enabled
    );

    std::fs::write(&path, "features:\n  storage: { enabled: yes }\n").expect("write");
    let broken = reqwest::get(&url).await.expect("answer");
    assert_eq!(broken.status(), 500);
    let problem: Value = broken.json().await.expect("a problem");
    assert_eq!(problem["code"], "invalidManifest");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("features.storage.enabled")
    );

    assert!(
        ManifestSource::file(&path).is_err(),
        "refused at start-up too"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn feature_routes_run_only_for_a_verified_gateway_call_for_this_provider() {
    let gateway = FakeGateway::start().await;
    let router = ProviderRouter::new(verifier(&gateway, "dev"), ManifestSource::value(manifest()))
        .build(features());
    let provider = serve(router).await;
    let http = reqwest::Client::new();
    let call = |path: &str, token: Option<String>| {
        let mut request = http.get(format!("{}/ucloud/dev{path}", provider.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let token = gateway.service_token("dev", Some("alice#1"), Some("p1"));
    let answer = call("/storage/whoami", Some(token)).await.expect("answer");
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.expect("json");
    assert_eq!(body, json!({"username": "alice#1", "project": "p1"}));

    let anonymous = call("/storage/open", None).await.expect("answer");
    assert_eq!(anonymous.status(), 401);
    let elsewhere = gateway.service_token("other", Some("alice#1"), None);
    let refused = call("/storage/open", Some(elsewhere))
        .await
        .expect("answer");
    assert_eq!(refused.status(), 401);
    let problem: Value = refused.json().await.expect("a problem");
    assert_eq!(problem["detail"], "token is meant for another audience");
    let not_found = call("/storage/nothing-here", None).await.expect("answer");
    assert_eq!(not_found.status(), 404);
}

#[tokio::test]
async fn the_usermap_seam_is_served_without_the_service_token_layer() {
    let gateway = FakeGateway::start().await;
    let usermap = Router::new().route("/", post(|| async { "usermap form received" }));
    let router = ProviderRouter::new(verifier(&gateway, "dev"), ManifestSource::value(manifest()))
        .usermap(usermap)
        .build(features());
    let provider = serve(router).await;
    let answer = reqwest::Client::new()
        .post(format!("{}/ucloud/dev/usermap", provider.base))
        .form(&[("token", "checked-by-the-handler")])
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.expect("body"), "usermap form received");
}
