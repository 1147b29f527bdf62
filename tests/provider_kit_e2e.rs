//! The whole federation with real processes: the `gateway` binary, and the `provider-kit` dev
//! provider registered by a user through `provider-kit register`. A user's requests are brokered to
//! the provider, which verifies the principal the gateway signed; a job charges the user's wallet,
//! succeeds while units last, and stops on the gateway's `402`.

use e2e::process::Gateway;
use e2e::provider::{DevProvider, output, provider_kit, register};
use e2e::{TempDir, free_port, wait_for};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// Creates a user with a personal API token; returns the token.
fn user_with_token(gateway: &Gateway, username: &str, admin: bool) -> String {
    let email = format!("{username}@example.org");
    let mut args = vec!["users", "create", username, "--email", &email];
    args.extend(["--first-name", "Test", "--last-name", "User"]);
    if admin {
        args.push("--admin");
    }
    gateway.run(&args, "");
    let token = gateway.run(&["tokens", "create", username, "--name", "e2e"], "");
    token.trim().to_owned()
}

async fn json(response: reqwest::Response) -> Value {
    let status = response.status();
    let body = response.text().await.expect("a body");
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("{status}: not JSON: {body}"))
}

#[tokio::test]
async fn a_registered_dev_provider_serves_brokered_users_and_stops_a_job_on_payment_required() {
    let gateway = Gateway::new(None);
    let admin = user_with_token(&gateway, "admin", true);
    let alice = user_with_token(&gateway, "alice", false);
    let server = gateway.serve().await;
    let http = reqwest::Client::new();

    // The provider developer registers the dev provider with alice's API token.
    let work = TempDir::new("pk-e2e");
    let port = free_port();
    let metadata = work.0.join("dev.yaml");
    let metadata_text =
        format!("id: dev\ndomain: 127.0.0.1\nhttps: false\nport: {port}\nenv: test\n");
    std::fs::write(&metadata, metadata_text).expect("metadata");
    let token_file = work.0.join("alice.token");
    std::fs::write(&token_file, &alice).expect("token file");
    let credentials = work.0.join("dev.json");
    let registered = register(&gateway, &metadata, &token_file, &credentials);
    assert!(registered.status.success(), "{}", output(&registered));
    assert!(output(&registered).contains("registered provider `dev` (status: active)"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&credentials)
            .expect("saved")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the credentials file is private");
    }
    let again = register(&gateway, &metadata, &token_file, &work.0.join("again.json"));
    assert!(!again.status.success());
    assert!(
        output(&again).contains("`dev` is already registered"),
        "{}",
        output(&again)
    );

    // The provider starts, and asks the gateway to fetch its manifest now.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/dev.manifest.yaml");
    let data = work.0.join("data");
    let provider = DevProvider::serve(&credentials, &manifest, &data, port, "dev").await;
    let credentials_arg = credentials.to_str().expect("UTF-8 path");
    let reload = provider_kit(&["reload-manifest", "--credentials", credentials_arg]);
    assert!(reload.status.success(), "{}", output(&reload));

    // A brokered request reaches the provider as alice, verified there.
    let me = json(
        http.get(gateway.url("/api/me"))
            .bearer_auth(&alice)
            .send()
            .await
            .expect("me"),
    )
    .await;
    let username = me["principal"]["username"]
        .as_str()
        .expect("a username")
        .to_owned();
    let upload = http
        .put(gateway.url("/ucloud/dev/storage/files/hello.txt"))
        .bearer_auth(&alice)
        .body("hello from alice")
        .send()
        .await
        .expect("upload");
    assert_eq!(
        upload.status(),
        201,
        "{}",
        upload.text().await.unwrap_or_default()
    );
    let listing = http
        .get(gateway.url("/ucloud/dev/storage/files"))
        .bearer_auth(&alice)
        .send()
        .await;
    let listing = json(listing.expect("listing")).await;
    assert_eq!(
        listing["username"],
        username.as_str(),
        "the provider saw the gateway's principal"
    );
    assert_eq!(listing["entries"][0]["name"], "hello.txt");
    let download = http
        .get(gateway.url("/ucloud/dev/storage/files/hello.txt"))
        .bearer_auth(&alice)
        .send()
        .await;
    assert_eq!(
        download.expect("download").text().await.expect("body"),
        "hello from alice"
    );

    // Alice's wallet holds 25 units; a job costs 10 per second.
    let grant = json!({"owner": {"username": username}, "provider": "dev", "units": 25});
    let granted = http
        .post(gateway.url("/api/admin/wallets/grant"))
        .bearer_auth(&admin)
        .json(&grant)
        .send()
        .await;
    assert_eq!(granted.expect("grant").status(), 200);
    let spec =
        json!({"name": "e2e", "durationSecs": 60, "unitsPerInterval": 10, "intervalSecs": 1});
    let jobs_url = gateway.url("/ucloud/dev/compute/docker/jobs");
    let submitted = http
        .post(&jobs_url)
        .bearer_auth(&alice)
        .json(&spec)
        .send()
        .await
        .expect("submit");
    assert_eq!(submitted.status(), 201, "the first charge succeeded");
    let job = json(submitted).await;
    assert_eq!(job["balance"], 15);
    let id = job["id"].as_str().expect("a job id").to_owned();

    let stopped = wait_for("the job to stop", Duration::from_secs(30), || {
        let (http, url, alice) = (http.clone(), format!("{jobs_url}/{id}"), alice.clone());
        async move {
            let job: Value = http
                .get(&url)
                .bearer_auth(&alice)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (job["state"] != "running").then_some(job)
        }
    })
    .await;
    assert_eq!(stopped["status"], "stopped: insufficient funds (balance 5)");
    assert_eq!(stopped["unitsCharged"], 20);
    let wallets = json(
        http.get(gateway.url("/api/wallets"))
            .bearer_auth(&alice)
            .send()
            .await
            .expect("wallets"),
    )
    .await;
    let wallet = wallets
        .as_array()
        .expect("a list")
        .iter()
        .find(|w| w["provider"] == "dev")
        .cloned();
    assert_eq!(wallet.expect("a wallet at dev")["balance"], 5);

    // With 5 units left, the next job cannot start: the provider's 402 reaches the user as 402.
    let refused = http
        .post(&jobs_url)
        .bearer_auth(&alice)
        .json(&spec)
        .send()
        .await
        .expect("submit");
    assert_eq!(refused.status(), 402);
    let problem = json(refused).await;
    assert_eq!(
        (problem["code"].as_str(), problem["balance"].as_i64()),
        (Some("insufficientFunds"), Some(5))
    );

    // A grant lets new jobs run again.
    let top_up = json!({"owner": {"username": username}, "provider": "dev", "units": 100});
    let granted = http
        .post(gateway.url("/api/admin/wallets/grant"))
        .bearer_auth(&admin)
        .json(&top_up)
        .send()
        .await;
    assert_eq!(granted.expect("grant").status(), 200);
    let resubmitted = http
        .post(&jobs_url)
        .bearer_auth(&alice)
        .json(&spec)
        .send()
        .await
        .expect("submit");
    assert_eq!(resubmitted.status(), 201, "after the grant the job starts");
    assert_eq!(json(resubmitted).await["balance"], 95);

    let refresh_token = std::fs::read_to_string(&credentials).expect("credentials");
    let refresh_token: Value = serde_json::from_str(&refresh_token).expect("JSON credentials");
    let refresh_token = refresh_token["refreshToken"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    let (clean, log) = provider.terminate().await;
    assert!(clean, "the dev provider stops cleanly on SIGTERM: {log}");
    assert!(
        !log.contains(&refresh_token),
        "the refresh token is never logged"
    );
    assert!(
        !log.contains(&alice),
        "the user's API token never reaches the provider"
    );
    let (status, gateway_log) = server.terminate().await;
    assert!(status.success());
    assert!(!gateway_log.contains(&refresh_token));
}
