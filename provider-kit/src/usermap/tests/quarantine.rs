//! The quarantine ledger: a removed account's name and uid go to nobody — not its old user coming
//! back, not a namesake, not an operator's link — until `quarantine_days` have passed; the export
//! shows the ledger.

use std::sync::Arc;

use super::support::{RecordingGateway, principal, store};
use crate::auth::tests::kit;
use crate::auth::{Clock as _, ManualClock};
use crate::usermap::{
    AccountError, Accounts, AccountsConfig, AutoAccount, ExportFormat, export_accounts_at,
};

fn name_of(outcome: Result<AutoAccount, AccountError>) -> (String, u32) {
    match outcome.expect("account") {
        AutoAccount::Created(m) | AutoAccount::Existing(m) => (m.account.name, m.account.uid),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_removed_account_keeps_its_name_and_uid_from_everyone_until_the_quarantine_ends() {
    let (store, file) = store().await;
    let clock = Arc::new(ManualClock::new(kit::NOW));
    let config = AccountsConfig {
        quarantine_days: 30,
        ..AccountsConfig::default()
    };
    let accounts = Accounts::new(
        config,
        store,
        clock.clone(),
        Arc::new(RecordingGateway::default()),
    )
    .expect("config");
    let ase = principal("ase#1", "Åse", "Ødegård", "");
    let (first, first_uid) = name_of(accounts.ensure_for(&ase).await);
    assert_eq!(first, "ase_odegard_01");

    let entry = accounts.remove(&first).await.expect("removed");
    assert_eq!(
        (entry.uid, entry.until),
        (first_uid, kit::NOW + 30 * 86_400)
    );
    assert!(
        accounts
            .store()
            .mapping("ase#1")
            .await
            .expect("read")
            .is_none()
    );
    assert!(matches!(
        accounts.remove(&first).await,
        Err(AccountError::NoSuchAccount(_))
    ));

    // The same user coming back, and a namesake, get other names and uids.
    let (again, again_uid) = name_of(accounts.ensure_for(&ase).await);
    let namesake = principal("ase#2", "Åse", "Ødegård", "");
    let (other, other_uid) = name_of(accounts.ensure_for(&namesake).await);
    assert_eq!(
        (again.as_str(), other.as_str()),
        ("ase_odegard_02", "ase_odegard_03")
    );
    assert!(again_uid != first_uid && other_uid != first_uid);
    // An operator cannot hand the name out by hand either.
    match accounts.link("kim#3", &first, "Kim Lee").await {
        Err(AccountError::Quarantined { name, until }) => {
            assert_eq!((name.as_str(), until), ("ase_odegard_01", entry.until));
        }
        other => panic!("{other:?}"),
    }

    let mut out = Vec::new();
    let held = export_accounts_at(
        accounts.store(),
        ExportFormat::Quarantine,
        clock.now_unix(),
        &mut out,
    )
    .await
    .expect("export");
    let text = String::from_utf8(out).expect("utf-8");
    assert_eq!(held, 1);
    assert!(
        text.starts_with(&format!("ase_odegard_01:{first_uid}:")),
        "{text}"
    );
    let mut json = Vec::new();
    export_accounts_at(
        accounts.store(),
        ExportFormat::Json,
        clock.now_unix(),
        &mut json,
    )
    .await
    .expect("export");
    let json: serde_json::Value = serde_json::from_slice(&json).expect("json");
    assert_eq!(json["accounts"].as_array().map(Vec::len), Some(2));
    assert_eq!(json["quarantine"][0]["name"], "ase_odegard_01");
    assert_eq!(json["quarantine"][0]["createdFor"], "ase#1");

    // doctor shows the same ledger.
    let check = crate::doctor::quarantine(&file.0, clock.now_unix()).await;
    assert_eq!(check.status, crate::doctor::Status::Pass);
    assert_eq!(check.summary, "1 removed account's name and ids are held");
    assert!(
        check.notes[0].starts_with("ase_odegard_01:"),
        "{:?}",
        check.notes
    );
    let missing =
        crate::doctor::quarantine(std::path::Path::new("/nonexistent/usermap.db"), 0).await;
    assert_eq!(missing.status, crate::doctor::Status::Fail);

    // After the quarantine the name is free again; the uid counter still never goes back.
    clock.advance(30 * 86_400);
    let newcomer = principal("ase#4", "Åse", "Ødegård", "");
    let (freed, freed_uid) = name_of(accounts.ensure_for(&newcomer).await);
    assert_eq!(freed, "ase_odegard_01");
    assert_ne!(freed_uid, first_uid);
    let mut out = Vec::new();
    let held = export_accounts_at(
        accounts.store(),
        ExportFormat::Quarantine,
        clock.now_unix(),
        &mut out,
    )
    .await
    .expect("export");
    assert_eq!(held, 0);
}
