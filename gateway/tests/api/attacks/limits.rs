//! Attacks on the listeners and on input parsing (SPEC §6, §7 server limits): slow-header
//! connections, a flood past the connection limit, `/metrics` on the public listener, NUL and control
//! characters in path parameters, and axum's own rejections answering `text/plain`.

use crate::on_both_backends;
use crate::support::{Backend, TestApp, TestDb, wait_until};
use gateway::app::App;
use gateway::clock::ManualClock;
use gateway::config::Config;
use gateway::serve::serve_with_metrics;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Generous bound on waits that end by a condition; reaching it means the condition never held.
const PATIENCE: Duration = Duration::from_secs(30);

/// The gateway with a metrics listener, both on port 0.
struct Listening {
    public: String,
    metrics: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    _db: TestDb,
}

impl Listening {
    async fn spawn(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::new(backend).await;
        let public = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (public_addr, metrics_addr) =
            (public.local_addr().unwrap(), metrics.local_addr().unwrap());
        let mut config = Config {
            database_url: db.url.clone(),
            data_dir: db.dir.clone(),
            ..Config::default()
        };
        config.manifest.poll_ms = 3_600_000;
        adjust(&mut config);
        let url = format!("http://{public_addr}");
        let app = App::build(config, url.clone(), Arc::new(ManualClock::new(0)))
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_with_metrics(
            app.clone(),
            public,
            Some(metrics),
            async {
                let _ = rx.await;
            },
        ));
        crate::support::wait_for_the_change_feed(&app).await;
        Self {
            public: url,
            metrics: format!("http://{metrics_addr}"),
            stop: Some(tx),
            server,
            _db: db,
        }
    }

    fn addr(&self) -> &str {
        self.public.trim_start_matches("http://")
    }

    /// The value of one series on the metrics listener.
    async fn metric(&self, series: &str) -> Option<f64> {
        let text = reqwest::Client::new()
            .get(format!("{}/metrics", self.metrics))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.server.await.unwrap().unwrap();
    }
}

/// A client that sends the start of a request head and then nothing more.
async fn slow_client(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /readyz HTTP/1.1\r\nHost: gateway\r\nX-Slow: ")
        .await
        .unwrap();
    s
}

/// Reads until the server closes the connection; returns what it sent before closing.
async fn until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(PATIENCE, s.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open for {PATIENCE:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

async fn readyz(base: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/readyz"))
        .timeout(PATIENCE)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn connections_that_never_finish_their_headers_are_dropped_after_the_header_read_timeout(
    backend: Backend,
) {
    let app = Listening::spawn(backend, |c| c.server.header_read_timeout_ms = 300).await;
    let mut slow = Vec::new();
    for _ in 0..20 {
        slow.push(slow_client(app.addr()).await);
    }
    // One that sends nothing at all, and one that stops inside the HTTP/2 preface.
    slow.push(TcpStream::connect(app.addr()).await.unwrap());
    let mut h2 = TcpStream::connect(app.addr()).await.unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    slow.push(h2);
    for s in &mut slow {
        let sent = until_closed(s).await;
        assert!(
            !sent.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&sent)
        );
    }
    assert_eq!(readyz(&app.public).await, 200);
    app.stop().await;
}
crate::on_both_backends!(
    connections_that_never_finish_their_headers_are_dropped_after_the_header_read_timeout
);

/// HTTP/1.1's wait for the next request is the header-read timeout (SPEC §7), so a kept-alive
/// connection that stalls inside its second request's head is closed at that, not at the idle
/// timeout (60 s by default, past `PATIENCE`).
async fn a_kept_alive_connection_stalled_inside_its_next_head_is_dropped_after_the_header_read_timeout(
    backend: Backend,
) {
    let app = Listening::spawn(backend, |c| c.server.header_read_timeout_ms = 300).await;
    let mut s = TcpStream::connect(app.addr()).await.unwrap();
    s.write_all(b"GET /readyz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(PATIENCE, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    let started = std::time::Instant::now();
    s.write_all(b"GET /readyz HTTP/1.1\r\nHost: gateway\r\nX-Slow: ")
        .await
        .unwrap();
    let sent = until_closed(&mut s).await;
    assert!(sent.is_empty(), "{}", String::from_utf8_lossy(&sent));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "closed after {:?}",
        started.elapsed()
    );
    app.stop().await;
}
crate::on_both_backends!(
    a_kept_alive_connection_stalled_inside_its_next_head_is_dropped_after_the_header_read_timeout
);

async fn past_the_connection_limit_a_connection_is_closed_and_a_freed_slot_serves_readyz(
    backend: Backend,
) {
    let app = Listening::spawn(backend, |c| c.server.max_connections = 3).await;
    let open = "gateway_http_connections_open{listener=\"public\"}";
    let mut slow = Vec::new();
    for _ in 0..3 {
        slow.push(slow_client(app.addr()).await);
    }
    wait_until(PATIENCE, || async {
        (app.metric(open).await == Some(3.0)).then_some(())
    })
    .await;

    let mut over = TcpStream::connect(app.addr()).await.unwrap();
    let _ = over
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        .await;
    let answered = until_closed(&mut over).await;
    assert!(
        answered.is_empty(),
        "{}",
        String::from_utf8_lossy(&answered)
    );
    assert_eq!(
        app.metric("gateway_http_connections_refused_total{listener=\"public\"}")
            .await,
        Some(1.0)
    );

    drop(slow);
    wait_until(PATIENCE, || async {
        (app.metric(open).await == Some(0.0)).then_some(())
    })
    .await;
    assert_eq!(readyz(&app.public).await, 200);
    app.stop().await;
}
crate::on_both_backends!(
    past_the_connection_limit_a_connection_is_closed_and_a_freed_slot_serves_readyz
);

async fn metrics_are_served_on_their_own_listener_and_not_on_the_public_one(backend: Backend) {
    let app = Listening::spawn(backend, |_| {}).await;
    let public = reqwest::get(format!("{}/metrics", app.public))
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    assert_eq!(public.headers()["content-type"], "application/problem+json");
    let metrics = reqwest::get(format!("{}/metrics", app.metrics))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("gateway_manifest_fetches_total"), "{text}");
    assert!(text.contains("gateway_http_connections_open"), "{text}");
    // The metrics listener serves nothing else.
    let other = reqwest::get(format!("{}/readyz", app.metrics))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    app.stop().await;
}
crate::on_both_backends!(metrics_are_served_on_their_own_listener_and_not_on_the_public_one);

/// Every route that takes a path parameter, with the caller that reaches its handler.
const ID_ROUTES: &[(&str, &str, Caller)] = &[
    ("DELETE", "/api/tokens/{id}", Caller::Admin),
    ("GET", "/api/providers/{id}", Caller::Admin),
    ("PUT", "/api/providers/{id}", Caller::Admin),
    ("POST", "/api/providers/{id}/manifest/reload", Caller::Admin),
    ("POST", "/api/admin/providers/{id}/approve", Caller::Admin),
    ("POST", "/api/admin/providers/{id}/suspend", Caller::Admin),
    ("POST", "/api/admin/providers/{id}/resume", Caller::Admin),
    (
        "POST",
        "/api/admin/providers/{id}/refresh-token",
        Caller::Admin,
    ),
    (
        "DELETE",
        "/api/admin/providers/{id}/refresh-token",
        Caller::Admin,
    ),
    ("GET", "/api/projects/{id}", Caller::Admin),
    ("POST", "/api/projects/{id}/members", Caller::Admin),
    (
        "DELETE",
        "/api/projects/{id}/members/{username}",
        Caller::Admin,
    ),
    ("GET", "/api/admin/users/{username}", Caller::Admin),
    ("POST", "/api/admin/users/{username}/suspend", Caller::Admin),
    ("POST", "/api/admin/users/{username}/resume", Caller::Admin),
    ("POST", "/api/admin/users/{username}/disable", Caller::Admin),
    ("POST", "/api/admin/users/{username}/expiry", Caller::Admin),
    ("DELETE", "/api/connections/{id}", Caller::Admin),
    ("GET", "/connections/{id}/complete", Caller::Admin),
    ("POST", "/connections/{id}/disconnect", Caller::Admin),
    ("POST", "/tokens/{id}/delete", Caller::Admin),
    ("POST", "/admin/providers/{id}/approve", Caller::Admin),
    ("POST", "/api/providers/usermap/{id}", Caller::Provider),
    (
        "DELETE",
        "/api/providers/usermap/{id}/{username}",
        Caller::Provider,
    ),
    ("GET", "/ucloud/{id}/storage/files", Caller::Admin),
];

#[derive(Clone, Copy)]
enum Caller {
    Admin,
    Provider,
}

/// The body each route's handler expects, so only the path parameter is wrong.
fn body_for(path: &str) -> Value {
    if path.ends_with("/members") {
        json!({ "username": "admin", "role": "USER" })
    } else if path.ends_with("/suspend") {
        json!({ "until": null })
    } else if path.ends_with("/expiry") {
        json!({ "expiresAt": null })
    } else if path.starts_with("/api/providers/usermap/") {
        json!({ "username": "admin", "localIdentity": "a", "state": "ok" })
    } else {
        json!({})
    }
}

async fn nul_in_every_path_parameter_is_400_invalid_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("admin", true).await;
    let (status, registered) = app.register(&admin, "hpc", "test").await;
    assert_eq!(status, 201, "{registered}");
    let (_, refreshed) = app
        .refresh(registered["refreshToken"].as_str().unwrap())
        .await;
    let provider = refreshed["responses"][0]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut wrong = Vec::new();
    for (method, template, caller) in ID_ROUTES {
        let params: Vec<&str> = template.split('/').filter(|s| s.starts_with('{')).collect();
        for bad_param in &params {
            for bad in ["%00", "a%00b", "%01", "x%0Ay", "%7F"] {
                let path = params.iter().fold(template.to_string(), |p, param| {
                    let value = if param == bad_param { bad } else { "hpc" };
                    p.replace(param, value)
                });
                let token = match caller {
                    Caller::Admin => &admin,
                    Caller::Provider => &provider,
                };
                let r = app
                    .http
                    .request(method.parse().unwrap(), app.url(&path))
                    .bearer_auth(token)
                    .json(&body_for(template))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let content_type = r.headers().get("content-type").cloned();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                let is_problem = content_type.is_some_and(|c| c == "application/problem+json");
                if (status, is_problem, body["code"].as_str()) != (400, true, Some("invalidInput"))
                {
                    wrong.push(format!("{method} {path} → {status} {body}"));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    app.stop().await;
}
on_both_backends!(nul_in_ids, nul_in_every_path_parameter_is_400_invalid_input);

async fn nul_in_a_json_username_or_id_is_400_invalid_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("admin", true).await;
    let (_, project) = app
        .post(&admin, "/api/projects", json!({ "title": "P" }))
        .await;
    let project = project["id"].as_str().unwrap().to_owned();
    for (path, body) in [
        (
            format!("/api/projects/{project}/members"),
            json!({ "username": "ad\u{0}min", "role": "USER" }),
        ),
        (
            "/api/connections".to_owned(),
            json!({ "provider": "hp\u{0}c" }),
        ),
        (
            "/api/admin/wallets/grant".to_owned(),
            json!({ "owner": { "username": "ad\u{0}min" }, "provider": "hpc", "units": 1 }),
        ),
        (
            "/auth/login".to_owned(),
            json!({ "username": "ad\u{0}min", "password": "x" }),
        ),
    ] {
        let (status, problem) = app.post(&admin, &path, body).await;
        assert_eq!(
            (status.as_u16(), problem["code"].as_str()),
            (400, Some("invalidInput")),
            "{path}: {problem}"
        );
    }
    app.stop().await;
}
on_both_backends!(
    nul_in_json,
    nul_in_a_json_username_or_id_is_400_invalid_input
);

async fn every_kind_of_rejected_input_is_a_4xx_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("admin", true).await;
    let big = "x".repeat(200 * 1024);
    let c = &app.http;
    let cases = [
        // Path: not UTF-8 once percent-decoded.
        (
            "bad path",
            c.get(app.url("/api/providers/%FF%FE")).bearer_auth(&admin),
        ),
        // Query: a field of the wrong shape.
        (
            "bad query",
            c.get(app.url("/api/admin/audit?limit=many"))
                .bearer_auth(&admin),
        ),
        ("bad page query", c.get(app.url("/login?next=a&next=b"))),
        // Form: no content type, a missing field, too large.
        (
            "form without content type",
            c.post(app.url("/login")).body("username=a"),
        ),
        (
            "form missing fields",
            c.post(app.url("/login"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("username=a"),
        ),
        (
            "form too large",
            c.post(app.url("/login"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("username={big}")),
        ),
        // JSON: no content type, not JSON, too large.
        (
            "json without content type",
            c.post(app.url("/api/tokens"))
                .bearer_auth(&admin)
                .body("{}"),
        ),
        (
            "bad json",
            c.post(app.url("/api/tokens"))
                .bearer_auth(&admin)
                .header("content-type", "application/json")
                .body("{"),
        ),
        (
            "json too large",
            c.post(app.url("/api/tokens"))
                .bearer_auth(&admin)
                .json(&json!({ "name": big })),
        ),
        // Raw bodies too large.
        (
            "refresh body too large",
            c.post(app.url("/auth/providers/refresh"))
                .header("content-type", "application/json")
                .body(big.clone()),
        ),
        (
            "token body too large",
            c.post(app.url("/oauth/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("grant_type=refresh_token&refresh_token={big}")),
        ),
    ];
    let mut wrong = Vec::new();
    for (what, request) in cases {
        let r = request.send().await.unwrap();
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .unwrap_or_default();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let ok = (400..500).contains(&status)
            && content_type == "application/problem+json"
            && body["code"].as_str().is_some_and(|c| !c.is_empty())
            && body["status"] == status;
        if !ok {
            wrong.push(format!("{what}: {status} {content_type} {body}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    app.stop().await;
}
crate::on_both_backends!(every_kind_of_rejected_input_is_a_4xx_problem);
