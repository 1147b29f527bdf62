//! The `provider-kit` binary against the fake gateway: `register` saves private credentials and
//! explains refusals; `serve` keeps each local account's files in its own folder, charges jobs and
//! stops them on `402`, reports new accounts, logs no token, and stops cleanly on SIGTERM.

use std::time::Duration;

use provider_kit::client::Credentials;
use provider_kit::protocol::WalletOwner;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::dev::setup;
use crate::support::gateway::{REFRESH_TOKEN, USER_API_TOKEN};
use crate::support::process::{TempDir, run};
use crate::support::{FakeGateway, wait_for};

const METADATA: &str = "id: dev\ndomain: 127.0.0.1\nhttps: false\nport: 9000\nenv: test\n";

#[tokio::test]
async fn register_saves_private_credentials_and_explains_each_refusal() {
    let gateway = FakeGateway::start().await;
    let dir = TempDir::new("register");
    std::fs::write(dir.join("dev.yaml"), METADATA).expect("write");
    std::fs::write(dir.join("token"), format!("{USER_API_TOKEN}\n")).expect("write");
    let (metadata, token) = (dir.join("dev.yaml"), dir.join("token"));
    let out = dir.join("dev.json");
    let args = |out: &std::path::Path| -> Vec<String> {
        ["register", "--gateway", &gateway.url, "--metadata"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain([metadata.display().to_string(), "--token-file".into()])
            .chain([
                token.display().to_string(),
                "--out".into(),
                out.display().to_string(),
            ])
            .collect()
    };
    let argv = args(&out);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();

    let (ok, stdout, stderr) = run(&argv, &[]).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("registered provider `dev` (status: active)"),
        "{stdout}"
    );
    assert!(!stdout.contains(REFRESH_TOKEN) && !stderr.contains(REFRESH_TOKEN));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&out).expect("saved").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        Credentials::load(&out).expect("loads"),
        gateway.credentials("dev")
    );

    let (ok, _, stderr) = run(&argv, &[]).await;
    assert!(
        !ok && stderr.contains("already exists; pass --force"),
        "{stderr}"
    );

    let other = args(&dir.join("other.json"));
    let other: Vec<&str> = other.iter().map(String::as_str).collect();
    let (ok, _, stderr) = run(&other, &[]).await;
    assert!(
        !ok && stderr.contains("`dev` is already registered"),
        "{stderr}"
    );
    assert!(!dir.join("other.json").exists());

    let mut by_env: Vec<&str> = other[..other.len() - 4].to_vec();
    by_env.extend(["--token-env", "PK_TEST_TOKEN", "--out", "unused.json"]);
    let (ok, _, stderr) = run(&by_env, &[("PK_TEST_TOKEN", "not-a-token")]).await;
    assert!(
        !ok && stderr.contains("did not accept the API token from $PK_TEST_TOKEN"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-a-token"));
}

#[tokio::test]
async fn each_account_has_its_own_folder_that_paths_cannot_leave() {
    let s = setup("max_upload_bytes: 1024\naccounts: {policy: gatewayUsername}\n").await;
    use reqwest::Method;
    let put = s
        .call(Method::PUT, "storage/files/notes/a.txt", "alice", None)
        .body("hello");
    assert_eq!(
        put.send().await.expect("answer").status(),
        StatusCode::CREATED
    );
    let got = s
        .call(Method::GET, "storage/files/notes/a.txt", "alice", None)
        .send()
        .await
        .expect("answer");
    assert_eq!(got.text().await.expect("body"), "hello");
    let listing: Value = s
        .call(Method::GET, "storage/files", "alice", None)
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(listing["username"], "alice");
    assert_eq!(
        listing["entries"],
        json!([{"name": "notes", "kind": "directory", "size": listing["entries"][0]["size"]}])
    );
    assert!(s.dir.join("data/storage/alice/notes/a.txt").is_file());

    let bob = s
        .call(Method::GET, "storage/files/notes/a.txt", "bob", None)
        .send()
        .await
        .expect("answer");
    assert_eq!(bob.status(), StatusCode::NOT_FOUND);
    for escape in [
        "storage/files/..%2F..%2Fdev.json",
        "storage/files/%2e%2e%2fbob",
        "storage/files/notes/..%2F..%2F..%2Fdev.json",
    ] {
        let answer = s
            .call(Method::GET, escape, "alice", None)
            .send()
            .await
            .expect("answer");
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{escape}");
    }
    let big = s
        .call(Method::PUT, "storage/files/big.bin", "alice", None)
        .body(vec![7u8; 2048]);
    assert_eq!(
        big.send().await.expect("answer").status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert!(!s.dir.join("data/storage/alice/big.bin").exists());
    let unsigned = s
        .http
        .get(format!("{}/storage/files", s.provider.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);

    let deleted = s
        .call(Method::DELETE, "storage/files/notes/a.txt", "alice", None)
        .send()
        .await
        .expect("answer");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = s
        .call(Method::GET, "storage/files/notes/a.txt", "alice", None)
        .send()
        .await
        .expect("answer");
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    let reports = wait_for(
        "the implicit mapping reports",
        Duration::from_secs(10),
        || async {
            let reports = s.gateway.reports();
            (reports.len() >= 2).then_some(reports)
        },
    )
    .await;
    let mut users: Vec<&str> = reports
        .iter()
        .map(|r| r["report"]["localIdentity"].as_str().expect("text"))
        .collect();
    users.sort_unstable();
    assert_eq!(users, ["alice", "bob"]);

    let (clean, log) = s.provider.terminate().await;
    assert!(clean, "{log}");
    assert!(log.contains("stopped"), "{log}");
    assert!(
        !log.contains(REFRESH_TOKEN),
        "the refresh token is never logged"
    );
}

#[tokio::test]
async fn a_job_charges_its_owners_wallet_each_interval_and_stops_on_payment_required() {
    let s = setup("").await;
    use reqwest::Method;
    let alice = WalletOwner::Username("alice".into());
    s.gateway.grant(alice.clone(), 25);
    let spec =
        json!({"name": "e2e", "durationSecs": 60, "unitsPerInterval": 10, "intervalSecs": 1});
    let submitted = s
        .call(Method::POST, "compute/docker/jobs", "alice", None)
        .json(&spec)
        .send()
        .await
        .expect("answer");
    assert_eq!(submitted.status(), StatusCode::CREATED);
    let job: Value = submitted.json().await.expect("json");
    assert_eq!(job["state"], "running");
    let id = job["id"].as_str().expect("an id").to_owned();

    let stopped = wait_for("the job to stop", Duration::from_secs(30), || async {
        let job: Value = s
            .call(
                Method::GET,
                &format!("compute/docker/jobs/{id}"),
                "alice",
                None,
            )
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (job["state"] != "running").then_some(job)
    })
    .await;
    assert_eq!(stopped["status"], "stopped: insufficient funds (balance 5)");
    assert_eq!(stopped["unitsCharged"], 20);
    assert_eq!(s.gateway.balance(&alice), 5);
    let log = s
        .call(
            Method::GET,
            &format!("compute/docker/logs/{id}"),
            "alice",
            None,
        )
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("text");
    assert!(
        log.contains("interval 2 of 60: charged 10 units, balance 5"),
        "{log}"
    );

    let broke = s
        .call(Method::POST, "compute/docker/jobs", "alice", Some("p1"))
        .json(&spec)
        .send()
        .await
        .expect("answer");
    assert_eq!(broke.status(), StatusCode::PAYMENT_REQUIRED);
    let problem: Value = broke.json().await.expect("a problem");
    assert_eq!(
        (problem["code"].as_str(), problem["balance"].as_i64()),
        (Some("insufficientFunds"), Some(0))
    );
    let theirs = s
        .call(
            Method::GET,
            &format!("compute/docker/jobs/{id}"),
            "bob",
            None,
        )
        .send()
        .await
        .expect("answer");
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
}
