//! `provider-kit accounts policy preview|apply` and `accounts export --format quarantine` as an
//! operator runs them, on a mapping store made through the public API.

use std::sync::Arc;

use provider_kit::auth::SystemClock;
use provider_kit::client::ClientError;
use provider_kit::protocol::{MappingReport, MappingReportAnswer};
use provider_kit::usermap::{
    Accounts, AccountsConfig, MappingReporter, MappingStore, ReportFuture, STORE_FILE,
    UsernamePolicy,
};

use crate::support::process::{TempDir, run};
use crate::support::signing::principal;

struct Offline;

impl MappingReporter for Offline {
    fn report<'a>(&'a self, _: &'a MappingReport) -> ReportFuture<'a> {
        Box::pin(async { Err::<MappingReportAnswer, _>(ClientError::Transport("offline".into())) })
    }
}

#[tokio::test]
async fn an_operator_previews_then_applies_a_policy_and_sees_the_quarantine() {
    let dir = TempDir::new("policy-cli");
    let store = MappingStore::open(&dir.join(STORE_FILE))
        .await
        .expect("store");
    let config = AccountsConfig {
        policy: UsernamePolicy::GatewayUsername,
        ..AccountsConfig::default()
    };
    let accounts =
        Accounts::new(config, store, Arc::new(SystemClock), Arc::new(Offline)).expect("config");
    for username in ["dan1", "dan2", "gone"] {
        accounts
            .ensure_for(&principal(username))
            .await
            .expect("account");
    }
    accounts.remove("gone").await.expect("removed");
    accounts.store().close().await;
    let data_dir = dir.0.to_str().expect("utf-8");

    let args = [
        "accounts",
        "policy",
        "preview",
        "--policy",
        "fullName",
        "--data-dir",
        data_dir,
    ];
    let (ok, stdout, stderr) = run(&args, &[]).await;
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout,
        "policy fullName: 2 accounts, 2 renamed, 1 collisions\n\
         dan1 → dan_thrane_01 (uid 20000)\n\
         dan2 → dan_thrane_02 (uid 20001) collision: dan_thrane_01 is taken\n"
    );
    let (ok, again, _) = run(&args, &[]).await;
    assert!(ok && again == stdout, "a preview changes nothing");

    let apply = [
        "accounts",
        "policy",
        "apply",
        "--policy",
        "fullName",
        "--data-dir",
        data_dir,
    ];
    let (ok, applied, stderr) = run(&apply, &[]).await;
    assert!(ok, "{stderr}");
    assert_eq!(applied, stdout);
    assert!(
        stderr.contains("renamed 2") && stderr.contains("2 not yet reported"),
        "{stderr}"
    );

    let export = ["accounts", "export", "--data-dir", data_dir];
    let (ok, passwd, _) = run(&export, &[]).await;
    assert!(ok);
    assert!(passwd.starts_with("dan_thrane_01:x:20000:"), "{passwd}");
    let ledger = [
        "accounts",
        "export",
        "--format",
        "quarantine",
        "--data-dir",
        data_dir,
    ];
    let (ok, held, _) = run(&ledger, &[]).await;
    assert!(ok);
    assert!(held.starts_with("gone:20002:20002:"), "{held}");

    let bad = [
        "accounts",
        "policy",
        "preview",
        "--policy",
        "nonsense",
        "--data-dir",
        data_dir,
    ];
    let (ok, _, stderr) = run(&bad, &[]).await;
    assert!(!ok && stderr.contains("identityClaim"), "{stderr}");
}
