//! `provider_kit::tls`: a router served over HTTPS with the project's dev CA (`gateway certs
//! dev`), h2 and http/1.1 by ALPN, and the certificate reloaded without a restart — by a call, by
//! a file change, and under load with no failed request.

// As in the gateway's API tests: a failed step is the test's failure, with its line.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::routing::get;
use provider_kit::tls::{self, ReloadingCert};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;

/// Bounds every wait on a condition, so a broken reload fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

/// The dev CA's files in a temporary folder, and a server on them.
struct Https {
    dir: PathBuf,
    cert: Arc<ReloadingCert>,
    port: u16,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Https {
    async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "pk-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        gateway::tls::devcerts::generate(&dir, &["localhost".into()]).unwrap();
        let cert =
            ReloadingCert::load(&dir.join("server.pem"), &dir.join("server-key.pem")).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let router = Router::new().route("/hello", get(|| async { "hello" }));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(tls::serve(listener, router, cert.clone(), async {
            let _ = stopped.await;
        }));
        Self {
            dir,
            cert,
            port,
            stop: Some(stop),
            server,
        }
    }

    fn url(&self) -> String {
        format!("https://localhost:{}/hello", self.port)
    }

    fn ca(&self) -> reqwest::Certificate {
        reqwest::Certificate::from_pem(&std::fs::read(self.dir.join("ca.pem")).unwrap()).unwrap()
    }

    /// A client that trusts only the dev CA.
    fn client(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .tls_certs_only([self.ca()])
            .resolve("localhost", ([127, 0, 0, 1], self.port).into())
    }

    /// The leaf certificate in `server.pem` now.
    fn on_disk(&self) -> Vec<u8> {
        leaf(&self.dir.join("server.pem"))
    }

    /// Replaces the server certificate and key with a fresh pair from the same CA.
    fn issue_new(&self, hosts: &[&str]) {
        std::fs::remove_file(self.dir.join("server.pem")).unwrap();
        let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        let paths = gateway::tls::devcerts::generate(&self.dir, &hosts).unwrap();
        assert!(paths.server_issued && !paths.ca_created);
    }

    /// The leaf certificate a new handshake presents, and the protocol ALPN chose.
    async fn presented(&self, alpn: &[&[u8]]) -> (Vec<u8>, Option<Vec<u8>>) {
        presented(self.port, &self.dir.join("ca.pem"), alpn).await
    }

    async fn stop(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        self.server.await.unwrap().unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn leaf(pem: &Path) -> Vec<u8> {
    CertificateDer::pem_file_iter(pem)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

/// Handshakes with `127.0.0.1:port` as `localhost`, trusting only `ca`.
pub async fn presented(port: u16, ca: &Path, alpn: &[&[u8]]) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (_, connection) = tls.get_ref();
    (
        connection.peer_certificates().unwrap()[0].to_vec(),
        connection.alpn_protocol().map(<[u8]>::to_vec),
    )
}

#[tokio::test]
async fn a_router_served_over_tls_speaks_h2_and_http1_to_a_client_trusting_only_the_dev_ca() {
    let https = Https::start().await;
    let h2 = https.client().build().unwrap();
    let answer = h2.get(https.url()).send().await.unwrap();
    assert_eq!(answer.version(), reqwest::Version::HTTP_2);
    assert_eq!(answer.text().await.unwrap(), "hello");

    let h1 = https.client().http1_only().build().unwrap();
    let answer = h1.get(https.url()).send().await.unwrap();
    assert_eq!(answer.version(), reqwest::Version::HTTP_11);
    assert_eq!(answer.text().await.unwrap(), "hello");

    assert_eq!(
        https.presented(&[b"h2"]).await.1.as_deref(),
        Some(&b"h2"[..])
    );
    assert_eq!(
        https.presented(&[b"http/1.1"]).await.1.as_deref(),
        Some(&b"http/1.1"[..])
    );

    let untrusting = reqwest::Client::builder()
        .tls_certs_only([])
        .resolve("localhost", ([127, 0, 0, 1], https.port).into())
        .build()
        .unwrap();
    assert!(untrusting.get(https.url()).send().await.is_err());
    https.stop().await;
}

#[tokio::test]
async fn a_reload_gives_new_handshakes_the_new_certificate_while_open_connections_continue() {
    let https = Https::start().await;
    let old = https.on_disk();
    assert_eq!(https.presented(&[b"h2"]).await.0, old);
    let kept = https.client().build().unwrap();
    assert_eq!(kept.get(https.url()).send().await.unwrap().status(), 200);

    https.issue_new(&["localhost", "provider.test"]);
    let new = https.on_disk();
    assert_ne!(new, old);
    assert_eq!(
        https.presented(&[b"h2"]).await.0,
        old,
        "nothing changes before the reload"
    );
    https.cert.reload().unwrap();
    assert_eq!(https.presented(&[b"h2"]).await.0, new);
    assert_eq!(https.presented(&[b"http/1.1"]).await.0, new);
    assert_eq!(
        kept.get(https.url()).send().await.unwrap().status(),
        200,
        "the connection opened before the reload goes on"
    );
    https.stop().await;
}

#[tokio::test]
async fn a_bad_new_certificate_keeps_the_old_one_and_says_why() {
    let https = Https::start().await;
    let old = https.on_disk();
    let pem = https.dir.join("server.pem");
    std::fs::write(&pem, "not a certificate").unwrap();
    let error = https.cert.reload().unwrap_err().to_string();
    assert!(error.contains("server.pem"), "{error}");
    assert_eq!(https.presented(&[b"h2"]).await.0, old);

    // A certificate whose key is another one's is refused as well.
    https.issue_new(&["localhost"]);
    std::fs::copy(
        https.dir.join("ca-key.pem"),
        https.dir.join("server-key.pem"),
    )
    .unwrap();
    let error = https.cert.reload().unwrap_err().to_string();
    assert!(error.contains("server-key.pem"), "{error}");
    assert_eq!(https.presented(&[b"h2"]).await.0, old);
    https.stop().await;
}

#[tokio::test]
async fn changed_files_are_picked_up_without_a_restart_or_a_call() {
    let https = Https::start().await;
    let watcher = tokio::spawn(tls::watch(https.cert.clone(), Duration::from_millis(50)));
    let mut reloads = https.cert.subscribe();
    https.issue_new(&["localhost", "provider.test"]);
    let new = https.on_disk();
    tokio::time::timeout(PATIENCE, reloads.wait_for(|n| *n >= 1))
        .await
        .expect("the watcher reloads the changed files")
        .unwrap();
    // The watcher may have read the new certificate before its key: then it reloads again.
    let mut seen = https.presented(&[b"h2"]).await.0;
    while seen != new {
        tokio::time::timeout(PATIENCE, reloads.changed())
            .await
            .expect("the watcher reloads the new pair")
            .unwrap();
        seen = https.presented(&[b"h2"]).await.0;
    }
    watcher.abort();
    https.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_under_load_fail_no_request_on_fresh_or_kept_connections() {
    let https = Arc::new(Https::start().await);
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let mut loops = Vec::new();
    for fresh in [true, true, false, false] {
        let (https, stop, ok) = (https.clone(), stop.clone(), ok.clone());
        loops.push(tokio::spawn(async move {
            let kept = https.client().build().unwrap();
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let client = if fresh {
                    https.client().pool_max_idle_per_host(0).build().unwrap()
                } else {
                    kept.clone()
                };
                match client.get(https.url()).send().await {
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
    let mut last = https.on_disk();
    for round in 0..5 {
        // Let requests run on the certificate in use before replacing it.
        let before = ok.load(Ordering::Relaxed);
        let mut count = https.cert.subscribe();
        tokio::time::timeout(PATIENCE, async {
            while ok.load(Ordering::Relaxed) < before + 20 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("requests go through");
        https.issue_new(&["localhost", &format!("round{round}.test")]);
        https.cert.reload().unwrap();
        count.wait_for(|n| *n > 0).await.unwrap();
        let now = https.on_disk();
        assert_ne!(now, last);
        assert_eq!(https.presented(&[b"h2"]).await.0, now);
        last = now;
    }
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        let failures = l.await.unwrap();
        assert!(failures.is_empty(), "failed requests: {failures:?}");
    }
    assert!(ok.load(Ordering::Relaxed) >= 100);
    if let Ok(https) = Arc::try_unwrap(https) {
        https.stop().await;
    }
}

#[tokio::test]
async fn provider_kit_serve_speaks_https_and_reloads_its_certificate_on_sighup() {
    use crate::support::FakeGateway;
    use crate::support::process::{BINARY, TempDir, free_port};
    use crate::support::wait_for;

    let gateway = FakeGateway::start().await;
    let dir = TempDir::new("serve-tls");
    gateway
        .credentials("dev")
        .save(dir.join("dev.json"), false)
        .unwrap();
    let certs = dir.join("certs");
    gateway::tls::devcerts::generate(&certs, &["localhost".into()]).unwrap();
    // Paths in the config file are relative to it.
    std::fs::write(
        dir.join("serve.yaml"),
        format!(
            "credentials: dev.json\nmanifest: {}\ndata_dir: data\ntls_cert: certs/server.pem\n\
             tls_key: certs/server-key.pem\n",
            crate::support::dev::REPO_MANIFEST
        ),
    )
    .unwrap();
    let port = free_port();
    let log = dir.join("log");
    let mut child = tokio::process::Command::new(BINARY)
        .args(["serve", "--config"])
        .arg(dir.join("serve.yaml"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("PROVIDER_KIT_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(certs.join("ca.pem")).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap();
    let url = format!("https://localhost:{port}/ucloud/dev/manifest");
    let version = wait_for("the manifest over https", PATIENCE, || {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let answer = client.get(&url).send().await.ok()?;
            (answer.status() == 200).then(|| answer.version())
        }
    })
    .await;
    assert_eq!(version, reqwest::Version::HTTP_2);
    assert_eq!(
        presented(port, &certs.join("ca.pem"), &[b"h2"]).await.0,
        leaf(&certs.join("server.pem"))
    );

    std::fs::remove_file(certs.join("server.pem")).unwrap();
    gateway::tls::devcerts::generate(&certs, &["localhost".into(), "provider.test".into()])
        .unwrap();
    let new = leaf(&certs.join("server.pem"));
    let pid = child.id().unwrap().to_string();
    let sent = tokio::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .await
        .unwrap();
    assert!(sent.success());
    wait_for("the reload on SIGHUP", PATIENCE, || {
        let log = log.clone();
        async move {
            std::fs::read_to_string(&log)
                .ok()
                .filter(|text| text.contains("TLS certificate reloaded (SIGHUP)"))
        }
    })
    .await;
    assert_eq!(
        presented(port, &certs.join("ca.pem"), &[b"h2"]).await.0,
        new
    );
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    assert!(child.try_wait().unwrap().is_none(), "still running");
    let _ = child.start_kill();
}
