//! The implicit flow's accounts (reports, retries, `serviceProvider`, unlink), an operator's link,
//! the passwd export and the file of local users.

use std::sync::atomic::Ordering;

use super::support::{PASSWORD, TempFile, accounts, principal};
use crate::protocol::{MappingReport, ReportedState};
use crate::usermap::{
    AccountError, AccountsConfig, AutoAccount, ExportFormat, FileAuthenticator, FlowSettings,
    LocalAuthenticator, MappingStore, UsernamePolicy, export_accounts, hash_password,
};

#[tokio::test]
async fn a_first_request_makes_an_account_and_reports_it_without_a_nonce() {
    let fixture = accounts(AccountsConfig::default()).await;
    let dan = principal(
        "DanSebastianThrane#1234",
        "Dan Sebastian",
        "Thrane",
        "dan@sdu.dk",
    );
    let AutoAccount::Created(mapping) = fixture.accounts.ensure_for(&dan).await.expect("account")
    else {
        panic!("not created");
    };
    assert_eq!(mapping.account.name, "dan_thrane_01");
    assert_eq!(mapping.account.home, "/home/dan_thrane_01");
    assert_eq!(mapping.account.gecos, "Dan Sebastian Thrane");
    assert_eq!((mapping.account.uid, mapping.account.gid), (20_000, 20_000));
    assert!(mapping.reported_at.is_some());
    assert_eq!(
        fixture.gateway.reports(),
        [MappingReport::implicit(
            "DanSebastianThrane#1234",
            "dan_thrane_01"
        )]
    );
    let again = fixture.accounts.ensure_for(&dan).await.expect("account");
    assert!(matches!(again, AutoAccount::Existing(m) if m.account.name == "dan_thrane_01"));
    assert_eq!(
        fixture.gateway.reports().len(),
        1,
        "an existing, reported mapping is not reported again"
    );
}

#[tokio::test]
async fn a_report_the_gateway_did_not_take_is_sent_again_on_the_next_request() {
    let fixture = accounts(AccountsConfig::default()).await;
    let ada = principal("ada", "Ada", "Lovelace", "");
    fixture.gateway.failing.store(true, Ordering::SeqCst);
    let AutoAccount::Created(first) = fixture.accounts.ensure_for(&ada).await.expect("account")
    else {
        panic!("not created");
    };
    assert_eq!(first.reported_at, None);
    fixture.gateway.failing.store(false, Ordering::SeqCst);
    let AutoAccount::Existing(second) = fixture.accounts.ensure_for(&ada).await.expect("account")
    else {
        panic!("not existing");
    };
    assert_eq!(second.account, first.account);
    assert!(second.reported_at.is_some());
    assert_eq!(fixture.gateway.reports().len(), 1);
}

#[tokio::test]
async fn the_service_provider_policy_reports_pending_account_linking_and_makes_nothing_until_linked()
 {
    let config = AccountsConfig {
        policy: UsernamePolicy::ServiceProvider,
        pending_comment_url: Some("https://hpc.example.org/apply".into()),
        ..AccountsConfig::default()
    };
    let fixture = accounts(config).await;
    let ada = principal("ada#7", "Ada", "Lovelace", "");
    let outcome = fixture.accounts.ensure_for(&ada).await.expect("outcome");
    assert_eq!(outcome, AutoAccount::PendingLinking { reported: true });
    let reports = fixture.gateway.reports();
    assert_eq!(reports[0].state, ReportedState::PendingAccountLinking);
    assert_eq!(reports[0].nonce, None);
    assert!(reports[0].comment.as_deref().is_some_and(|c| !c.is_empty()));
    assert_eq!(
        reports[0].comment_url.as_deref(),
        Some("https://hpc.example.org/apply")
    );
    assert!(
        fixture
            .accounts
            .store()
            .accounts()
            .await
            .expect("accounts")
            .is_empty()
    );

    let linked = fixture
        .accounts
        .link("ada#7", "alovelace", "Ada Lovelace")
        .await
        .expect("link");
    assert_eq!(
        (linked.account.name.as_str(), linked.account.uid),
        ("alovelace", 20_000)
    );
    assert_eq!(
        fixture.gateway.reports()[1],
        MappingReport::implicit("ada#7", "alovelace")
    );
    let now = fixture.accounts.ensure_for(&ada).await.expect("outcome");
    assert!(matches!(now, AutoAccount::Existing(m) if m.account.name == "alovelace"));
}

#[tokio::test]
async fn a_link_refuses_a_remap_and_an_account_that_belongs_to_someone_else() {
    let fixture = accounts(AccountsConfig::default()).await;
    fixture
        .accounts
        .link("ada", "alovelace", "Ada Lovelace")
        .await
        .expect("link");
    let remap = fixture
        .accounts
        .link("ada", "other", "Ada")
        .await
        .expect_err("remap");
    assert!(
        matches!(remap, AccountError::AlreadyConnected(ref a) if a == "alovelace"),
        "{remap:?}"
    );
    let taken = fixture
        .accounts
        .link("eve", "alovelace", "Eve")
        .await
        .expect_err("taken");
    assert!(matches!(taken, AccountError::AccountTaken(_)), "{taken:?}");
    let invalid = fixture
        .accounts
        .link("eve", "Root:0", "Eve")
        .await
        .expect_err("invalid");
    assert!(
        matches!(invalid, AccountError::InvalidName(_)),
        "{invalid:?}"
    );
    fixture
        .accounts
        .link("ada", "alovelace", "Ada Lovelace")
        .await
        .expect("the same pair again is fine");
}

#[tokio::test]
async fn an_unlinked_user_gets_their_own_account_back_on_the_next_request() {
    let fixture = accounts(AccountsConfig::default()).await;
    let ada = principal("ada", "Ada", "Lovelace", "");
    let AutoAccount::Created(first) = fixture.accounts.ensure_for(&ada).await.expect("account")
    else {
        panic!("not created");
    };
    assert!(fixture.accounts.unlink("ada").await.expect("unlink"));
    assert!(
        !fixture.accounts.unlink("ada").await.expect("unlink"),
        "unlinking twice finds nothing"
    );
    let AutoAccount::Created(second) = fixture.accounts.ensure_for(&ada).await.expect("account")
    else {
        panic!("not created");
    };
    assert_eq!(second.account, first.account);
}

#[tokio::test]
async fn the_passwd_export_writes_one_line_per_account_by_uid() {
    let fixture = accounts(AccountsConfig::default()).await;
    for (username, first, last) in [("a", "Åse", "Ødegård"), ("b", "Дмитрий", "Шостакович")]
    {
        fixture
            .accounts
            .ensure_for(&principal(username, first, last, ""))
            .await
            .expect("account");
    }
    let mut out = Vec::new();
    let count = export_accounts(fixture.accounts.store(), ExportFormat::Passwd, &mut out)
        .await
        .expect("export");
    assert_eq!(count, 2);
    assert_eq!(
        String::from_utf8(out).expect("UTF-8"),
        "ase_odegard_01:x:20000:20000:Ase Odegard:/home/ase_odegard_01:/bin/bash\n\
         dmitrii_shostakovich_01:x:20001:20001:Dmitrii Shostakovich:/home/dmitrii_shostakovich_01:/bin/bash\n"
    );
    assert_eq!("passwd".parse::<ExportFormat>(), Ok(ExportFormat::Passwd));
    assert!("shadow".parse::<ExportFormat>().is_err());
}

#[tokio::test]
async fn the_users_file_accepts_the_right_password_only_and_hashes_are_argon2id() {
    let hash = hash_password(PASSWORD).expect("hash");
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(hash_password("short").is_err());
    let file = TempFile::new("yaml");
    std::fs::write(
        &file.0,
        format!("users:\n  - username: alice\n    password_hash: \"{hash}\"\n"),
    )
    .expect("write");
    let users = FileAuthenticator::new(&file.0).expect("users");
    let alice = users.authenticate("alice", PASSWORD).await.expect("answer");
    assert_eq!(
        alice.map(|i| i.account().to_owned()).as_deref(),
        Some("alice")
    );
    assert_eq!(
        users
            .authenticate("alice", "wrong password")
            .await
            .expect("answer"),
        None
    );
    assert_eq!(
        users
            .authenticate("mallory", PASSWORD)
            .await
            .expect("answer"),
        None
    );

    for bad in [
        "users:\n  - username: Alice\n    password_hash: x\n".to_owned(),
        format!("users:\n  - username: alice\n    password_hash: \"{hash}\"\n    admin: true\n"),
        "users:\n  - username: alice\n    password_hash: plain-text\n".to_owned(),
    ] {
        std::fs::write(&file.0, &bad).expect("write");
        assert!(FileAuthenticator::new(&file.0).is_err(), "{bad}");
    }
    let broken = users.authenticate("alice", PASSWORD).await;
    assert!(
        broken.is_err(),
        "a broken file is an outage, not a wrong password"
    );
}

#[tokio::test]
async fn an_export_from_a_store_that_does_not_exist_is_an_error_not_an_empty_list() {
    let missing = TempFile::new("db");
    let error = MappingStore::open_existing(&missing.0)
        .await
        .expect_err("missing");
    assert!(error.to_string().contains("no mapping store at"), "{error}");
    assert!(!missing.0.exists(), "nothing was created");
}

#[test]
fn flow_settings_read_from_yaml_refuse_unknown_keys() {
    let settings: FlowSettings =
        serde_yaml::from_str("display_name: HPC\nsecure_cookies: true\n").expect("valid");
    assert!(settings.secure_cookies);
    assert_eq!(settings.max_attempt_secs, 900);
    assert!(serde_yaml::from_str::<FlowSettings>("secure_cookie: true\n").is_err());
}
