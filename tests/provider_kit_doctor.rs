//! `provider-kit doctor` against the real `gateway` binary: a registered dev provider that is not
//! running yet fails only the reachability check (and the command exits non-zero); once
//! `provider-kit serve` runs, every check passes, and `--json` says the same to a script.

use e2e::process::Gateway;
use e2e::provider::{DevProvider, output, provider_kit, register};
use e2e::{TempDir, free_port};
use serde_json::Value;
use std::path::Path;

fn line<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{text}"))
}

#[tokio::test]
async fn doctor_fails_until_the_provider_serves_and_then_passes_every_check() {
    let gateway = Gateway::new(None);
    gateway.run(
        &[
            "users",
            "create",
            "alice",
            "--email",
            "alice@example.org",
            "--first-name",
            "Alice",
            "--last-name",
            "User",
        ],
        "",
    );
    let alice = gateway.run(&["tokens", "create", "alice", "--name", "e2e"], "");
    let _server = gateway.serve().await;

    let work = TempDir::new("pk-doctor");
    let port = free_port();
    let metadata = work.0.join("dev.yaml");
    let metadata_text =
        format!("id: dev\ndomain: 127.0.0.1\nhttps: false\nport: {port}\nenv: test\n");
    std::fs::write(&metadata, metadata_text).expect("metadata");
    let token_file = work.0.join("alice.token");
    std::fs::write(&token_file, alice.trim()).expect("token file");
    let credentials = work.0.join("dev.json");
    let credentials_arg = credentials.to_str().expect("UTF-8 path");
    let registered = register(&gateway, &metadata, &token_file, &credentials);
    assert!(registered.status.success(), "{}", output(&registered));

    // Registered but not running: the gateway cannot fetch the manifest.
    let early = provider_kit(&["doctor", "--credentials", credentials_arg]);
    let early_text = output(&early);
    assert!(!early.status.success(), "{early_text}");
    for passed in [
        "PASS  credentials file",
        "PASS  refresh token",
        "PASS  gateway JWKS",
        "PASS  clock skew",
    ] {
        line(&early_text, passed);
    }
    line(&early_text, "FAIL  gateway → provider");
    assert!(
        early_text.contains("→ is the provider running (`provider-kit serve`)"),
        "{early_text}"
    );

    // Serving: everything passes.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/dev.manifest.yaml");
    let _provider =
        DevProvider::serve(&credentials, &manifest, &work.0.join("data"), port, "dev").await;
    let healthy = provider_kit(&["doctor", "--credentials", credentials_arg]);
    let healthy_text = output(&healthy);
    assert!(healthy.status.success(), "{healthy_text}");
    assert!(
        line(&healthy_text, "PASS  manifest").contains("the gateway parsed the manifest"),
        "{healthy_text}"
    );
    assert!(
        healthy_text.contains("as the gateway parsed it: {"),
        "{healthy_text}"
    );
    line(&healthy_text, "PASS  gateway → provider");
    assert!(
        healthy_text.contains(", 0 failed, 0 skipped"),
        "{healthy_text}"
    );

    let json = provider_kit(&["doctor", "--credentials", credentials_arg, "--json"]);
    assert!(json.status.success(), "{}", output(&json));
    let report: Value = serde_json::from_slice(&json.stdout).expect("JSON on stdout");
    assert_eq!(report["ok"], true);
    let skew = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == "clockSkew")
        .expect("a skew check");
    assert_eq!(skew["status"], "pass", "{skew}");
    assert!(
        skew["details"]["tokenIat"].is_i64(),
        "the gateway's token has an iat: {skew}"
    );
    assert!(
        skew["details"]["dateHeader"].is_i64(),
        "the gateway sends Date: {skew}"
    );
}
