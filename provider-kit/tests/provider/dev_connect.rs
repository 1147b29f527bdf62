//! The dev provider's connection flow over HTTP (SPEC §4), as a browser walks it: the gateway's
//! redirect with a usermap token, the provider's sign-in against the users file (whose hash comes
//! from `provider-kit accounts hash-password`), the report with the nonce, the `303` back — and then
//! the user's storage lives under the local account they signed in as.

use std::path::PathBuf;

use provider_kit::usermap::{FileAuthenticator, LocalAuthenticator as _};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::dev_mapping::{explicit_manifest, export};
use crate::support::dev::{Setup, cookie_of, start};
use crate::support::process::{TempDir, run, run_with_input};

const PASSWORD: &str = "local-secret";

/// `provider-kit accounts hash-password` fed `password` and a newline.
async fn hash_password(password: &str) -> String {
    let (ok, stdout, stderr) =
        run_with_input(&["accounts", "hash-password"], &format!("{password}\n")).await;
    assert!(ok, "{stderr}");
    assert!(!stdout.contains(password) && !stderr.contains(password));
    stdout.trim().to_owned()
}

/// A users file in `dir` with the local user `asmith`.
async fn users_file(dir: &TempDir) -> PathBuf {
    let hash = hash_password(PASSWORD).await;
    let path = dir.join("users.yaml");
    let text = format!("users:\n  - username: asmith\n    password_hash: '{hash}'\n");
    std::fs::write(&path, text).expect("users file");
    path
}

async fn body(response: reqwest::Response) -> String {
    response.text().await.expect("a body")
}

/// Starts a connection for `user` and returns the attempt cookie, checking the `302` to login.
async fn begin(s: &Setup, user: &str, nonce: &str) -> String {
    let started = s.start_connection(&s.usermap_token(user, nonce)).await;
    assert_eq!(started.status(), StatusCode::FOUND);
    assert_eq!(started.headers()["location"], "/ucloud/dev/usermap/login");
    cookie_of(&started)
}

fn login(s: &Setup, cookie: &str) -> reqwest::RequestBuilder {
    s.browser
        .request(Method::GET, format!("{}/usermap/login", s.provider.base))
        .header("cookie", cookie)
}

#[tokio::test]
async fn hash_password_prints_an_argon2id_hash_that_the_users_file_accepts() {
    let dir = TempDir::new("hash");
    let users = users_file(&dir).await;
    let text = std::fs::read_to_string(&users).expect("users file");
    assert!(text.contains("$argon2id$"), "{text}");
    let users = FileAuthenticator::new(&users).expect("a valid users file");
    let found = users
        .authenticate("asmith", PASSWORD)
        .await
        .expect("checked");
    assert_eq!(
        found.map(|i| i.account().to_owned()).as_deref(),
        Some("asmith")
    );
    let wrong = users.authenticate("asmith", "local-secreT").await;
    assert_eq!(wrong.expect("checked"), None);

    let (ok, stdout, stderr) = run_with_input(&["accounts", "hash-password"], "short\n").await;
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("8 to 1024 characters"), "{stderr}");
    let (ok, _, stderr) = run_with_input(&["accounts", "hash-password"], "").await;
    assert!(!ok && stderr.contains("no password on stdin"), "{stderr}");
}

#[tokio::test]
async fn a_user_connects_a_local_account_from_the_users_file_and_works_under_it() {
    let files = TempDir::new("connect");
    let users = users_file(&files).await;
    let users = users.to_str().expect("UTF-8 path");
    let s = start(&explicit_manifest(&files), "", &["--users-file", users]).await;
    let before = s
        .call(Method::GET, "storage/files", "alice", None)
        .send()
        .await
        .expect("answer");
    assert_eq!(before.status(), StatusCode::FORBIDDEN, "not connected yet");

    let cookie = begin(&s, "alice", "n-1").await;
    let page = login(&s, &cookie).send().await.expect("login page");
    assert_eq!(page.status(), StatusCode::OK);
    let page = body(page).await;
    for id in ["id=\"username\"", "id=\"password\"", "id=\"sign-in\""] {
        assert!(page.contains(id), "{id} in {page}");
    }
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF field")
        .to_owned();
    let submit = |password: &'static str| {
        s.browser
            .post(format!("{}/usermap/login", s.provider.base))
            .header("cookie", &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "asmith"),
                ("password", password),
            ])
            .send()
    };
    let wrong = submit("not-the-password").await.expect("answer");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(body(wrong).await.contains("Wrong username or password"));
    let signed_in = submit(PASSWORD).await.expect("answer");
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        signed_in.headers()["location"],
        "/ucloud/dev/usermap/confirm"
    );
    assert!(s.gateway.reports().is_empty(), "nothing before the click");
    let confirm_url = format!("{}/usermap/confirm", s.provider.base);
    let confirm = s
        .browser
        .get(&confirm_url)
        .header("cookie", &cookie)
        .send()
        .await
        .expect("confirm page");
    assert_eq!(confirm.status(), StatusCode::OK);
    let confirm = body(confirm).await;
    assert!(
        confirm.contains("id=\"local-account\">asmith<"),
        "{confirm}"
    );
    let confirm_csrf = confirm
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF field")
        .to_owned();
    let done = s
        .browser
        .post(&confirm_url)
        .header("cookie", &cookie)
        .form(&[("csrf", confirm_csrf.as_str())])
        .send()
        .await
        .expect("answer");
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        done.headers()["location"],
        format!("{}?nonce=n-1&code=code-n-1", s.return_url()).as_str()
    );
    let reports = s.gateway.reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report = &reports[0]["report"];
    assert_eq!(
        (
            &report["username"],
            &report["localIdentity"],
            &report["nonce"],
            &report["state"]
        ),
        (
            &Value::from("alice"),
            &Value::from("asmith"),
            &Value::from("n-1"),
            &Value::from("ok")
        )
    );

    let put = s
        .call(Method::PUT, "storage/files/hello.txt", "alice", None)
        .body("hello")
        .send()
        .await
        .expect("answer");
    assert_eq!(put.status(), StatusCode::CREATED);
    let stored = s.dir.join("data/storage/asmith/hello.txt");
    assert_eq!(std::fs::read_to_string(stored).expect("stored"), "hello");
    let other = s
        .call(Method::GET, "storage/files", "bob", None)
        .send()
        .await
        .expect("answer");
    assert_eq!(
        other.status(),
        StatusCode::FORBIDDEN,
        "bob is not connected"
    );
    assert_eq!(
        export(&s).await,
        ["asmith:x:20000:20000:Dan Sebastian Thrane:/home/asmith:/bin/bash"]
    );
    let (clean, log) = s.provider.terminate().await;
    assert!(clean, "{log}");
    assert!(!log.contains(PASSWORD) && !log.contains(&csrf), "{log}");
}

#[tokio::test]
async fn the_usermap_routes_are_mounted_and_refuse_a_bad_token_with_the_flows_page() {
    let files = TempDir::new("routes");
    let s = start(&explicit_manifest(&files), "", &[]).await;
    let refused = s.start_connection("not-a-token").await;
    assert_eq!(
        refused.status(),
        StatusCode::BAD_REQUEST,
        "mounted, not 404"
    );
    assert!(
        refused.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with("text/html")
    );
    assert!(
        body(refused)
            .await
            .contains("This connection link is not valid")
    );
    let unlink = s
        .browser
        .post(format!("{}/usermap/unlink", s.provider.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        unlink.status(),
        StatusCode::UNAUTHORIZED,
        "the gateway's call only"
    );

    // Without a users file, a valid redirect is taken but the login says why no one can sign in.
    let cookie = begin(&s, "alice", "n-2").await;
    let page = login(&s, &cookie).send().await.expect("login page");
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = body(page).await;
    assert!(page.contains("No local users are configured"), "{page}");
    assert!(page.contains("--users-file"), "{page}");
    assert!(s.gateway.reports().is_empty());
}

#[tokio::test]
async fn a_users_file_that_cannot_be_read_stops_serve_at_start_up() {
    let files = TempDir::new("bad-users");
    std::fs::write(
        files.join("users.yaml"),
        "users:\n  - username: Root\n    password_hash: x\n",
    )
    .expect("users file");
    let manifest = explicit_manifest(&files);
    let credentials = files.join("dev.json");
    crate::support::FakeGateway::start()
        .await
        .credentials("dev")
        .save(&credentials, false)
        .expect("credentials");
    let path = |p: &PathBuf| p.to_str().expect("UTF-8 path").to_owned();
    let args = [
        "serve".to_owned(),
        "--credentials".into(),
        path(&credentials),
        "--manifest".into(),
        path(&manifest),
        "--data-dir".into(),
        path(&files.join("data")),
        "--users-file".into(),
        path(&files.join("users.yaml")),
        "--listen".into(),
        "127.0.0.1:0".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, _, stderr) = run(&args, &[]).await;
    assert!(!ok);
    assert!(stderr.contains("not a valid account name"), "{stderr}");
}
