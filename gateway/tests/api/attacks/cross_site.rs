//! Attacks: requests another site makes the victim's browser send with the session cookie
//! (SPEC §3 step 1): an unsafe method or a WebSocket upgrade carrying the cookie must come from the
//! gateway's own origin (`Origin`, or `Sec-Fetch-Site: same-origin`), else `403 crossOriginRequest`.
//! Also the headers every answer carries (SPEC §7): `nosniff`, and `no-store` where a secret is.

use crate::on_both_backends;
use crate::support::{Backend, TestApp, read};
use reqwest::StatusCode;
use serde_json::json;

/// How the request claims where it comes from.
#[derive(Clone, Copy, Debug)]
enum From {
    EvilOrigin,
    NoOriginAtAll,
    SameSiteButNotSameOrigin,
    OurOrigin,
    SecFetchSameOrigin,
}

impl From {
    fn apply(self, app: &TestApp, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Self::EvilOrigin => r.header("origin", "https://evil.example"),
            Self::NoOriginAtAll => r,
            Self::SameSiteButNotSameOrigin => r.header("sec-fetch-site", "same-site"),
            Self::OurOrigin => r.header("origin", &app.url),
            Self::SecFetchSameOrigin => r.header("sec-fetch-site", "same-origin"),
        }
    }
}

async fn suspend_with_cookie(
    app: &TestApp,
    cookie: &str,
    from: From,
) -> (StatusCode, serde_json::Value) {
    let r = app
        .http
        .post(app.url("/api/admin/providers/hpc/suspend"))
        .header("cookie", cookie);
    read(from.apply(app, r).send().await.unwrap()).await
}

async fn a_foreign_page_cannot_act_with_an_admins_cookie(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let (status, _) = app.register(&admin, "hpc", "test").await;
    assert_eq!(status, StatusCode::CREATED);
    let cookie = app.session_cookie("root").await;

    for from in [
        From::EvilOrigin,
        From::NoOriginAtAll,
        From::SameSiteButNotSameOrigin,
    ] {
        let (status, body) = suspend_with_cookie(&app, &cookie, from).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{from:?}");
        assert_eq!(body["code"], "crossOriginRequest", "{from:?}");
        let r = from
            .apply(
                &app,
                app.http
                    .post(app.url("/api/admin/keys/rotate"))
                    .header("cookie", &cookie)
                    .json(&json!({})),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "rotate {from:?}");
    }
    let (_, provider) = app.get(&admin, "/api/providers/hpc").await;
    assert_eq!(provider["status"], "active", "nothing was suspended");
    assert_eq!(app.app.keys.jwks().keys.len(), 1, "no key was rotated in");

    let (status, _) = suspend_with_cookie(&app, &cookie, From::OurOrigin).await;
    assert_eq!(status, StatusCode::OK, "the gateway's own pages may");
    app.post(&admin, "/api/admin/providers/hpc/resume", json!({}))
        .await;
    let (status, _) = suspend_with_cookie(&app, &cookie, From::SecFetchSameOrigin).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "Sec-Fetch-Site: same-origin is enough"
    );

    let r = app
        .http
        .post(app.url("/api/admin/providers/hpc/resume"))
        .bearer_auth(&admin)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "an API token is not ambient authority: scripts anywhere may use it"
    );
}
on_both_backends!(
    a_foreign_page_cannot_act_with_an_admins_cookie,
    a_foreign_page_cannot_act_with_an_admins_cookie
);

async fn a_foreign_page_cannot_submit_the_token_form(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.user("alice", false).await;
    let cookie = app.session_cookie("alice").await;
    let page = app
        .http
        .get(app.url("/tokens"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let r = app
        .http
        .post(app.url("/tokens/new"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str()), ("name", "stolen")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, tokens) = app.get(&token, "/api/tokens").await;
    assert!(
        !tokens.to_string().contains("stolen"),
        "no token was made: {tokens}"
    );
}
on_both_backends!(
    a_foreign_page_cannot_submit_the_token_form,
    a_foreign_page_cannot_submit_the_token_form
);

async fn a_foreign_page_cannot_open_a_websocket_with_the_cookie(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", false).await;
    let cookie = app.session_cookie("alice").await;
    let (status, body) = read(
        app.http
            .get(app.url("/ucloud/hpc/compute/docker/terminal/1"))
            .header("cookie", &cookie)
            .header("origin", "https://evil.example")
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "crossOriginRequest");
}
crate::on_both_backends!(a_foreign_page_cannot_open_a_websocket_with_the_cookie);

async fn answers_are_never_sniffed_and_secrets_are_never_cached(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.user("alice", false).await;
    let cookie = app.session_cookie("alice").await;
    let secret_bearing = [
        app.http
            .post(app.url("/api/tokens"))
            .bearer_auth(&token)
            .json(&json!({ "name": "laptop" })),
        app.http
            .post(app.url("/auth/login"))
            .json(&json!({ "username": "alice", "password": "alice-password" })),
        app.http.get(app.url("/api/me")).bearer_auth(&token),
        app.http.get(app.url("/tokens")).header("cookie", &cookie),
    ];
    for request in secret_bearing {
        let r = request.send().await.unwrap();
        let url = r.url().clone();
        assert_eq!(r.headers()["cache-control"], "no-store", "{url}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{url}");
        assert!(
            r.headers().get("strict-transport-security").is_none(),
            "plain http: {url}"
        );
    }
    for path in [
        "/healthz",
        "/no/such/page",
        "/.well-known/jwks.json",
        "/login",
    ] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
    }
}
crate::on_both_backends!(answers_are_never_sniffed_and_secrets_are_never_cached);
