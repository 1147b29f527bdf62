//! Account merge end to end (SPEC §8, §4 rename) with real processes: the `gateway` binary and the
//! `provider-kit` dev provider. OLD uses the provider (which makes it a local account and stores a
//! file there); `gateway users merge --from OLD --into NEW` runs beside the serving gateway; then
//! the provider sees NEW on the same local account, files and all, and OLD's password, session and
//! API token no longer work.

use e2e::process::{Gateway, NewUser};
use e2e::provider::{DevProvider, output, provider_kit, register};
use e2e::{TempDir, cookie_set_by, free_port, wait_for};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

async fn listing(http: &reqwest::Client, gateway: &Gateway, token: &str) -> Value {
    let r = http
        .get(gateway.url("/ucloud/dev/storage/files"))
        .bearer_auth(token)
        .send()
        .await
        .expect("listing");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

async fn status_of(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.expect("answer").status().as_u16()
}

#[tokio::test]
async fn after_a_merge_the_provider_maps_the_new_username_to_the_same_local_account_and_old_credentials_are_dead()
 {
    merge_end_to_end(None).await;
}

#[tokio::test]
async fn the_same_on_postgresql() {
    let (url, name) = e2e::fresh_postgres().await;
    merge_end_to_end(Some(url)).await;
    e2e::drop_postgres(&name).await;
}

async fn merge_end_to_end(database_url: Option<String>) {
    let gateway = Gateway::new(database_url);
    // A test provider is visible to its owner and to admins: OLD and NEW are admins so that both
    // may use it; the provider's owner is someone else, so the merge moves no ownership.
    let owner = gateway.create_user_with_token(&NewUser::new(
        "owner",
        "owner@example.org",
        "Olive",
        "Owner",
    ));
    let old = gateway.create_user_with_token(
        &NewUser::new("olduser", "old@example.org", "Dan", "Thrane")
            .password("old gateway password")
            .admin(),
    );
    let new = gateway.create_user_with_token(
        &NewUser::new("newuser", "new@example.org", "Dan", "Thrane").admin(),
    );
    let server = gateway.serve().await;
    let http = reqwest::Client::new();

    let work = TempDir::new("merge-e2e");
    let port = free_port();
    let metadata = work.0.join("dev.yaml");
    std::fs::write(
        &metadata,
        format!("id: dev\ndomain: 127.0.0.1\nhttps: false\nport: {port}\nenv: test\n"),
    )
    .expect("metadata");
    let token_file = work.0.join("owner.token");
    std::fs::write(&token_file, &owner).expect("token file");
    let credentials = work.0.join("dev.json");
    let registered = register(&gateway, &metadata, &token_file, &credentials);
    assert!(registered.status.success(), "{}", output(&registered));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/dev.manifest.yaml");
    let provider =
        DevProvider::serve(&credentials, &manifest, &work.0.join("data"), port, "dev").await;
    let reload = provider_kit(&[
        "reload-manifest",
        "--credentials",
        credentials.to_str().expect("path"),
    ]);
    assert!(reload.status.success(), "{}", output(&reload));

    // OLD uses the provider: it makes OLD a local account, and a file lands in its storage.
    let upload = http
        .put(gateway.url("/ucloud/dev/storage/files/results.txt"))
        .bearer_auth(&old)
        .body("old results")
        .send()
        .await
        .expect("upload");
    assert_eq!(upload.status(), 201);
    let before = listing(&http, &gateway, &old).await;
    assert_eq!(before["username"], "olduser");
    let local = before["localAccount"]
        .as_str()
        .expect("a local account")
        .to_owned();
    let signed_in = http
        .post(gateway.url("/auth/login"))
        .json(&json!({"username": "olduser", "password": "old gateway password"}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed_in.status(), 200);
    let old_session = cookie_set_by(&signed_in);

    let out = gateway.run_raw(
        &["users", "merge", "--from", "olduser", "--into", "newuser"],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(merged.contains("olduser merged into newuser"), "{merged}");
    assert!(merged.contains("connections: dev"), "{merged}");
    assert!(
        !merged.contains("not delivered"),
        "the provider took the rename: {merged}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The provider sees NEW on OLD's local account, with its files.
    let after = listing(&http, &gateway, &new).await;
    assert_eq!(after["username"], "newuser");
    assert_eq!(
        after["localAccount"],
        local.as_str(),
        "the same local account"
    );
    assert_eq!(after["entries"][0]["name"], "results.txt");
    // OLD's API token, session and password stop working (the serving gateway hears the
    // command's change within a second).
    wait_for("OLD's credentials to die", Duration::from_secs(10), || {
        let (http, me, old, session) = (
            http.clone(),
            gateway.url("/api/me"),
            old.clone(),
            old_session.clone(),
        );
        async move {
            let token = status_of(http.get(&me).bearer_auth(&old)).await;
            let cookie = status_of(http.get(&me).header("cookie", &session)).await;
            (token == 401 && cookie == 401).then_some(())
        }
    })
    .await;
    let password = http
        .post(gateway.url("/auth/login"))
        .json(&json!({"username": "olduser", "password": "old gateway password"}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(password.status(), 401);
    let brokered = status_of(
        http.get(gateway.url("/ucloud/dev/storage/files"))
            .bearer_auth(&old),
    )
    .await;
    assert_eq!(brokered, 401);
    let status = gateway.run(&["users", "status", "olduser"], "");
    assert!(status.contains("disabled"), "{status}");
    let again = gateway.run_raw(
        &["users", "merge", "--from", "olduser", "--into", "newuser"],
        "",
    );
    assert!(
        !again.status.success(),
        "a merged account is not merged again"
    );
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(
        said.contains("cannot merge") && said.contains("nothing was changed"),
        "{said}"
    );

    let (ok, log) = provider.terminate().await;
    assert!(ok, "{log}");
    let (exit, log) = server.terminate().await;
    assert!(exit.success(), "{log}");
    assert!(
        !log.contains(&old) && !log.contains(&new),
        "tokens never reach the log"
    );
}
