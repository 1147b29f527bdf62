//! Observability: the request id on every answer, the access log's lines, the HTTP metrics.

use crate::broker::recorded_federation;
use crate::on_both_backends;
use crate::support::{Backend, TestApp, wait_until};
use crate::upstream::MANIFEST;
use gateway::config::LogFormat;
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::{Arc, Mutex};

fn is_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

fn echoed(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id on {} {}", r.status(), r.url()))
        .to_str()
        .unwrap()
        .to_owned()
}

async fn the_request_id_is_echoed_on_api_page_and_brokered_answers_and_an_invalid_one_replaced(
    backend: Backend,
) {
    let (app, recorder, owner) = recorded_federation(backend, MANIFEST).await;
    let cookie = app.session_cookie("owner").await;
    let requests = [
        ("/api/me", Some(&owner), None),
        ("/api/nothing-here", None, None),
        ("/providers", None, Some(&cookie)),
        ("/login", None, None),
        ("/ucloud/dev/compute/docker/jobs", Some(&owner), None),
    ];
    for (path, token, cookie) in requests {
        for (sent, kept) in [
            ("Caller.chosen_id-42", true),
            ("has spaces", false),
            ("", false),
        ] {
            let mut request = app.http.get(app.url(path)).header("x-request-id", sent);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            let r = request.send().await.unwrap();
            let id = echoed(&r);
            if kept {
                assert_eq!(id, sent, "{path}: a valid id is kept");
            } else {
                assert!(
                    is_request_id(&id) && id != sent,
                    "{path}: {sent:?} -> {id:?}"
                );
            }
            if path.starts_with("/ucloud/") {
                assert_eq!(r.status(), StatusCode::OK);
                let seen = recorder.requests().pop().unwrap();
                assert_eq!(
                    seen.headers["x-request-id"].to_str().unwrap(),
                    id,
                    "the provider sees the id the caller is answered with"
                );
            }
        }
    }
    // Without an id at all, every answer still gets a fresh one.
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert!(is_request_id(&echoed(&r)));
}
on_both_backends!(
    the_request_id_is_echoed_on_api_page_and_brokered_answers_and_an_invalid_one_replaced
);

/// The process-wide default of this test binary: interested in every callsite "sometimes" and
/// enabling nothing itself. `tracing` caches each callsite's interest once, for the whole process,
/// from the dispatcher of whichever thread reaches it first; without this, a sibling test thread
/// with no subscriber could cache the access log's callsite as "never" and the capturing
/// subscriber of the test below would see no line (it happened under a loaded parallel run).
/// With it, every event asks the dispatcher of the thread that emits it.
struct AskEachTime;

impl tracing::Subscriber for AskEachTime {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Installs `subscriber` on this thread (where `#[tokio::test]` runs the server), safe against the
/// process-wide callsite cache ([`AskEachTime`]).
fn capture_on_this_thread(
    subscriber: impl tracing::Subscriber + Send + Sync + 'static,
) -> tracing::subscriber::DefaultGuard {
    static GLOBAL: std::sync::Once = std::sync::Once::new();
    GLOBAL.call_once(|| {
        let _ = tracing::subscriber::set_global_default(AskEachTime);
    });
    let guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    guard
}

/// The captured output of a test subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    fn access_lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["target"] == "gateway::access")
            .collect()
    }
}

async fn a_json_access_line_names_route_status_id_and_principal_and_never_a_secret(
    backend: Backend,
) {
    let captured = Captured::default();
    let writer = captured.clone();
    // `#[tokio::test]` runs the server on this thread, so a thread-local subscriber sees it.
    let _guard = capture_on_this_thread(gateway::cli::logging::subscriber(
        LogFormat::Json,
        tracing_subscriber::EnvFilter::new("info"),
        move || writer.clone(),
        false,
    ));
    let (app, recorder, owner) = recorded_federation(backend, MANIFEST).await;
    let r = app
        .http
        .get(app.url("/api/me?api_key=query-secret-1"))
        .bearer_auth(&owner)
        .header("cookie", "gw_session=cookie-secret-2")
        .header("x-request-id", "me-call-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .http
        .post(app.url("/ucloud/dev/compute/docker/jobs?token=query-secret-3"))
        .bearer_auth(&owner)
        .header("x-request-id", "not valid!")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let brokered_id = echoed(&r);
    let upstream_id = recorder.requests().pop().unwrap().headers["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    // A line is written when the response body ends, which may be just after the client has read
    // it: wait (boundedly) for both lines rather than racing the server.
    let lines = wait_until(std::time::Duration::from_secs(5), || {
        let lines = captured.access_lines();
        let both = lines
            .iter()
            .filter(|l| {
                l["fields"]["request_id"] == "me-call-1"
                    || l["fields"]["route"] == "/ucloud/{id}/{*path}"
            })
            .count()
            >= 2;
        std::future::ready(both.then_some(lines))
    })
    .await;
    let me = lines
        .iter()
        .find(|l| l["fields"]["request_id"] == "me-call-1")
        .unwrap_or_else(|| panic!("no access line for /api/me in {lines:?}"));
    let f = &me["fields"];
    assert_eq!(f["route"], "/api/me");
    assert_eq!(f["method"], "GET");
    assert_eq!(f["status"], 200);
    assert_eq!(f["user"], "owner");
    assert!(f["latency_ms"].as_f64().is_some(), "{me}");

    let brokered = lines
        .iter()
        .find(|l| l["fields"]["route"] == "/ucloud/{id}/{*path}")
        .unwrap_or_else(|| panic!("no access line for the brokered call in {lines:?}"));
    assert_eq!(brokered["fields"]["request_id"], brokered_id.as_str());
    assert_eq!(
        brokered_id, upstream_id,
        "the log, the caller and the provider agree"
    );
    assert_eq!(brokered["fields"]["status"], 200);

    let text = captured.text();
    for secret in [
        owner.as_str(),
        "query-secret-1",
        "cookie-secret-2",
        "query-secret-3",
        "/ucloud/dev/compute",
    ] {
        assert!(!text.contains(secret), "{secret:?} was logged:\n{text}");
    }
}
on_both_backends!(a_json_access_line_names_route_status_id_and_principal_and_never_a_secret);

fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn the_metrics_count_requests_under_their_matched_route_and_status_class(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.user("alice", false).await;
    for _ in 0..3 {
        assert_eq!(app.get(&token, "/api/tokens").await.0, StatusCode::OK);
    }
    let r = app
        .http
        .get(app.url("/api/projects/p-secret-name"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = app
        .http
        .get(app.url("/no/such/path-xyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let metrics = reqwest::get(format!("{}/metrics", app.metrics_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        sample(
            &metrics,
            r#"gateway_http_requests_total{route="/api/tokens",status="2xx"}"#
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"gateway_http_requests_total{route="/api/projects/{id}",status="4xx"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"gateway_http_requests_total{route="unmatched",status="4xx"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"gateway_http_request_duration_seconds_count{route="/api/tokens"}"#
        ),
        Some(3.0),
        "{metrics}"
    );
    assert!(
        !metrics.contains("p-secret-name") && !metrics.contains("path-xyz"),
        "raw paths never become labels"
    );
}
on_both_backends!(the_metrics_count_requests_under_their_matched_route_and_status_class);

async fn metrics_text(app: &TestApp) -> String {
    let r = reqwest::get(format!("{}/metrics", app.metrics_url))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        r.headers()
    );
    let text = r.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    text
}

async fn login(app: &TestApp, username: &str, password: &str) -> StatusCode {
    app.sign_in_as(username, password, None).await.status()
}

async fn sign_ins_are_counted_by_outcome(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    app.user("alice", false).await;
    app.user("paused", false).await;
    let series = |outcome: &str| format!("gateway_sign_ins_total{{outcome=\"{outcome}\"}}");
    assert_eq!(sample(&metrics_text(&app).await, &series("ok")), None);

    assert_eq!(login(&app, "alice", "alice-password").await, StatusCode::OK);
    assert_eq!(login(&app, "alice", "alice-password").await, StatusCode::OK);
    assert_eq!(
        login(&app, "alice", "wrong").await,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = app
        .post(
            &admin,
            "/api/admin/users/paused/suspend",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        login(&app, "paused", "paused-password").await,
        StatusCode::FORBIDDEN
    );
    // Failures until the throttle refuses (SPEC §7: 5 failures in 15 minutes).
    let mut throttled = false;
    for _ in 0..10 {
        if login(&app, "nobody", "guess").await == StatusCode::TOO_MANY_REQUESTS {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "the throttle never refused");

    let text = metrics_text(&app).await;
    assert_eq!(sample(&text, &series("ok")), Some(2.0), "{text}");
    assert!(
        sample(&text, &series("wrongPassword")).unwrap() >= 2.0,
        "{text}"
    );
    assert_eq!(sample(&text, &series("inactive")), Some(1.0), "{text}");
    assert_eq!(sample(&text, &series("throttled")), Some(1.0), "{text}");
    assert!(text.contains("# TYPE gateway_sign_ins counter"), "{text}");
    app.stop().await;
}
on_both_backends!(sign_ins_are_counted_by_outcome);

async fn charges_are_counted_by_outcome(backend: Backend) {
    use crate::accounting::{charge, grant, provider_token};
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let owner = app.user("owner", false).await;
    app.user("alice", false).await;
    let access = provider_token(&app, &owner, "hpc").await;
    let alice = serde_json::json!({ "username": "alice" });
    grant(&app, &admin, alice.clone(), "hpc", 10).await;
    let series = |outcome: &str| format!("gateway_charges_total{{outcome=\"{outcome}\"}}");

    assert_eq!(
        charge(&app, &access, "c-1", alice.clone(), 4).await.0,
        StatusCode::OK
    );
    assert_eq!(
        charge(&app, &access, "c-1", alice.clone(), 4).await.0,
        StatusCode::OK
    );
    assert_eq!(
        charge(&app, &access, "c-1", alice.clone(), 5).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        charge(&app, &access, "c-2", alice.clone(), 100).await.0,
        StatusCode::PAYMENT_REQUIRED
    );
    let nobody = serde_json::json!({ "username": "nobody" });
    assert!(
        charge(&app, &access, "c-3", nobody, 1)
            .await
            .0
            .is_client_error()
    );

    let text = metrics_text(&app).await;
    for (outcome, n) in [
        ("ok", 1.0),
        ("duplicate", 1.0),
        ("conflict", 1.0),
        ("insufficientFunds", 1.0),
        ("invalid", 1.0),
    ] {
        assert_eq!(
            sample(&text, &series(outcome)),
            Some(n),
            "{outcome}: {text}"
        );
    }
    app.stop().await;
}
on_both_backends!(charges_are_counted_by_outcome);

async fn the_pool_the_process_and_the_build_are_reported(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.user("alice", false).await;
    assert_eq!(app.get(&token, "/api/me").await.0, StatusCode::OK);
    let first = metrics_text(&app).await;
    let pool = sample(&first, "gateway_db_pool_connections").unwrap();
    let idle = sample(&first, "gateway_db_pool_idle_connections").unwrap();
    assert!(pool >= 1.0 && idle <= pool, "{first}");
    let resident = sample(&first, "process_resident_memory_bytes").unwrap();
    assert!(resident > 1e6, "{first}");
    let fds = sample(&first, "process_open_fds").unwrap();
    assert!(
        fds >= 3.0 && fds <= sample(&first, "process_max_fds").unwrap(),
        "{first}"
    );
    let start = sample(&first, "process_start_time_seconds").unwrap();
    #[expect(
        clippy::disallowed_methods,
        reason = "the process started on the wall clock, not the app's"
    )]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        start <= now && start > now - 24.0 * 3600.0,
        "{start} vs {now}"
    );
    let cpu = sample(&first, "process_cpu_seconds_total").unwrap();
    // CPU time only grows: burn some and look again.
    let mut x = 0u64;
    for i in 0..30_000_000u64 {
        x = x.wrapping_mul(31).wrapping_add(i);
    }
    assert_ne!(x, 1);
    let again = metrics_text(&app).await;
    assert!(
        sample(&again, "process_cpu_seconds_total").unwrap() > cpu,
        "{again}"
    );

    // `gateway --version`: "0.1.0 (commit abc1234)".
    let commit = gateway::cli::VERSION
        .split("(commit ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')');
    let build = format!(
        "gateway_build_info{{version=\"{}\",commit=\"{commit}\"}}",
        env!("CARGO_PKG_VERSION"),
    );
    assert_eq!(sample(&first, &build), Some(1.0), "{build}\n{first}");
    app.stop().await;
}
on_both_backends!(the_pool_the_process_and_the_build_are_reported);
