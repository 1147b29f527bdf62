use crate::on_both_backends;
use crate::support::{Backend, TestApp, read};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn test_and_production_providers_follow_their_lifecycles(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let owner = app.user("owner", false).await;
    let other = app.user("other", false).await;

    // A test provider is active at once and visible only to its owner (and admins).
    let (status, reg) = app.register(&owner, "devsite", "test").await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    assert_eq!(reg["status"], "active");
    assert_eq!(reg["issuer"], app.url);
    assert_eq!(reg["jwksUrl"], app.url("/.well-known/jwks.json"));
    assert!(
        reg["refreshToken"].as_str().unwrap().len() >= 43,
        "at least 128 random bits"
    );
    assert_eq!(
        app.get(&owner, "/api/providers/devsite").await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&other, "/api/providers/devsite").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&admin, "/api/providers/devsite").await.0,
        StatusCode::OK
    );

    // A production provider waits for an admin and is hidden from others until then.
    let (status, reg) = app.register(&owner, "hpc", "production").await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    assert_eq!(reg["status"], "pendingApproval");
    assert_eq!(
        ids(&app.get(&other, "/api/providers").await.1),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&app.get(&owner, "/api/providers").await.1),
        ["devsite", "hpc"]
    );

    let (status, _) = app
        .post(&owner, "/api/admin/providers/hpc/approve", json!({}))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "owners cannot approve their own providers"
    );
    let (status, body) = app
        .post(&admin, "/api/admin/providers/hpc/approve", json!({}))
        .await;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::OK, json!("active"))
    );
    assert_eq!(ids(&app.get(&other, "/api/providers").await.1), ["hpc"]);
    let (_, seen) = app.get(&other, "/api/providers/hpc").await;
    assert!(
        seen.get("warnings").is_none(),
        "warnings are for the owner and admins only"
    );

    // Approving twice is a clear conflict; suspend and resume move it back and forth.
    let (status, problem) = app
        .post(&admin, "/api/admin/providers/hpc/approve", json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["code"], "invalidTransition");
    let (_, body) = app
        .post(&admin, "/api/admin/providers/hpc/suspend", json!({}))
        .await;
    assert_eq!(body["status"], "suspended");
    assert_eq!(
        app.get(&other, "/api/providers/hpc").await.0,
        StatusCode::NOT_FOUND
    );
    let (_, body) = app
        .post(&admin, "/api/admin/providers/hpc/resume", json!({}))
        .await;
    assert_eq!(body["status"], "active");
    app.stop().await;
}
on_both_backends!(
    lifecycle,
    test_and_production_providers_follow_their_lifecycles
);

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn bad_metadata_gets_a_precise_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner", false).await;
    let cases = [
        (
            json!({"id": "Bad_Id", "domain": "x.org", "https": true, "env": "production"}),
            "id:",
        ),
        (
            json!({"id": "x", "domain": "x.org", "https": true, "env": "production"}),
            "id:",
        ),
        (
            json!({"id": "hpc", "domain": "hpc.org", "https": false, "env": "production"}),
            "https: a production provider must use https",
        ),
        (
            json!({"id": "hpc", "domain": "https://hpc.org", "https": true, "env": "production"}),
            "domain:",
        ),
        (
            json!({"id": "hpc", "domain": "10.1.2.3", "https": true, "env": "production"}),
            "only test providers",
        ),
        (
            json!({"id": "hpc", "domain": "hpc.org", "https": true, "env": "staging"}),
            "staging",
        ),
        (
            json!({"id": "hpc", "domain": "hpc.org", "https": true, "env": "production", "owner": "me"}),
            "owner",
        ),
        (
            json!({"id": "hpc", "domain": "hpc.org", "https": true, "env": "production", "port": 70000}),
            "70000",
        ),
        (
            json!({"id": "hpc", "domain": "hpc.org", "https": "yes", "env": "production"}),
            "boolean",
        ),
    ];
    for (body, expected) in cases {
        let (status, problem) = app.post(&owner, "/api/providers", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(problem["code"], "invalidInput");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(expected), "{body} → {detail}");
    }

    let (status, _) = app.register(&owner, "hpc", "production").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, problem) = app.register(&owner, "hpc", "test").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        problem["detail"],
        "a provider with id \"hpc\" already exists"
    );

    for method in [
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
    ] {
        let r = app
            .http
            .request(method.clone(), app.url("/api/providers/hpc"))
            .bearer_auth(&owner)
            .json(&json!({"id": "hpc", "domain": "evil.org", "https": true, "env": "production"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let (status, problem) = read(r).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(problem["code"], "metadataImmutable");
    }
    let (_, hpc) = app.get(&owner, "/api/providers/hpc").await;
    assert_eq!(
        hpc["domain"], "hpc.example.org",
        "metadata must be unchanged"
    );
    app.stop().await;
}
on_both_backends!(bad_metadata, bad_metadata_gets_a_precise_error);

async fn registration_needs_a_signed_in_user_and_a_json_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .http
        .post(app.url("/api/providers"))
        .json(&json!({"id": "hpc", "domain": "hpc.org", "https": true, "env": "production"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let owner = app.user("owner", false).await;
    let r = app
        .http
        .post(app.url("/api/providers"))
        .bearer_auth(&owner)
        .body(vec![b'x'; 200 * 1024])
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "bodies are bounded"
    );
    let (status, _) = read(
        app.http
            .get(app.url("/api/nothing-here"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
crate::on_both_backends!(registration_needs_a_signed_in_user_and_a_json_body);
