use crate::on_both_backends;
use crate::support::{Backend, TestApp, read};
use reqwest::StatusCode;
use serde_json::json;

async fn a_user_signs_in_with_a_password_and_sees_their_principal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("DanThrane#1234", false).await;

    let r = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({ "username": "DanThrane#1234", "password": "DanThrane#1234-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http must not set Secure: {cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();

    let r = app
        .http
        .get(app.url("/api/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let (status, me) = read(r).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["principal"]["username"], "DanThrane#1234");
    assert_eq!(me["principal"]["role"], "USER");
    assert_eq!(me["principal"]["email"], "DanThrane#1234@example.org");
    assert_eq!(me["principal"]["organization"], "example.org");
    assert!(me["principal"]["uid"].as_i64().unwrap() > 0);

    let r = app
        .http
        .post(app.url("/auth/logout"))
        .header("cookie", &session)
        .header("origin", &app.url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .http
        .get(app.url("/api/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a signed-out session must stop working"
    );
    app.stop().await;
}
on_both_backends!(
    sign_in,
    a_user_signs_in_with_a_password_and_sees_their_principal
);

async fn a_wrong_password_and_an_unknown_user_get_the_same_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", false).await;
    let mut bodies = Vec::new();
    for (username, password) in [("alice", "wrong-password"), ("nobody", "whatever-password")] {
        let r = app
            .http
            .post(app.url("/auth/login"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap();
        assert!(r.headers().get("set-cookie").is_none());
        let (status, body) = read(r).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1]);
}
crate::on_both_backends!(a_wrong_password_and_an_unknown_user_get_the_same_answer);

async fn sessions_expire_after_their_lifetime(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", false).await;
    let r = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({ "username": "alice", "password": "alice-password" }))
        .send()
        .await
        .unwrap();
    let session = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    app.clock.advance_secs(app.app.config.session_ttl_secs + 1);
    let r = app
        .http
        .get(app.url("/api/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
crate::on_both_backends!(sessions_expire_after_their_lifetime);

async fn api_tokens_are_shown_once_listed_without_secret_and_revocable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let bootstrap = app.user("alice", false).await;
    let (status, created) = app
        .post(&bootstrap, "/api/tokens", json!({ "name": "laptop" }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.len() > 40);

    let (status, me) = app.get(&token, "/api/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["principal"]["username"], "alice");

    let (_, list) = app.get(&token, "/api/tokens").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(
        !list.to_string().contains(&token),
        "a listing must never contain a secret"
    );

    let id = created["id"].as_str().unwrap();
    let r = app
        .http
        .delete(app.url(&format!("/api/tokens/{id}")))
        .bearer_auth(&bootstrap)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, body) = app.get(&token, "/api/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthenticated");
}
crate::on_both_backends!(api_tokens_are_shown_once_listed_without_secret_and_revocable);

async fn only_admins_create_users_and_input_is_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let user = app.user("alice", false).await;
    let body = json!({ "username": "bob", "email": "bob@example.org", "firstName": "Bob", "lastName": "B" });
    assert_eq!(
        app.post(&user, "/api/admin/users", body.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(&admin, "/api/admin/users", body.clone()).await.0,
        StatusCode::CREATED
    );
    let (status, problem) = app.post(&admin, "/api/admin/users", body).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(problem["detail"].as_str().unwrap().contains("bob"));
    let (status, problem) = app
        .post(
            &admin,
            "/api/admin/users",
            json!({ "username": "bad name", "email": "x@y.z", "firstName": "A", "lastName": "B" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"].as_str().unwrap().starts_with("username:"),
        "{problem}"
    );
}
crate::on_both_backends!(only_admins_create_users_and_input_is_checked);
