//! A charge's input is checked before anything is recorded: bad units, chargeIds, descriptions,
//! owners and unknown fields are `400` with a detail naming what is wrong.

use crate::accounting::{charge, grant, provider_token};
use crate::support::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::json;

async fn charges_are_validated_before_anything_is_recorded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    app.user("alice", false).await;
    let access = provider_token(&app, &admin, "hpc").await;
    grant(&app, &admin, json!({ "username": "alice" }), "hpc", 100).await;
    let me = json!({ "username": "alice" });
    let long = "x".repeat(129);
    let cases = [
        (
            json!({ "chargeId": "a", "owner": me, "units": 0 }),
            "units:",
        ),
        (
            json!({ "chargeId": "a", "owner": me, "units": -3 }),
            "units:",
        ),
        (
            json!({ "chargeId": "a", "owner": me, "units": 1_000_000_000_001_i64 }),
            "units:",
        ),
        (
            json!({ "chargeId": "a", "owner": me, "units": 1.5 }),
            "floating point",
        ),
        (
            json!({ "chargeId": "a", "owner": me, "units": "5" }),
            "invalid type: string",
        ),
        (
            json!({ "chargeId": "", "owner": me, "units": 5 }),
            "chargeId:",
        ),
        (
            json!({ "chargeId": long, "owner": me, "units": 5 }),
            "chargeId:",
        ),
        (
            json!({ "chargeId": "a\nb", "owner": me, "units": 5 }),
            "chargeId:",
        ),
        (
            json!({ "chargeId": "a", "owner": me, "units": 5, "description": "d".repeat(1001) }),
            "description:",
        ),
        (
            json!({ "chargeId": "a", "owner": { "username": "alice", "project": "p" }, "units": 5 }),
            "owner: give exactly one",
        ),
        (
            json!({ "chargeId": "a", "owner": {}, "units": 5 }),
            "owner: give exactly one",
        ),
        (
            json!({ "chargeId": "a", "owner": { "group": "g" }, "units": 5 }),
            "group",
        ),
        (
            json!({ "chargeId": "a", "owner": me, "units": 5, "currency": "DKK" }),
            "currency",
        ),
        (json!({ "owner": me, "units": 5 }), "chargeId"),
    ];
    for (body, expected) in cases {
        let (status, problem) = app
            .post(&access, "/api/accounting/charge", body.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(expected), "{body} → {detail}");
    }
    // None of them was recorded: "a" is still free for a real charge.
    let answer = charge(&app, &access, "a", me.clone(), 5).await;
    assert_eq!(
        answer,
        (StatusCode::OK, json!({ "balance": 95, "duplicate": false }))
    );
    let (status, _) = charge(&app, &access, "b", json!({ "username": "nobody" }), 5).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
crate::on_both_backends!(charges_are_validated_before_anything_is_recorded);
