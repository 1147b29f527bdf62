//! The audit log: security-relevant events land in the database, admins read them, secrets never.

use crate::accounting::grant;
use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::json;

async fn security_events_are_recorded_for_admins_to_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let owner = app.user("owner", false).await;
    app.user("alice", false).await;

    app.register(&owner, "hpc", "production").await;
    app.post(&admin, "/api/admin/providers/hpc/approve", json!({}))
        .await;
    app.post(&admin, "/api/admin/providers/hpc/suspend", json!({}))
        .await;
    app.post(&admin, "/api/admin/providers/hpc/resume", json!({}))
        .await;
    let (_, rotated) = app
        .post(&admin, "/api/admin/providers/hpc/refresh-token", json!({}))
        .await;
    let r = app
        .http
        .delete(app.url("/api/admin/providers/hpc/refresh-token"))
        .bearer_auth(&admin)
        .send()
        .await;
    assert_eq!(r.unwrap().status(), StatusCode::NO_CONTENT);
    let (_, key) = app.post(&admin, "/api/admin/keys/rotate", json!({})).await;
    grant(&app, &admin, json!({ "username": "alice" }), "hpc", 10).await;
    app.post(&admin, "/api/admin/users/alice/suspend", json!({}))
        .await;
    app.post(&admin, "/api/admin/users/alice/resume", json!({}))
        .await;
    let (_, project) = app
        .post(&owner, "/api/projects", json!({ "title": "P" }))
        .await;

    let (status, log) = app.get(&admin, "/api/admin/audit").await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let entries = log.as_array().unwrap();
    let seen: Vec<_> = entries
        .iter()
        .rev()
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
            )
        })
        .collect();
    let kid = key["kid"].as_str().unwrap();
    let pid = project["id"].as_str().unwrap();
    let wallet = format!(
        "hpc/user:{}",
        app.app.accounts.user("alice").await.unwrap().id
    );
    assert_eq!(
        seen,
        [
            ("owner", "provider.registered", "hpc"),
            ("root", "provider.approved", "hpc"),
            ("root", "provider.suspended", "hpc"),
            ("root", "provider.resumed", "hpc"),
            ("root", "provider.refreshTokenRotated", "hpc"),
            ("root", "provider.refreshTokenRevoked", "hpc"),
            ("root", "keys.rotated", kid),
            ("root", "wallet.granted", wallet.as_str()),
            ("root", "user.suspended", "alice"),
            ("root", "user.resumed", "alice"),
            ("owner", "project.created", pid),
        ]
    );
    assert_eq!(entries[3]["detail"]["units"], 10, "{}", entries[3]);
    assert!(entries[0]["at"].as_str().unwrap().ends_with('Z'));
    let text = log.to_string();
    assert!(
        !text.contains(rotated["refreshToken"].as_str().unwrap()),
        "no secret in the log"
    );

    let (_, newest) = app.get(&admin, "/api/admin/audit?limit=2").await;
    assert_eq!(newest.as_array().unwrap().len(), 2);
    let before = newest[1]["id"].as_i64().unwrap();
    let (_, older) = app
        .get(&admin, &format!("/api/admin/audit?limit=1&before={before}"))
        .await;
    assert_eq!(older[0]["action"], "user.suspended");
    assert_eq!(
        app.get(&owner, "/api/admin/audit").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&admin, "/api/admin/audit?limit=many").await.0,
        StatusCode::BAD_REQUEST
    );
    app.stop().await;
}
on_both_backends!(events, security_events_are_recorded_for_admins_to_read);
