//! Requests axum itself refuses (bad JSON, wrong Content-Type, too large, bad query or path, wrong
//! method, no such route) answer `application/problem+json` with a stable code, like every other
//! refusal, and never `text/plain`.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

/// Sends `request`, asserts a problem document with `status` and `code` came back.
async fn refused(request: reqwest::RequestBuilder, status: u16, code: &str) {
    let r = request.send().await.unwrap();
    let what = format!("{} {}", r.status(), r.url());
    assert_eq!(r.status().as_u16(), status, "{what}");
    assert_eq!(
        r.headers()["content-type"],
        "application/problem+json",
        "{what}"
    );
    let problem: serde_json::Value = r.json().await.unwrap();
    assert_eq!(problem["code"], code, "{what}: {problem}");
    assert_eq!(problem["status"], status, "{what}");
    assert!(
        problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: {problem}"
    );
}

async fn axum_rejections_answer_problems_with_stable_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.user("ada", false).await;
    let http = &app.http;

    // JSON that does not parse, and JSON of the wrong shape.
    refused(
        http.post(app.url("/api/projects"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{\"title\":"),
        400,
        "invalidInput",
    )
    .await;
    refused(
        http.post(app.url("/api/projects"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"title": 7})),
        400,
        "invalidInput",
    )
    .await;
    // A body that is not sent as JSON: the detail says how to send it.
    refused(
        http.post(app.url("/api/projects"))
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body("title=x"),
        400,
        "invalidInput",
    )
    .await;
    // Over the API's body limit.
    refused(
        http.post(app.url("/api/projects"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(format!("{{\"title\":\"{}\"}}", "x".repeat(200 * 1024))),
        413,
        "payloadTooLarge",
    )
    .await;
    // A query value of the wrong type.
    refused(
        http.get(app.url("/api/wallets/charges?limit=many"))
            .bearer_auth(&token),
        400,
        "invalidInput",
    )
    .await;
    // A query flag that is not a boolean (schemathesis found it answered text/plain).
    let admin = app.user("root", true).await;
    refused(
        http.post(app.url("/api/admin/keys/rotate?immediate=null"))
            .bearer_auth(&admin),
        400,
        "invalidInput",
    )
    .await;
    // A path segment that is not UTF-8.
    refused(
        http.get(app.url("/api/projects/%FF%FE"))
            .bearer_auth(&token),
        400,
        "invalidInput",
    )
    .await;
    // A route that exists, with a method it does not take.
    refused(
        http.put(app.url("/api/me")).bearer_auth(&token),
        405,
        "methodNotAllowed",
    )
    .await;
    // No route at all, signed in or not.
    refused(
        http.get(app.url("/api/no-such-thing")).bearer_auth(&token),
        404,
        "notFound",
    )
    .await;
    refused(http.delete(app.url("/nowhere")), 404, "notFound").await;
    app.stop().await;
}
on_both_backends!(
    axum_rejections,
    axum_rejections_answer_problems_with_stable_codes
);
