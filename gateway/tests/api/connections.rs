//! User mapping on the gateway's side (SPEC §4): attempts bound to a session, provider reports,
//! completion by the starting session with the attempt's completion code only — and every attack
//! refused with nothing changed. The helpers here are shared with `attacks::usermap`.

use crate::support::{Backend, START_MS, TestApp, read};
use crate::upstream::Upstream;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const EXPLICIT: &str = "users: { requireExplicitMapping: true }\nfeatures:\n  compute:\n    docker: { enabled: true }\n";
pub const IMPLICIT: &str = "users: { requireExplicitMapping: false }\nfeatures:\n  compute:\n    docker: { enabled: true }\n";

pub struct World {
    pub app: TestApp,
    pub up: Upstream,
    /// The provider's access token.
    pub provider: String,
}

pub async fn world(backend: Backend) -> World {
    world_on(backend, EXPLICIT).await
}

/// The gateway on `backend` with one test provider `dev` serving `manifest`.
pub async fn world_on(backend: Backend, manifest: &'static str) -> World {
    let app = TestApp::spawn(backend).await;
    let up = Upstream::start("dev", &app.url, START_MS / 1000, manifest).await;
    // A test provider is visible to its owner and to admins, so the users below are admins.
    let admin = app.user("root", true).await;
    let body = json!({ "id": "dev", "domain": "127.0.0.1", "https": false, "port": up.port, "env": "test" });
    let (_, reg) = app.post(&admin, "/api/providers", body).await;
    let (_, oauth) = app
        .oauth_refresh(reg["refreshToken"].as_str().unwrap())
        .await;
    let provider = oauth["access_token"].as_str().unwrap().to_owned();
    app.app
        .manifests
        .refresh(&app.app.registry.get_any("dev").await.unwrap())
        .await
        .unwrap();
    World { app, up, provider }
}

/// Signs `username` in (an admin, so the test provider is visible) and returns the cookie.
pub async fn session(app: &TestApp, username: &str) -> String {
    session_as(app, username, true).await
}

/// Signs `username` in and returns the cookie; `admin: false` cannot see a test provider.
pub async fn session_as(app: &TestApp, username: &str, admin: bool) -> String {
    app.user(username, admin).await;
    app.session_cookie(username).await
}

pub async fn start(app: &TestApp, cookie: &str) -> (StatusCode, Value) {
    read(
        app.http
            .post(app.url("/api/connections"))
            .header("cookie", cookie)
            .header("origin", &app.url)
            .json(&json!({ "provider": "dev" }))
            .send()
            .await
            .unwrap(),
    )
    .await
}

pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// A started attempt: the connection id and the nonce from its usermap token.
pub async fn attempt(app: &TestApp, cookie: &str) -> (String, String) {
    let (status, started) = start(app, cookie).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let id = started["connection"]["id"].as_str().unwrap().to_owned();
    let nonce = claims(started["redirect"]["fields"]["token"].as_str().unwrap())["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, nonce)
}

pub async fn report(w: &World, body: Value) -> (StatusCode, Value) {
    w.app
        .post(&w.provider, "/api/providers/usermap/dev", body)
        .await
}

pub fn ok_report(nonce: &str, username: &str, local: &str) -> Value {
    json!({ "nonce": nonce, "username": username, "localIdentity": local, "state": "ok", "comment": null, "commentUrl": null })
}

pub fn implicit_report(username: &str, local: &str) -> Value {
    json!({ "username": username, "localIdentity": local, "state": "ok", "comment": null, "commentUrl": null })
}

/// The provider reports `local` for the attempt and gets its completion code.
pub async fn reported(w: &World, nonce: &str, username: &str, local: &str) -> String {
    let (status, answer) = report(w, ok_report(nonce, username, local)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["completionCode"].as_str().unwrap().to_owned()
}

/// The browser's return: status and page text. `cookie` and `code` may be absent.
pub async fn return_to_gateway(
    app: &TestApp,
    connection: &str,
    nonce: &str,
    code: Option<&str>,
    cookie: Option<&str>,
) -> (StatusCode, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut url =
        reqwest::Url::parse(&app.url(&format!("/connections/{connection}/complete"))).unwrap();
    url.query_pairs_mut().append_pair("nonce", nonce);
    if let Some(code) = code {
        url.query_pairs_mut().append_pair("code", code);
    }
    let mut request = client.get(url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let r = request.send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

pub async fn complete(app: &TestApp, connection: &str, nonce: &str, cookie: &str) -> StatusCode {
    return_to_gateway(app, connection, nonce, None, Some(cookie))
        .await
        .0
}

pub async fn complete_with(
    app: &TestApp,
    connection: &str,
    nonce: &str,
    code: &str,
    cookie: &str,
) -> StatusCode {
    return_to_gateway(app, connection, nonce, Some(code), Some(cookie))
        .await
        .0
}

/// The caller's first connection as listed.
pub async fn listed(app: &TestApp, cookie: &str) -> Value {
    let (_, list) = read(
        app.http
            .get(app.url("/api/connections"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    list[0].clone()
}

pub async fn state(app: &TestApp, cookie: &str) -> Value {
    listed(app, cookie).await["state"].clone()
}

/// A brokered GET as the user with `cookie`: its status.
pub async fn broker(app: &TestApp, cookie: &str) -> StatusCode {
    app.http
        .get(app.url("/ucloud/dev/compute/docker/echo"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
}

async fn the_explicit_flow_connects_only_when_the_starting_session_returns(backend: Backend) {
    let w = world(backend).await;
    let alice = session(&w.app, "alice").await;
    let (status, started) = start(&w.app, &alice).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["redirect"]["method"], "POST");
    assert_eq!(
        started["redirect"]["url"],
        format!("http://127.0.0.1:{}/ucloud/dev/usermap", w.up.port)
    );
    let token = started["redirect"]["fields"]["token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("ucloud-usermap+jwt"));
    let c = claims(token);
    let connection = started["connection"]["id"].as_str().unwrap();
    assert_eq!(c["aud"], "dev");
    assert_eq!(c["principal"]["username"], "alice");
    assert_eq!(
        c["returnUrl"],
        w.app.url(&format!("/connections/{connection}/complete"))
    );
    assert_eq!(started["connection"]["state"], "requested");
    let nonce = c["nonce"].as_str().unwrap();

    // Brokering waits for the connection.
    let (status, problem) = read(
        w.app
            .http
            .get(w.app.url("/ucloud/dev/compute/docker/echo"))
            .header("cookie", &alice)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("connectionRequired"))
    );

    let (status, answer) = report(&w, ok_report(nonce, "alice", "alice01")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let code = answer["completionCode"].as_str().unwrap().to_owned();
    assert!(code.len() >= 22, "at least 128 random bits: {code}");
    assert_eq!(
        state(&w.app, &alice).await,
        "creating",
        "a report alone does not finish the connection"
    );

    // A wrong connection id with the right nonce and code changes nothing (the return URL is the
    // gateway's own).
    let mallory = session(&w.app, "mallory").await;
    let (other_id, _) = attempt(&w.app, &mallory).await;
    assert_eq!(
        complete_with(&w.app, &other_id, nonce, &code, &alice).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(state(&w.app, &alice).await, "creating");

    assert_eq!(
        complete_with(&w.app, connection, nonce, &code, &alice).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(state(&w.app, &alice).await, "ok");
    // Single use.
    assert_eq!(
        complete_with(&w.app, connection, nonce, &code, &alice).await,
        StatusCode::BAD_REQUEST
    );

    let (status, seen) = read(
        w.app
            .http
            .get(w.app.url("/ucloud/dev/compute/docker/echo"))
            .header("cookie", &alice)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["principal"]["username"], "alice");
}
crate::on_both_backends!(the_explicit_flow_connects_only_when_the_starting_session_returns);

async fn expired_foreign_and_reused_nonces_are_refused_and_change_nothing(backend: Backend) {
    let w = world(backend).await;
    let alice = session(&w.app, "alice").await;
    let (_, started) = start(&w.app, &alice).await;
    let nonce = claims(started["redirect"]["fields"]["token"].as_str().unwrap())["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    let ok = |nonce: &str, username: &str| ok_report(nonce, username, "x1");

    // A report naming another user, or a made-up nonce.
    let bob = session(&w.app, "bob").await;
    assert_eq!(report(&w, ok(&nonce, "bob")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        report(&w, ok("made-up", "alice")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(state(&w.app, &alice).await, "requested");
    let _ = bob;

    // A report for this nonce from another provider.
    let admin = w.app.user("root2", true).await;
    let body =
        json!({ "id": "other", "domain": "127.0.0.1", "https": false, "port": 1, "env": "test" });
    let (_, reg) = w.app.post(&admin, "/api/providers", body).await;
    let (_, oauth) = w
        .app
        .oauth_refresh(reg["refreshToken"].as_str().unwrap())
        .await;
    let other = oauth["access_token"].as_str().unwrap();
    let (status, _) = w
        .app
        .post(other, "/api/providers/usermap/other", ok(&nonce, "alice"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = w
        .app
        .post(other, "/api/providers/usermap/dev", ok(&nonce, "alice"))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a provider reports only for itself"
    );
    assert_eq!(state(&w.app, &alice).await, "requested");

    // Reused: the first report takes it; the second changes nothing.
    assert_eq!(report(&w, ok(&nonce, "alice")).await.0, StatusCode::OK);
    let (status, _) = report(&w, ok_report(&nonce, "alice", "other9")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = read(
        w.app
            .http
            .get(w.app.url("/api/connections"))
            .header("cookie", &alice)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list[0]["localIdentity"], "x1");

    // Expired: ten minutes on, neither a report nor the return works.
    let (_, again) = start(&w.app, &alice).await;
    let id = again["connection"]["id"].as_str().unwrap().to_owned();
    let late = claims(again["redirect"]["fields"]["token"].as_str().unwrap())["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    w.app.clock.advance_secs(10 * 60 + 1);
    assert_eq!(
        report(&w, ok(&late, "alice")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        complete(&w.app, &id, &late, &alice).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(state(&w.app, &alice).await, "requested");
}
crate::on_both_backends!(expired_foreign_and_reused_nonces_are_refused_and_change_nothing);

async fn a_connected_user_is_not_remapped_without_a_disconnect_and_both_sides_can_disconnect(
    backend: Backend,
) {
    let w = world_on(backend, IMPLICIT).await;
    let alice = session(&w.app, "alice").await;
    let implicit = |local: &str| implicit_report("alice", local);
    assert_eq!(broker(&w.app, &alice).await, StatusCode::OK);
    let (status, c) = report(&w, implicit("alice01")).await;
    assert_eq!(
        (status, c["state"].as_str()),
        (StatusCode::OK, Some("ok")),
        "{c}"
    );
    let (status, problem) = report(&w, implicit("someone_else")).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("remapRequiresDisconnect"))
    );
    let (status, _) = start(&w.app, &alice).await;
    assert_eq!(status, StatusCode::CONFLICT, "already connected");

    // The user disconnects: the provider is told.
    let r = w
        .app
        .http
        .delete(w.app.url("/api/connections/dev"))
        .header("cookie", &alice)
        .header("origin", &w.app.url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(state(&w.app, &alice).await, "disconnected");
    assert_eq!(*w.up.unlinked.lock().unwrap(), ["alice"]);

    // Ending it forgot that alice used the provider: a report waits for her next request.
    assert_eq!(
        report(&w, implicit("someone_else")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(broker(&w.app, &alice).await, StatusCode::OK);
    // Now a new mapping is allowed; then the provider ends it from its side.
    assert_eq!(report(&w, implicit("someone_else")).await.0, StatusCode::OK);
    let r = w
        .app
        .http
        .delete(w.app.url("/api/providers/usermap/dev/alice"))
        .bearer_auth(&w.provider)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(state(&w.app, &alice).await, "disconnected");

    // Pending states carry what the user must do next.
    assert_eq!(broker(&w.app, &alice).await, StatusCode::OK);
    let pending = json!({ "username": "alice", "localIdentity": "alice01", "state": "pendingAdditionalValidation",
        "comment": "Upload your ID", "commentUrl": "https://hpc.example.org/verify" });
    let (_, c) = report(&w, pending).await;
    assert_eq!(
        (c["state"].as_str(), c["commentUrl"].as_str()),
        (
            Some("pendingAdditionalValidation"),
            Some("https://hpc.example.org/verify")
        )
    );
}
crate::on_both_backends!(
    a_connected_user_is_not_remapped_without_a_disconnect_and_both_sides_can_disconnect
);

/// A provider's username policy change renames the local account of a connection: the gateway
/// takes the new name only for the `ok` connection that still names the old one.
async fn a_renamed_local_account_keeps_the_connection_and_nothing_else_is_renamed(
    backend: Backend,
) {
    let w = world_on(backend, IMPLICIT).await;
    let alice = session(&w.app, "alice").await;
    let renamed = |user: &str, from: &str, to: &str| {
        let mut report = implicit_report(user, to);
        report["renamedFrom"] = json!(from);
        report
    };
    // No connection yet: a rename is the same 404 as for an unknown user.
    let (status, unknown) = report(&w, renamed("nobody", "a", "b")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, problem) = report(&w, renamed("alice", "alice01", "alice_liddell")).await;
    assert_eq!(
        (status, &problem["code"]),
        (StatusCode::NOT_FOUND, &unknown["code"])
    );

    assert_eq!(broker(&w.app, &alice).await, StatusCode::OK);
    assert_eq!(
        report(&w, implicit_report("alice", "alice01")).await.0,
        StatusCode::OK
    );
    // A rename from a name the connection does not hold changes nothing.
    let (status, _) = report(&w, renamed("alice", "bob01", "alice_liddell")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(listed(&w.app, &alice).await["localIdentity"], "alice01");

    let (status, c) = report(&w, renamed("alice", "alice01", "alice_liddell")).await;
    assert_eq!(
        (status, c["localIdentity"].as_str()),
        (StatusCode::OK, Some("alice_liddell")),
        "{c}"
    );
    let listed_now = listed(&w.app, &alice).await;
    assert_eq!(
        (
            listed_now["state"].as_str(),
            listed_now["localIdentity"].as_str()
        ),
        (Some("ok"), Some("alice_liddell"))
    );
    // A retry of a rename already taken answers the connection as it is.
    let (status, c) = report(&w, renamed("alice", "alice01", "alice_liddell")).await;
    assert_eq!(
        (status, c["localIdentity"].as_str()),
        (StatusCode::OK, Some("alice_liddell"))
    );
    // A rename is only for an ok mapping without nonce.
    let mut pending = renamed("alice", "alice_liddell", "x");
    pending["state"] = json!("pendingAccountLinking");
    let (status, problem) = report(&w, pending).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(
        listed(&w.app, &alice).await["localIdentity"],
        "alice_liddell"
    );
}
crate::on_both_backends!(a_renamed_local_account_keeps_the_connection_and_nothing_else_is_renamed);

async fn an_api_token_cannot_start_a_browser_attempt_and_disabling_ends_connections(
    backend: Backend,
) {
    let w = world_on(backend, IMPLICIT).await;
    let alice_token = w.app.user("alice", true).await;
    let (status, problem) = w
        .app
        .post(
            &alice_token,
            "/api/connections",
            json!({ "provider": "dev" }),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("sessionRequired"))
    );

    let (status, _) = w
        .app
        .get(&alice_token, "/ucloud/dev/compute/docker/echo")
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an implicit provider needs no connection"
    );
    let (status, _) = report(&w, implicit_report("alice", "a1")).await;
    assert_eq!(status, StatusCode::OK);
    let root = w.app.user("boss", true).await;
    let (status, body) = w
        .app
        .post(&root, "/api/admin/users/alice/disable", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        *w.up.unlinked.lock().unwrap(),
        ["alice"],
        "disabling reaches the provider"
    );
    let conns = w
        .app
        .app
        .store
        .connections_of(w.app.app.accounts.user("alice").await.unwrap().id)
        .await
        .unwrap();
    assert_eq!(
        conns[0].state,
        gateway::model::ConnectionState::Disconnected
    );
}
crate::on_both_backends!(
    an_api_token_cannot_start_a_browser_attempt_and_disabling_ends_connections
);

/// Issue 14: on PostgreSQL the connection check read `SELECT 1` (an `INT4`) as an `i64`, the error
/// was taken for "not connected", and every brokered request of a connected user was refused.
async fn a_user_connected_through_the_explicit_flow_is_brokered(backend: Backend) {
    let w = world_on(backend, EXPLICIT).await;
    let alice = session(&w.app, "alice").await;
    let (connection, nonce) = attempt(&w.app, &alice).await;
    assert_eq!(broker(&w.app, &alice).await, StatusCode::FORBIDDEN);
    let code = reported(&w, &nonce, "alice", "alice01").await;
    assert_eq!(
        complete_with(&w.app, &connection, &nonce, &code, &alice).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(state(&w.app, &alice).await, "ok");
    assert_eq!(broker(&w.app, &alice).await, StatusCode::OK);
}
crate::on_both_backends!(a_user_connected_through_the_explicit_flow_is_brokered);
