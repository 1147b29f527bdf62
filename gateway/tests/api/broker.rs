//! The broker: gated, principal-bearing, streamed requests to a real provider built on provider-kit.

use crate::support::{Backend, START_MS, TestApp, read};
use crate::upstream::{MANIFEST, Upstream, header_names};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A gateway with one test provider `dev` (owned by `owner`), its manifest fetched.
async fn federation(
    backend: Backend,
    manifest: &'static str,
    adjust: impl FnOnce(&mut gateway::config::Config),
) -> (TestApp, Upstream, String) {
    let app = TestApp::spawn_with(backend, adjust).await;
    let upstream = Upstream::start("dev", &app.url, START_MS / 1000, manifest).await;
    let owner = app.user("owner", false).await;
    let body = json!({ "id": "dev", "domain": "127.0.0.1", "https": false, "port": upstream.port, "env": "test" });
    assert_eq!(
        app.post(&owner, "/api/providers", body).await.0,
        StatusCode::CREATED
    );
    let provider = app.app.registry.get_any("dev").await.unwrap();
    app.app.manifests.refresh(&provider).await.unwrap();
    (app, upstream, owner)
}

async fn the_provider_sees_the_same_principal_as_api_me_and_never_the_callers_credentials(
    backend: Backend,
) {
    let (app, _up, owner) = federation(backend, MANIFEST, |_| {}).await;
    let (_, me) = app.get(&owner, "/api/me").await;
    let r = app
        .http
        .post(app.url("/ucloud/dev/compute/docker/echo?job=42&x=%2F"))
        .bearer_auth(&owner)
        .header("cookie", "gw_session=stolen")
        .header("x-forwarded-user", "root")
        .header("x-remote-user", "root")
        .header("ucloud-username", "root")
        .header("x-request-id", "chosen by caller")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body("hello")
        .send()
        .await
        .unwrap();
    let (status, seen) = read(r).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(
        seen["principal"], me["principal"],
        "the principal is exactly GET /api/me's"
    );
    assert_eq!(seen["project"], Value::Null);
    assert_eq!(
        (seen["method"].as_str(), seen["uri"].as_str()),
        (
            Some("POST"),
            Some("/ucloud/dev/compute/docker/echo?job=42&x=%2F")
        )
    );
    assert_eq!(seen["body"], "hello");
    let names = header_names(&seen);
    for forbidden in [
        "cookie",
        "x-forwarded-user",
        "x-remote-user",
        "ucloud-username",
    ] {
        assert!(
            !names.contains(&forbidden.to_owned()),
            "{forbidden} reached the provider: {names:?}"
        );
    }
    let headers = &seen["headers"];
    assert!(
        !headers["authorization"].as_str().unwrap().contains(&owner),
        "the caller's token never reaches the provider"
    );
    assert_ne!(
        headers["x-request-id"], "chosen by caller",
        "an id with spaces is replaced"
    );
    let tp = headers["traceparent"].as_str().unwrap();
    assert!(
        tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-") && !tp.contains("00f067aa0ba902b7"),
        "{tp}"
    );
}
crate::on_both_backends!(
    the_provider_sees_the_same_principal_as_api_me_and_never_the_callers_credentials
);

async fn a_project_header_is_checked_against_membership_and_carried_in_the_token(backend: Backend) {
    let (app, _up, owner) = federation(backend, MANIFEST, |_| {}).await;
    let user = app.app.accounts.user("owner").await.unwrap();
    let project = app.app.projects.create(&user, "Climate").await.unwrap();
    let r = app
        .http
        .get(app.url("/ucloud/dev/compute/docker/echo"))
        .bearer_auth(&owner)
        .header("ucloud-project", project.id.as_str())
        .send()
        .await
        .unwrap();
    let (status, seen) = read(r).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["project"], project.id.as_str());

    // An admin sees every provider but is no member of this project.
    let admin = app.user("root", true).await;
    let r = app
        .http
        .get(app.url("/ucloud/dev/compute/docker/echo"))
        .bearer_auth(&admin)
        .header("ucloud-project", project.id.as_str())
        .send()
        .await
        .unwrap();
    let (status, problem) = read(r).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("notAProjectMember"))
    );
}
crate::on_both_backends!(a_project_header_is_checked_against_membership_and_carried_in_the_token);

async fn features_paths_and_provider_state_gate_every_request(backend: Backend) {
    let (app, _up, owner) = federation(backend, MANIFEST, |_| {}).await;
    let cases = [
        (
            "/ucloud/dev/compute/docker/web/1",
            StatusCode::BAD_REQUEST,
            "featureNotSupported",
        ),
        (
            "/ucloud/dev/compute/virtualMachine/x",
            StatusCode::BAD_REQUEST,
            "featureNotSupported",
        ),
        (
            "/ucloud/dev/ipAddresses",
            StatusCode::BAD_REQUEST,
            "featureNotSupported",
        ),
        ("/ucloud/dev/usermap", StatusCode::NOT_FOUND, "notFound"),
        (
            "/ucloud/dev/admin/secrets",
            StatusCode::NOT_FOUND,
            "notFound",
        ),
        (
            "/ucloud/dev/storage/../usermap",
            StatusCode::NOT_FOUND,
            "notFound",
        ),
        ("/ucloud/nope/storage/x", StatusCode::NOT_FOUND, "notFound"),
    ];
    for (path, status, code) in cases {
        let (got, problem) = app.get(&owner, path).await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{path}: {problem}"
        );
    }
    let (_, problem) = app.get(&owner, "/ucloud/dev/compute/docker/web/1").await;
    assert_eq!(problem["feature"], "compute.docker.web");
    assert_eq!(problem["provider"], "dev");

    let (status, manifest) = app.get(&owner, "/ucloud/dev/manifest").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(manifest["features"]["compute"]["docker"]["logs"], true);

    // No user, no brokering.
    let r = app
        .http
        .get(app.url("/ucloud/dev/compute/docker/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A suspended provider is refused; others cannot even see it.
    let admin = app.user("root", true).await;
    app.post(&admin, "/api/admin/providers/dev/suspend", json!({}))
        .await;
    let (status, problem) = app.get(&owner, "/ucloud/dev/compute/docker/echo").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("providerInactive"))
    );
    let other = app.user("other", false).await;
    assert_eq!(
        app.get(&other, "/ucloud/dev/compute/docker/echo").await.0,
        StatusCode::NOT_FOUND
    );
    app.post(&admin, "/api/admin/providers/dev/resume", json!({}))
        .await;
    assert_eq!(
        app.get(&owner, "/ucloud/dev/compute/docker/echo").await.0,
        StatusCode::OK
    );
}
crate::on_both_backends!(features_paths_and_provider_state_gate_every_request);

async fn a_provider_that_requires_explicit_mapping_sends_unconnected_users_to_connect(
    backend: Backend,
) {
    const EXPLICIT: &str =
        "users: { requireExplicitMapping: true }\nfeatures:\n  storage: { enabled: true }\n";
    let (app, _up, owner) = federation(backend, EXPLICIT, |_| {}).await;
    let (status, problem) = app.get(&owner, "/ucloud/dev/storage/x").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("connectionRequired"))
    );
    assert!(
        problem["connectUrl"]
            .as_str()
            .unwrap()
            .starts_with(&app.url)
    );
}
crate::on_both_backends!(
    a_provider_that_requires_explicit_mapping_sends_unconnected_users_to_connect
);

async fn a_dead_provider_fails_fast_and_a_slow_one_times_out_while_a_healthy_one_keeps_working(
    backend: Backend,
) {
    let (app, up, owner) =
        federation(backend, MANIFEST, |c| c.broker.response_timeout_ms = 700).await;
    // A second provider on a port where nothing listens.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let body = json!({ "id": "gone", "domain": "127.0.0.1", "https": false, "port": dead_port, "env": "test" });
    app.post(&owner, "/api/providers", body).await;
    // Its manifest is known from before it died: simulate by serving it from the live provider's port first.
    let _ = up;
    let started = Instant::now();
    let (status, problem) = app.get(&owner, "/ucloud/gone/storage/x").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("manifestUnavailable"))
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    let slow = {
        let (http, url, token) = (
            app.http.clone(),
            app.url("/ucloud/dev/storage/slow"),
            owner.clone(),
        );
        tokio::spawn(
            async move { read(http.get(url).bearer_auth(token).send().await.unwrap()).await },
        )
    };
    // While the slow request waits, the healthy route keeps answering.
    for _ in 0..5 {
        assert_eq!(
            app.get(&owner, "/ucloud/dev/compute/docker/echo").await.0,
            StatusCode::OK
        );
    }
    let started = Instant::now();
    let (status, problem) = slow.await.unwrap();
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::GATEWAY_TIMEOUT, Some("providerTimeout"))
    );
    assert_eq!(problem["provider"], "dev");
    assert!(started.elapsed() < Duration::from_secs(3));
}
crate::on_both_backends!(
    a_dead_provider_fails_fast_and_a_slow_one_times_out_while_a_healthy_one_keeps_working
);

async fn an_unreachable_provider_is_a_502_that_names_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner", false).await;
    // Serve the manifest, let the gateway cache it, then take the provider away.
    let up = Upstream::start("dev", &app.url, START_MS / 1000, MANIFEST).await;
    let port = up.port;
    let body =
        json!({ "id": "dev", "domain": "127.0.0.1", "https": false, "port": port, "env": "test" });
    app.post(&owner, "/api/providers", body).await;
    app.app
        .manifests
        .refresh(&app.app.registry.get_any("dev").await.unwrap())
        .await
        .unwrap();
    drop(up);
    let started = Instant::now();
    let status = crate::support::wait_until(Duration::from_secs(5), || async {
        let (status, problem) = app.get(&owner, "/ucloud/dev/compute/docker/echo").await;
        (status == StatusCode::BAD_GATEWAY).then_some(problem)
    })
    .await;
    assert_eq!(status["code"], "providerUnreachable");
    assert_eq!(status["provider"], "dev");
    assert!(
        !status["detail"].as_str().unwrap().contains("127.0.0.1"),
        "the problem names the provider, not its address"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}
crate::on_both_backends!(an_unreachable_provider_is_a_502_that_names_it);

async fn a_websocket_echo_works_through_the_gateway(backend: Backend) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let (app, _up, owner) = federation(backend, MANIFEST, |_| {}).await;
    let mut request = format!(
        "{}/ucloud/dev/storage/ws",
        app.url.replace("http://", "ws://")
    )
    .into_client_request()
    .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {owner}").parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.status(), 101);
    for text in ["one", "two"] {
        socket.send(Message::text(text)).await.unwrap();
        let reply = socket.next().await.unwrap().unwrap();
        assert_eq!(reply.into_text().unwrap().as_str(), format!("echo: {text}"));
    }
    socket.close(None).await.unwrap();
}
crate::on_both_backends!(a_websocket_echo_works_through_the_gateway);

async fn bodies_over_the_limit_are_refused_and_service_tokens_are_cached_per_key(backend: Backend) {
    let (app, up, owner) = federation(backend, MANIFEST, |c| c.broker.max_body_bytes = 1000).await;
    let r = app
        .http
        .post(app.url("/ucloud/dev/storage/upload"))
        .bearer_auth(&owner)
        .body(vec![0u8; 5000])
        .send()
        .await
        .unwrap();
    let (status, problem) = read(r).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payloadTooLarge"))
    );
    // Without a Content-Length the limit still holds mid-stream.
    let chunks =
        futures_util::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(vec![0u8; 500])));
    let r = app
        .http
        .post(app.url("/ucloud/dev/storage/upload"))
        .bearer_auth(&owner)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_ne!(
        r.status(),
        StatusCode::OK,
        "a streamed body past the limit must not be accepted"
    );

    let token_of = |seen: &Value| {
        seen["headers"]["authorization"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (_, a) = app.get(&owner, "/ucloud/dev/compute/docker/echo").await;

    let (_, b) = app.get(&owner, "/ucloud/dev/compute/docker/echo").await;
    assert_eq!(
        token_of(&a),
        token_of(&b),
        "the second request reuses the signed token"
    );
    let admin = app.user("root", true).await;
    let (_, rotated) = app.post(&admin, "/api/admin/keys/rotate", json!({})).await;
    // Once the new key signs, the provider (which has not seen it yet) fetches it and accepts it.
    let delay = app.app.config.key_activation_secs;
    app.clock.advance_secs(delay);
    up.clock.advance(delay);
    let (status, c) = app.get(&owner, "/ucloud/dev/compute/docker/echo").await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let kid = jsonwebtoken::decode_header(token_of(&c).trim_start_matches("Bearer "))
        .unwrap()
        .kid
        .unwrap();
    assert_eq!(
        kid,
        rotated["kid"].as_str().unwrap(),
        "after a rotation no token signed with the old key is served"
    );

    let metrics = app
        .http
        .get(format!("{}/metrics", app.metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("gateway_broker_requests_total{provider=\"dev\",class=\"2xx\"} 3"),
        "{metrics}"
    );
    // Signed: the first upload's token and the token after the rotation; every other request reused one.
    assert!(
        metrics.contains("gateway_service_token_cache_total{result=\"miss\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gateway_service_token_cache_total{result=\"hit\"} 3"),
        "{metrics}"
    );
    assert!(!metrics.contains(&owner));
}
crate::on_both_backends!(bodies_over_the_limit_are_refused_and_service_tokens_are_cached_per_key);

/// A provider that records every brokered request exactly as it arrived (raw URI, headers) and
/// answers with the status and headers a test chose: the double for the broker's attack tests.
#[derive(Clone)]
pub struct Recorder {
    pub port: u16,
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
    answer: std::sync::Arc<std::sync::Mutex<Answer>>,
    _stop: std::sync::Arc<tokio::sync::oneshot::Sender<()>>,
}

/// Status, headers and body of the recorder's next answers.
type Answer = (u16, Vec<(String, String)>, String);

#[derive(Clone, Debug)]
pub struct Seen {
    pub uri: String,
    pub headers: axum::http::HeaderMap,
}

impl Recorder {
    pub async fn start(id: &str, manifest: &'static str) -> Self {
        use axum::response::IntoResponse;
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Seen>::new()));
        let answer = std::sync::Arc::new(std::sync::Mutex::new((
            200u16,
            Vec::<(String, String)>::new(),
            "ok".to_owned(),
        )));
        let manifest_path = format!("/ucloud/{id}/manifest");
        let (s, a) = (seen.clone(), answer.clone());
        let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (s, a, manifest_path) = (s.clone(), a.clone(), manifest_path.clone());
            async move {
                if request.uri().path() == manifest_path {
                    return ([("content-type", "application/yaml")], manifest).into_response();
                }
                s.lock().unwrap().push(Seen {
                    uri: request.uri().to_string(),
                    headers: request.headers().clone(),
                });
                let (status, headers, body) = a.lock().unwrap().clone();
                let mut response =
                    (axum::http::StatusCode::from_u16(status).unwrap(), body).into_response();
                let mut chosen = axum::http::HeaderMap::new();
                for (k, v) in headers {
                    chosen.append(
                        axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                        v.parse().unwrap(),
                    );
                }
                // Replaces axum's defaults (its text/plain) by what the test chose.
                response.headers_mut().extend(chosen);
                response
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Self {
            port,
            seen,
            answer,
            _stop: std::sync::Arc::new(tx),
        }
    }

    /// The next answers: `status`, these headers, `body`.
    pub fn answer(&self, status: u16, headers: &[(&str, &str)], body: &str) {
        *self.answer.lock().unwrap() = (
            status,
            headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body.to_owned(),
        );
    }

    /// Every brokered request so far (the manifest fetch excluded).
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A gateway on `backend` with the test provider `dev` (owned by `owner`, whose API token is
/// returned) served by a `Recorder`, its manifest fetched.
pub async fn recorded_federation(
    backend: Backend,
    manifest: &'static str,
) -> (TestApp, Recorder, String) {
    let app = TestApp::spawn(backend).await;
    let recorder = Recorder::start("dev", manifest).await;
    let owner = app.user("owner", false).await;
    let body = json!({ "id": "dev", "domain": "127.0.0.1", "https": false, "port": recorder.port, "env": "test" });
    assert_eq!(
        app.post(&owner, "/api/providers", body).await.0,
        StatusCode::CREATED
    );
    let provider = app.app.registry.get_any("dev").await.unwrap();
    app.app.manifests.refresh(&provider).await.unwrap();
    (app, recorder, owner)
}

async fn a_request_arriving_over_http2_is_brokered_to_the_http1_provider(backend: Backend) {
    let (app, _up, owner) = federation(backend, MANIFEST, |_| {}).await;
    // A browser on the gateway's TLS listener negotiates h2 by ALPN; h2c with prior knowledge is
    // the same inbound protocol without TLS. The provider speaks HTTP/1.1: the version is
    // hop-by-hop (it once went upstream unchanged and every such request was a 502).
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = h2
        .post(app.url("/ucloud/dev/compute/docker/echo?over=h2"))
        .bearer_auth(&owner)
        .body("hello over h2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    let (status, seen) = read(r).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(
        seen["uri"].as_str(),
        Some("/ucloud/dev/compute/docker/echo?over=h2")
    );
    assert_eq!(seen["body"], "hello over h2");
}
crate::on_both_backends!(a_request_arriving_over_http2_is_brokered_to_the_http1_provider);
