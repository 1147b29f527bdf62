//! Probes: `/readyz` says in problem+json what the gateway waits for (SPEC §10: a replica that
//! loses the database answers 503 problem+json).

use crate::on_both_backends;
use crate::support::{Backend, TestApp, read};
use reqwest::StatusCode;

async fn readiness_without_a_database_is_a_503_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    app.app.store.close().await;
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let (status, body) = read(r).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "notReady");
    assert_eq!(body["detail"], "the database is unreachable");
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "the process itself is up");
}
on_both_backends!(
    readiness_without_a_database_is_a_503_problem,
    readiness_without_a_database_is_a_503_problem
);
