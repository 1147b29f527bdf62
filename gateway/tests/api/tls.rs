//! The gateway's own HTTPS listener, with certificates from `gateway certs dev`.

use crate::support::{Backend, TestDb};
use gateway::app::App;
use gateway::clock::ManualClock;
use gateway::config::{Config, TlsConfig};
use gateway::serve::serve;
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

/// The leaf certificate in a PEM file.
fn leaf(pem: &std::path::Path) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_file_iter(pem)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

/// The leaf certificate a new handshake with `127.0.0.1:port` (as `localhost`, trusting only `ca`)
/// presents.
async fn presented(port: u16, ca: &std::path::Path) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gateway_picks_up_a_replaced_certificate_without_a_restart_or_a_failed_request() {
    // SQLite only: the certificate reload touches no storage, so a second backend would test nothing.
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    let db = TestDb::new(Backend::Sqlite).await;
    let certs = db.dir.join("certs");
    gateway::tls::devcerts::generate(&certs, &["localhost".into()]).unwrap();
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
    let url = format!("https://localhost:{port}");
    let app = App::build(
        config,
        url.clone(),
        Arc::new(ManualClock::new(1_800_000_000_000)),
    )
    .await
    .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(app, listener, async {
        let _ = rx.await;
    }));
    let ca_pem = certs.join("ca.pem");
    let client = |fresh: bool| {
        let ca = reqwest::Certificate::from_pem(&std::fs::read(&ca_pem).unwrap()).unwrap();
        let builder = reqwest::Client::builder()
            .tls_certs_only([ca])
            .resolve("localhost", ([127, 0, 0, 1], port).into());
        let builder = if fresh {
            builder.pool_max_idle_per_host(0)
        } else {
            builder
        };
        builder.build().unwrap()
    };
    let old = leaf(&certs.join("server.pem"));
    assert_eq!(presented(port, &ca_pem).await, old);

    // Clients on fresh and kept connections, all through the reload.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let mut loops = Vec::new();
    for fresh in [true, false, false] {
        let (stop, ok, client, url) = (stop.clone(), ok.clone(), client(fresh), url.clone());
        loops.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match client.get(format!("{url}/healthz")).send().await {
                    Ok(r) if r.status() == 200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => failures.push(format!("status {}", r.status())),
                    Err(e) => failures.push(format!("{e:?}")),
                }
            }
            failures
        }));
    }

    std::fs::remove_file(certs.join("server.pem")).unwrap();
    gateway::tls::devcerts::generate(&certs, &["localhost".into(), "gateway.test".into()]).unwrap();
    let new = leaf(&certs.join("server.pem"));
    assert_ne!(new, old);
    // The gateway looks at the files every few seconds: wait for the new certificate to show.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while presented(port, &ca_pem).await != new {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gateway still presents the old certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after_reload = ok.load(Ordering::Relaxed);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ok.load(Ordering::Relaxed) < after_reload + 30 {
        assert!(tokio::time::Instant::now() < deadline, "requests stalled");
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        let failures = l.await.unwrap();
        assert!(failures.is_empty(), "failed requests: {failures:?}");
    }

    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}
