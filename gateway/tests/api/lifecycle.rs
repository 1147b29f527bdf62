//! Account lifecycle: what a suspended, expired or disabled user can and cannot do, and how each
//! state ends. The admin API is `/api/admin/users/{username}/…`.

use crate::on_both_backends;
use crate::support::{Backend, START_MS, TestApp, read};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Signs in with the test password; the session cookie on success.
async fn login(app: &TestApp, username: &str) -> (StatusCode, Value, Option<String>) {
    let r = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({ "username": username, "password": format!("{username}-password") }))
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
    let (status, body) = read(r).await;
    (status, body, cookie)
}

async fn me_with_cookie(app: &TestApp, cookie: &str) -> (StatusCode, Value) {
    read(
        app.http
            .get(app.url("/api/me"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Asserts that every way in is refused with `code`, and that a wrong password still says nothing.
async fn assert_locked_out(app: &TestApp, token: &str, cookie: &str, code: &str) {
    let (status, problem) = app.get(token, "/api/me").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some(code)),
        "{problem}"
    );
    assert_eq!(me_with_cookie(app, cookie).await.1["code"], code);
    let (status, problem) = app
        .post(token, "/api/tokens", json!({ "name": "more" }))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some(code))
    );
    let (status, problem, cookie) = login(app, "alice").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some(code))
    );
    assert!(cookie.is_none(), "no session for an inactive account");
    let r = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({ "username": "alice", "password": "wrong-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the state is told only to who knows the password"
    );
    let user = app.app.accounts.user("alice").await.unwrap();
    assert!(
        app.app
            .accounts
            .create_api_token(&user, "cli")
            .await
            .is_err(),
        "`gateway tokens create` too"
    );
}

async fn assert_active(app: &TestApp, token: &str, cookie: &str) {
    assert_eq!(app.get(token, "/api/me").await.0, StatusCode::OK);
    assert_eq!(me_with_cookie(app, cookie).await.0, StatusCode::OK);
    assert_eq!(login(app, "alice").await.0, StatusCode::OK);
}

async fn suspension_locks_out_until_resumed_or_until_its_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let token = app.user("alice", false).await;
    let cookie = login(&app, "alice").await.2.unwrap();

    let (status, body) = app
        .post(&admin, "/api/admin/users/alice/suspend", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["state"].clone(), body["suspendedUntil"].clone()),
        (json!("suspended"), Value::Null)
    );
    assert_locked_out(&app, &token, &cookie, "accountSuspended").await;
    let (_, body) = app
        .post(&admin, "/api/admin/users/alice/resume", json!({}))
        .await;
    assert_eq!(body["state"], "active");
    assert_active(&app, &token, &cookie).await;

    // Until a date: over by itself when the date passes.
    let until = gateway::clock::rfc3339(START_MS + 3_600_000);
    let (_, body) = app
        .post(
            &admin,
            "/api/admin/users/alice/suspend",
            json!({ "until": until }),
        )
        .await;
    assert_eq!(body["suspendedUntil"], until);
    let (_, problem) = app.get(&token, "/api/me").await;
    assert_eq!(
        (problem["code"].clone(), problem["until"].clone()),
        (json!("accountSuspended"), json!(until))
    );
    assert!(problem["detail"].as_str().unwrap().contains(&until));
    app.clock.advance_secs(3_600);
    assert_active(&app, &token, &cookie).await;
    app.stop().await;
}
on_both_backends!(
    suspension,
    suspension_locks_out_until_resumed_or_until_its_end
);

async fn an_expired_membership_locks_out_until_extended(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let token = app.user("alice", false).await;
    let cookie = login(&app, "alice").await.2.unwrap();

    let end = gateway::clock::rfc3339(START_MS + 3_600_000);
    let (_, body) = app
        .post(
            &admin,
            "/api/admin/users/alice/expiry",
            json!({ "expiresAt": end }),
        )
        .await;
    assert_eq!(
        (body["state"].clone(), body["expiresAt"].clone()),
        (json!("active"), json!(end))
    );
    assert_active(&app, &token, &cookie).await;
    app.clock.advance_secs(3_600);
    assert_locked_out(&app, &token, &cookie, "accountExpired").await;
    let (_, status) = app.get(&admin, "/api/admin/users/alice").await;
    assert_eq!(status["state"], "expired");
    // Resuming is for suspensions; an expiry ends when the date moves (or goes).
    let (code, _) = app
        .post(&admin, "/api/admin/users/alice/resume", json!({}))
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    let (_, body) = app
        .post(
            &admin,
            "/api/admin/users/alice/expiry",
            json!({ "expiresAt": null }),
        )
        .await;
    assert_eq!(body["state"], "active");
    assert_active(&app, &token, &cookie).await;
    app.stop().await;
}
on_both_backends!(expiry, an_expired_membership_locks_out_until_extended);

async fn disabling_revokes_every_session_and_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let token = app.user("alice", false).await;
    let (_, second) = app
        .post(&token, "/api/tokens", json!({ "name": "laptop" }))
        .await;
    let second = second["token"].as_str().unwrap().to_owned();
    let cookie = login(&app, "alice").await.2.unwrap();
    let bob = app.user("bob", false).await;

    let (status, body) = app
        .post(&admin, "/api/admin/users/alice/disable", json!({}))
        .await;
    assert_eq!(
        (status, body["state"].clone()),
        (StatusCode::OK, json!("disabled"))
    );
    for t in [&token, &second] {
        let (status, problem) = app.get(t, "/api/me").await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
        );
    }
    assert_eq!(
        me_with_cookie(&app, &cookie).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, problem, cookie) = login(&app, "alice").await;
    assert_eq!(
        (status, problem["code"].as_str(), cookie),
        (StatusCode::FORBIDDEN, Some("accountDisabled"), None)
    );
    assert_eq!(
        app.get(&bob, "/api/me").await.0,
        StatusCode::OK,
        "other users are untouched"
    );

    // Resuming lets alice sign in again; the revoked tokens stay revoked.
    let (_, body) = app
        .post(&admin, "/api/admin/users/alice/resume", json!({}))
        .await;
    assert_eq!(body["state"], "active");
    let (status, _, cookie) = login(&app, "alice").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        me_with_cookie(&app, &cookie.unwrap()).await.0,
        StatusCode::OK
    );
    assert_eq!(app.get(&token, "/api/me").await.0, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
on_both_backends!(disabling, disabling_revokes_every_session_and_token);

async fn lifecycle_actions_are_for_admins_and_refuse_what_makes_no_sense(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let alice = app.user("alice", false).await;
    app.user("bob", false).await;
    let past = gateway::clock::rfc3339(START_MS - 1_000);
    let cases = [
        (
            &alice,
            "/api/admin/users/bob/suspend",
            json!({}),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &alice,
            "/api/admin/users/bob/disable",
            json!({}),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &admin,
            "/api/admin/users/bob/resume",
            json!({}),
            StatusCode::CONFLICT,
            "invalidTransition",
        ),
        (
            &admin,
            "/api/admin/users/bob/suspend",
            json!({ "until": past }),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            &admin,
            "/api/admin/users/bob/suspend",
            json!({ "until": "tomorrow" }),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            &admin,
            "/api/admin/users/bob/suspend",
            json!({ "for": "ever" }),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            &admin,
            "/api/admin/users/root/suspend",
            json!({}),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            &admin,
            "/api/admin/users/root/disable",
            json!({}),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            &admin,
            "/api/admin/users/ghost/suspend",
            json!({}),
            StatusCode::NOT_FOUND,
            "notFound",
        ),
    ];
    for (token, path, body, status, code) in cases {
        let (got, problem) = app.post(token, path, body.clone()).await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{path} {body} → {problem}"
        );
    }
    assert_eq!(
        app.get(&alice, "/api/admin/users/bob").await.0,
        StatusCode::FORBIDDEN
    );
    app.post(&admin, "/api/admin/users/bob/disable", json!({}))
        .await;
    let (status, problem) = app
        .post(&admin, "/api/admin/users/bob/suspend", json!({}))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("invalidTransition"))
    );
    let (status, _) = app
        .post(&admin, "/api/admin/users/bob/disable", json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}
crate::on_both_backends!(lifecycle_actions_are_for_admins_and_refuse_what_makes_no_sense);
