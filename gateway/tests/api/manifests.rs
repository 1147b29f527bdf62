//! Manifests: fetched over real TLS with the project's own CA, validated, cached, backed off,
//! and reloaded on demand.

use crate::provider_double::{Behaviour, Double, VALID};
use crate::support::{Backend, TestApp};
use gateway::audit::Actor;
use gateway::manifests::Refreshed;
use gateway::model::Provider;
use reqwest::StatusCode;
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

fn serve(body: &str) -> Behaviour {
    Behaviour::Serve {
        body: body.into(),
        content_type: "application/yaml",
        etag: None,
    }
}

/// Dev CA + server certificate for localhost, made by the gateway's own generator.
pub fn dev_certs(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "gw-certs-{label}-{}",
        gateway::secrets::random_id()
    ));
    gateway::tls::devcerts::generate(&dir, &[]).unwrap();
    dir
}

async fn provider(app: &TestApp, id: &str) -> Provider {
    app.app.registry.get_any(id).await.unwrap()
}

/// A gateway that trusts `ca` and may reach `localhost` for production providers (or not).
async fn gateway_trusting(backend: Backend, ca: Option<PathBuf>, allow_localhost: bool) -> TestApp {
    TestApp::spawn_with(backend, |c| {
        c.manifest.extra_roots = ca.into_iter().collect();
        if allow_localhost {
            c.manifest.allow_private = vec!["localhost".into()];
        }
        c.manifest.timeout_ms = 2000;
    })
    .await
}

/// Registers a production provider at `localhost:port` as a user, and approves it as an admin
/// (a pending production provider is never fetched).
async fn register_production(app: &TestApp, id: &str, port: u16) {
    let owner = app.user("owner", false).await;
    let body = json!({ "id": id, "domain": "localhost", "https": true, "port": port, "env": "production" });
    let (status, reg) = app.post(&owner, "/api/providers", body).await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    let admin = app.user(&format!("{id}-admin"), true).await;
    app.approve(&admin, id).await;
}

async fn a_production_provider_over_https_with_the_generated_ca_is_fetched_with_a_service_token(
    backend: Backend,
) {
    let certs = dev_certs("ok");
    let double = Double::https("hpc", &certs, serve(VALID)).await;
    let app = gateway_trusting(backend, Some(certs.join("ca.pem")), true).await;
    register_production(&app, "hpc", double.port).await;

    assert_eq!(
        app.app
            .manifests
            .refresh(&provider(&app, "hpc").await)
            .await
            .unwrap(),
        Refreshed::Updated
    );
    let manifest = app.app.manifests.current("hpc").unwrap();
    assert!(manifest.users.require_explicit_mapping && manifest.features.storage.projects);
    assert!(
        !manifest.features.compute.docker.enabled,
        "absent features default to false"
    );

    // The provider was called with a service token for it, verifiable from the JWKS.
    let auth = double.seen.lock().unwrap().authorization[0].clone();
    let token = auth.strip_prefix("Bearer ").unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("ucloud-service+jwt"));
    let mut claims = verify_with_jwks_aud(&app, token, "hpc").await;
    assert_eq!(claims["sub"].take(), "_UCloud");
    assert_eq!(claims["role"].take(), "SERVICE");
    assert!(
        claims.get("principal").is_none(),
        "a manifest fetch is not on behalf of a user"
    );

    let admin = app.user("root", true).await;
    let (_, view) = app.get(&admin, "/api/providers/hpc").await;
    assert_eq!(view["manifest"]["features"]["storage"]["enabled"], true);
    assert_eq!(view["manifestError"], serde_json::Value::Null);
    assert!(view["fetchedAt"].as_str().unwrap().starts_with("2027-"));
    let _ = std::fs::remove_dir_all(certs);
}
crate::on_both_backends!(
    a_production_provider_over_https_with_the_generated_ca_is_fetched_with_a_service_token
);

async fn verify_with_jwks_aud(app: &TestApp, token: &str, aud: &str) -> serde_json::Value {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, jwk::JwkSet};
    let jwks: JwkSet = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let key = DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[aud]);
    v.set_issuer(&[&app.url]);
    v.validate_exp = false;
    decode::<serde_json::Value>(token, &key, &v).unwrap().claims
}

async fn a_certificate_from_an_untrusted_ca_is_refused(backend: Backend) {
    let trusted = dev_certs("trusted");
    let other = dev_certs("other");
    let double = Double::https("hpc", &other, serve(VALID)).await;
    let app = gateway_trusting(backend, Some(trusted.join("ca.pem")), true).await;
    register_production(&app, "hpc", double.port).await;
    let Refreshed::Failed(error) = app
        .app
        .manifests
        .refresh(&provider(&app, "hpc").await)
        .await
        .unwrap()
    else {
        panic!("an untrusted certificate must fail");
    };
    assert_eq!(error.class(), "tls");
    assert!(error.to_string().contains("certificate"), "{error}");
    assert!(app.app.manifests.current("hpc").is_none());
    let _ = (
        std::fs::remove_dir_all(trusted),
        std::fs::remove_dir_all(other),
    );
}
crate::on_both_backends!(a_certificate_from_an_untrusted_ca_is_refused);

async fn plain_http_is_refused_for_production_providers(backend: Backend) {
    // Registration refuses it outright…
    let app = gateway_trusting(backend, None, true).await;
    let someone = app.user("someone", false).await;
    let body = json!({ "id": "hpc", "domain": "localhost", "https": false, "env": "production" });
    assert_eq!(
        app.post(&someone, "/api/providers", body).await.0,
        StatusCode::BAD_REQUEST
    );
    // …and a production provider whose port speaks plain HTTP is not fetched in the clear.
    let double = Double::http("hpc", 0, serve(VALID)).await;
    register_production(&app, "hpc", double.port).await;
    let outcome = app
        .app
        .manifests
        .refresh(&provider(&app, "hpc").await)
        .await
        .unwrap();
    assert!(matches!(outcome, Refreshed::Failed(_)), "{outcome:?}");
    assert!(app.app.manifests.current("hpc").is_none());
}
crate::on_both_backends!(plain_http_is_refused_for_production_providers);

async fn a_production_domain_resolving_to_loopback_is_refused(backend: Backend) {
    let certs = dev_certs("guard");
    let double = Double::https("hpc", &certs, serve(VALID)).await;
    let app = gateway_trusting(backend, Some(certs.join("ca.pem")), false).await;
    register_production(&app, "hpc", double.port).await;
    let Refreshed::Failed(error) = app
        .app
        .manifests
        .refresh(&provider(&app, "hpc").await)
        .await
        .unwrap()
    else {
        panic!("loopback must be refused");
    };
    let error = error.to_string();
    assert!(
        error.starts_with("unreachable: ")
            && error.contains("localhost resolves to")
            && error.contains("loopback"),
        "{error}"
    );
    assert_eq!(double.hits(), 0, "the gateway never connected");
    let _ = std::fs::remove_dir_all(certs);
}
crate::on_both_backends!(a_production_domain_resolving_to_loopback_is_refused);

/// A test provider served over plain HTTP on 127.0.0.1 (test providers may use loopback).
async fn test_provider(backend: Backend, behaviour: Behaviour) -> (TestApp, Double, String) {
    let double = Double::http("dev", 0, behaviour).await;
    let app = TestApp::spawn_with(backend, |c| c.manifest.timeout_ms = 500).await;
    let owner = app.user("owner", false).await;
    let body = json!({ "id": "dev", "domain": "127.0.0.1", "https": false, "port": double.port, "env": "test" });
    assert_eq!(
        app.post(&owner, "/api/providers", body).await.0,
        StatusCode::CREATED
    );
    (app, double, owner)
}

async fn an_invalid_manifest_keeps_the_previous_one_and_records_the_error(backend: Backend) {
    let (app, double, owner) = test_provider(backend, serve(VALID)).await;
    let p = provider(&app, "dev").await;
    assert_eq!(
        app.app.manifests.refresh(&p).await.unwrap(),
        Refreshed::Updated
    );

    double.set(serve(
        "features:\n  compute:\n    docker:\n      web: \"yes\"\n",
    ));
    let Refreshed::Failed(error) = app.app.manifests.refresh(&p).await.unwrap() else {
        panic!()
    };
    let error = error.to_string();
    assert!(
        error.starts_with("invalidManifest: ")
            && error.contains("features.compute.docker.web: expected a boolean, found \"yes\""),
        "{error}"
    );
    let (_, view) = app.get(&owner, "/api/providers/dev").await;
    assert_eq!(
        view["manifest"]["features"]["storage"]["enabled"], true,
        "the last valid manifest stays"
    );
    assert_eq!(view["manifestError"].as_str().unwrap(), error);
    assert!(
        app.app
            .manifests
            .current("dev")
            .unwrap()
            .users
            .require_explicit_mapping
    );

    // Unknown keys are warnings the owner sees, not errors.
    double.set(serve("features:\n  storage: { enabled: true, quota: 5 }\n"));
    assert_eq!(
        app.app.manifests.refresh(&p).await.unwrap(),
        Refreshed::Updated
    );
    let (_, view) = app.get(&owner, "/api/providers/dev").await;
    assert_eq!(view["manifestError"], serde_json::Value::Null);
    assert!(
        view["warnings"][0]
            .as_str()
            .unwrap()
            .contains("features.storage.quota"),
        "{view}"
    );
    let stranger = app.user("stranger", false).await;
    assert_eq!(
        app.get(&stranger, "/api/providers/dev").await.0,
        StatusCode::NOT_FOUND
    );
}
crate::on_both_backends!(an_invalid_manifest_keeps_the_previous_one_and_records_the_error);

async fn an_unchanged_manifest_answered_with_304_is_not_parsed_again(backend: Backend) {
    let etag = Some("\"v1\"".to_owned());
    let (app, double, owner) = test_provider(
        backend,
        Behaviour::Serve {
            body: VALID.into(),
            content_type: "application/yaml",
            etag,
        },
    )
    .await;
    let p = provider(&app, "dev").await;
    assert_eq!(
        app.app.manifests.refresh(&p).await.unwrap(),
        Refreshed::Updated
    );
    let parses = app.app.manifests.stats.parses.load(Ordering::Relaxed);
    let (_, before) = app.get(&owner, "/api/providers/dev").await;

    app.clock.advance_secs(301);
    assert_eq!(
        app.app.manifests.refresh(&p).await.unwrap(),
        Refreshed::NotModified
    );
    assert_eq!(
        app.app.manifests.stats.parses.load(Ordering::Relaxed),
        parses,
        "304 must not re-parse"
    );
    assert_eq!(
        double.seen.lock().unwrap().if_none_match,
        [None, Some("\"v1\"".to_owned())]
    );
    let (_, after) = app.get(&owner, "/api/providers/dev").await;
    assert_eq!(after["fetchedAt"], before["fetchedAt"]);
    assert_ne!(after["checkedAt"], before["checkedAt"]);
    assert_eq!(after["manifest"], before["manifest"]);
}
crate::on_both_backends!(an_unchanged_manifest_answered_with_304_is_not_parsed_again);

async fn a_provider_that_is_down_is_backed_off_and_recovers(backend: Backend) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner", false).await;
    let body =
        json!({ "id": "dev", "domain": "127.0.0.1", "https": false, "port": port, "env": "test" });
    assert_eq!(
        app.post(&owner, "/api/providers", body).await.0,
        StatusCode::CREATED
    );
    let manifests = &app.app.manifests;

    assert_eq!(
        manifests.refresh_due().await.unwrap(),
        1,
        "a new provider is due at once"
    );
    let status = manifests.status("dev").await.unwrap();
    assert_eq!(status.record.failures, 1);
    assert!(
        status
            .record
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("unreachable: "),
        "{:?}",
        status.record.last_error
    );

    // Backed off: 10 s after one failure, then 20 s after two.
    app.clock.advance_secs(9);
    assert_eq!(manifests.refresh_due().await.unwrap(), 0);
    app.clock.advance_secs(1);
    assert_eq!(manifests.refresh_due().await.unwrap(), 1);
    assert_eq!(manifests.status("dev").await.unwrap().record.failures, 2);
    app.clock.advance_secs(19);
    assert_eq!(manifests.refresh_due().await.unwrap(), 0);

    // The provider comes up; the next due attempt recovers and the error clears.
    let double = Double::http("dev", port, serve(VALID)).await;
    app.clock.advance_secs(1);
    assert_eq!(manifests.refresh_due().await.unwrap(), 1);
    let status = manifests.status("dev").await.unwrap();
    assert_eq!(
        (status.record.failures, status.record.last_error.clone()),
        (0, None)
    );
    assert!(status.manifest.is_some());
    assert_eq!(double.hits(), 1);
}
crate::on_both_backends!(a_provider_that_is_down_is_backed_off_and_recovers);

async fn a_reload_request_takes_effect_immediately(backend: Backend) {
    let (app, double, owner) = test_provider(backend, serve(VALID)).await;
    let (_, reg) = app.get(&owner, "/api/providers/dev").await;
    assert_eq!(
        reg["manifest"],
        serde_json::Value::Null,
        "nothing fetched yet: background polling is off"
    );

    // The provider itself, with its access token.
    let refresh = app
        .app
        .registry
        .rotate_refresh_token("dev", &Actor::Operator, json!({}))
        .await
        .unwrap();
    let (_, oauth) = app.oauth_refresh(refresh.expose()).await;
    let access = oauth["access_token"].as_str().unwrap();
    let (status, body) = app
        .post(access, "/api/providers/dev/manifest/reload", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["reload"], "updated");
    assert_eq!(body["manifest"]["features"]["storage"]["enabled"], true);

    // Its owner, after a change.
    double.set(serve(
        "features:\n  compute:\n    docker: { enabled: true }\n",
    ));
    let (status, body) = app
        .post(&owner, "/api/providers/dev/manifest/reload", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["manifest"]["features"]["compute"]["docker"]["enabled"],
        true
    );

    // Not a stranger, and a failing reload says why.
    let stranger = app.user("stranger", false).await;
    assert_eq!(
        app.post(&stranger, "/api/providers/dev/manifest/reload", json!({}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    double.set(serve("users: [1, 2]\n"));
    let (status, problem) = app
        .post(&owner, "/api/providers/dev/manifest/reload", json!({}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "invalidManifest");
    double.set(Behaviour::Status(500));
    let (status, problem) = app
        .post(&owner, "/api/providers/dev/manifest/reload", json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("httpStatus 500: "),
        "{problem}"
    );
}
crate::on_both_backends!(a_reload_request_takes_effect_immediately);

async fn oversized_and_slow_manifests_are_cut_off_at_their_limits(backend: Backend) {
    let (app, double, _) = test_provider(backend, serve(&"#".repeat(70 * 1024))).await;
    let p = provider(&app, "dev").await;
    let Refreshed::Failed(error) = app.app.manifests.refresh(&p).await.unwrap() else {
        panic!()
    };
    let error = error.to_string();
    assert!(
        error.starts_with("notAManifest: ") && error.contains("more than 65536 bytes"),
        "{error}"
    );

    double.set(Behaviour::Streamed(1024 * 1024));
    let Refreshed::Failed(error) = app.app.manifests.refresh(&p).await.unwrap() else {
        panic!()
    };
    assert!(
        error.to_string().contains("more than 65536 bytes"),
        "without a Content-Length too: {error}"
    );

    double.set(Behaviour::Dribble);
    let Refreshed::Failed(error) = app.app.manifests.refresh(&p).await.unwrap() else {
        panic!()
    };
    let error = error.to_string();
    assert!(
        error.starts_with("timeout: ") && error.contains("did not answer within 500 ms"),
        "{error}"
    );
    assert!(app.app.manifests.current("dev").is_none());
}
crate::on_both_backends!(oversized_and_slow_manifests_are_cut_off_at_their_limits);

async fn the_background_refresher_fetches_a_new_provider_without_being_asked(backend: Backend) {
    let double = Double::http("dev", 0, serve(VALID)).await;
    let app = TestApp::spawn_with(backend, |c| c.manifest.poll_ms = 20).await;
    let owner = app.user("owner", false).await;
    let body = json!({ "id": "dev", "domain": "127.0.0.1", "https": false, "port": double.port, "env": "test" });
    assert_eq!(
        app.post(&owner, "/api/providers", body).await.0,
        StatusCode::CREATED
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.app.manifests.current("dev").is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the refresher never fetched the manifest"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(double.hits() >= 1);
}
crate::on_both_backends!(the_background_refresher_fetches_a_new_provider_without_being_asked);
