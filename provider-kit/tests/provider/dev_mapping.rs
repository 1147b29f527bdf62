//! The dev provider maps each brokered user to a local account (SPEC §4): refused with `403` until
//! they connect when the manifest requires explicit mapping; made with the username policy (and
//! reported) on first sight when it does not; storage lives under the local account's folder, and
//! `provider-kit accounts export` prints the accounts as passwd lines.

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::dev::{REPO_MANIFEST, Setup, setup, start};
use crate::support::process::{TempDir, run};

/// An HPC-like provider: accounts must be connected explicitly.
pub const EXPLICIT: &str = "users:\n  requireExplicitMapping: true\nfeatures:\n  storage: { enabled: true }\n  compute: { docker: { enabled: true, batch: true } }\n";

/// `EXPLICIT` as a file in `dir`.
pub fn explicit_manifest(dir: &TempDir) -> std::path::PathBuf {
    let path = dir.join("explicit.manifest.yaml");
    std::fs::write(&path, EXPLICIT).expect("manifest");
    path
}

/// Uploads `name` as `user` and returns the listing's `localAccount`.
async fn upload_as(s: &Setup, user: &str, name: &str) -> String {
    let put = s
        .call(Method::PUT, &format!("storage/files/{name}"), user, None)
        .body("hello")
        .send()
        .await
        .expect("answer");
    assert_eq!(put.status(), StatusCode::CREATED, "{user}");
    let listing: Value = s
        .call(Method::GET, "storage/files", user, None)
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(listing["username"], user);
    listing["localAccount"]
        .as_str()
        .expect("a local account")
        .to_owned()
}

/// `provider-kit accounts export --format passwd --data-dir {dir}/data`.
pub async fn export(s: &Setup) -> Vec<String> {
    let data = s.dir.join("data");
    let data = data.to_str().expect("UTF-8 path");
    let args = [
        "accounts",
        "export",
        "--format",
        "passwd",
        "--data-dir",
        data,
    ];
    let (ok, stdout, stderr) = run(&args, &[]).await;
    assert!(ok, "{stderr}");
    stdout.lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn an_unmapped_user_of_an_explicit_manifest_is_told_to_connect_at_the_gateway() {
    let manifests = TempDir::new("explicit");
    let s = start(&explicit_manifest(&manifests), "", &[]).await;
    let listing = s
        .call(Method::GET, "storage/files", "alice", None)
        .send()
        .await
        .expect("answer");
    assert_eq!(listing.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        listing.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = listing.json().await.expect("a problem");
    assert_eq!(problem["code"], "connectionRequired", "{problem}");
    let detail = problem["detail"].as_str().expect("a detail");
    assert!(detail.contains("connect one at the gateway"), "{detail}");

    let spec = serde_json::json!({"durationSecs": 1, "unitsPerInterval": 1, "intervalSecs": 1});
    let job = s
        .call(Method::POST, "compute/docker/jobs", "alice", None)
        .json(&spec)
        .send()
        .await
        .expect("answer");
    assert_eq!(
        job.status(),
        StatusCode::FORBIDDEN,
        "no job without an account"
    );
    let upload = s
        .call(Method::PUT, "storage/files/a.txt", "alice", Some("p1"))
        .body("x")
        .send()
        .await
        .expect("answer");
    assert_eq!(upload.status(), StatusCode::FORBIDDEN, "nor in a project");
    assert!(!s.dir.join("data/storage").exists(), "no folder was made");
    assert!(!s.dir.join("data/projects").exists(), "no folder was made");
    assert!(s.gateway.reports().is_empty(), "nothing was reported");
    assert!(export(&s).await.is_empty(), "no account was made");
}

#[tokio::test]
async fn an_unmapped_user_of_an_implicit_manifest_gets_an_account_by_the_policy_and_storage_under_it()
 {
    // The default policy, fullName: the fake gateway's users are all "Dan Sebastian Thrane".
    let s = setup("").await;
    assert_eq!(upload_as(&s, "alice", "a.txt").await, "dan_thrane_01");
    assert_eq!(upload_as(&s, "bob", "b.txt").await, "dan_thrane_02");
    assert_eq!(upload_as(&s, "alice", "c.txt").await, "dan_thrane_01");
    let data = s.dir.join("data/storage");
    assert!(data.join("dan_thrane_01/a.txt").is_file());
    assert!(data.join("dan_thrane_01/c.txt").is_file());
    assert!(data.join("dan_thrane_02/b.txt").is_file());

    let reports = s.gateway.reports();
    let reported: Vec<(&str, &str, &Value)> = reports
        .iter()
        .map(|r| {
            let report = &r["report"];
            let text = |key: &str| report[key].as_str().expect("text");
            let (username, account) = (text("username"), text("localIdentity"));
            (username, account, &report["nonce"])
        })
        .collect();
    assert_eq!(
        reported,
        [
            ("alice", "dan_thrane_01", &Value::Null),
            ("bob", "dan_thrane_02", &Value::Null)
        ],
        "each new account reported once, without a nonce"
    );
    assert_eq!(
        export(&s).await,
        [
            "dan_thrane_01:x:20000:20000:Dan Sebastian Thrane:/home/dan_thrane_01:/bin/bash",
            "dan_thrane_02:x:20001:20001:Dan Sebastian Thrane:/home/dan_thrane_02:/bin/bash",
        ]
    );

    // A project's request works in the project's folder, still as a mapped user.
    let project = s
        .call(Method::PUT, "storage/files/p.txt", "alice", Some("p1"))
        .body("x")
        .send()
        .await
        .expect("answer");
    assert_eq!(project.status(), StatusCode::CREATED);
    assert!(s.dir.join("data/projects/p1/p.txt").is_file());
}

#[tokio::test]
async fn the_username_policy_and_id_ranges_come_from_the_flag_and_the_accounts_section() {
    let s = start(
        Path::new(REPO_MANIFEST),
        "accounts: {policy: anonymized, uid_range: {min: 30000, max: 30009}, home_prefix: /data/home}\n",
        &["--username-policy", "emailLocalPart"],
    )
    .await;
    assert_eq!(upload_as(&s, "alice", "a.txt").await, "dan");
    assert_eq!(upload_as(&s, "bob", "b.txt").await, "dan_01");
    assert!(s.dir.join("data/storage/dan_01/b.txt").is_file());
    let lines = export(&s).await;
    assert_eq!(
        lines.first().map(String::as_str),
        Some("dan:x:30000:20000:Dan Sebastian Thrane:/data/home/dan:/bin/bash")
    );

    let missing = TempDir::new("no-store");
    let dir = missing.0.to_str().expect("UTF-8 path");
    let (ok, _, stderr) = run(&["accounts", "export", "--data-dir", dir], &[]).await;
    assert!(!ok);
    assert!(stderr.contains("no mapping store at"), "{stderr}");
    assert!(
        !missing.join("usermap.db").exists(),
        "export makes no empty store"
    );
}
