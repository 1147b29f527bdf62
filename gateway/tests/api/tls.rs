//! The gateway's own HTTPS listener, with certificates from `gateway certs dev`.

use crate::support::{Backend, TestDb};
use gateway::app::{App, serve};
use gateway::clock::ManualClock;
use gateway::config::{Config, TlsConfig};
use serde_json::json;
use std::sync::Arc;

async fn the_gateway_serves_https_with_its_generated_certificate_and_secure_cookies(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let certs = db.dir.join("certs");
    gateway::tls::devcerts::generate(&certs, &[]).unwrap();
    let config = Config {
        database_url: db.url.clone(),
        data_dir: db.dir.clone(),
        tls: Some(TlsConfig {
            cert: certs.join("server.pem"),
            key: certs.join("server-key.pem"),
        }),
        ..Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let issuer = config.issuer(Some(listener.local_addr().unwrap()));
    assert!(issuer.starts_with("https://"), "{issuer}");
    let url = format!("https://localhost:{port}");
    let app = App::build(
        config,
        url.clone(),
        Arc::new(ManualClock::new(1_800_000_000_000)),
    )
    .await
    .unwrap();
    app.accounts
        .create_user(gateway::accounts::UserInput {
            username: "alice".into(),
            email: "alice@example.org".into(),
            first_name: "Alice".into(),
            last_name: "A".into(),
            organization: None,
            admin: false,
            password: Some("alice-password".into()),
        })
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(app, listener, async {
        let _ = rx.await;
    }));

    let ca = reqwest::Certificate::from_pem(&std::fs::read(certs.join("ca.pem")).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let health = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.version(), reqwest::Version::HTTP_2, "ALPN offers h2");
    assert_eq!(
        health.headers()["strict-transport-security"],
        "max-age=31536000",
        "under https every answer asks browsers to stay on https"
    );

    let login = client
        .post(format!("{url}/auth/login"))
        .json(&json!({ "username": "alice", "password": "alice-password" }))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(
        cookie.starts_with("__Host-gw_session=") && cookie.contains("Path=/"),
        "under https the session cookie is host-only by name: {cookie}"
    );
    let session = cookie.split(';').next().unwrap();
    let me = client
        .get(format!("{url}/api/me"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "the __Host- cookie signs the user in");

    // A client that does not trust the dev CA is refused.
    let untrusting = reqwest::Client::builder()
        .tls_certs_only([])
        .build()
        .unwrap();
    assert!(
        untrusting
            .get(format!("{url}/healthz"))
            .send()
            .await
            .is_err()
    );

    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}
crate::on_both_backends!(
    the_gateway_serves_https_with_its_generated_certificate_and_secure_cookies
);
