//! The LDAP backend against a real `slapd`: accounts land as `posixAccount`/`posixGroup` entries,
//! names and ids already in the directory (made by someone else) are never handed out, and two
//! providers creating accounts at once in one directory never share a name, uid or gid.

use std::collections::HashSet;
use std::sync::Arc;

use super::slapd::{BASE, Slapd};
use super::support::{RecordingGateway, TempFile, principal, store};
use crate::auth::ManualClock;
use crate::auth::tests::kit;
use crate::usermap::{
    AccountError, Accounts, AccountsConfig, AutoAccount, BackendConfig, BackendKind, IdRange,
    LdapConfig, Mapping, PrimaryGroup,
};

struct LdapAccounts {
    accounts: Accounts,
    _file: TempFile,
}

async fn ldap_accounts(ldap: LdapConfig, tweak: impl FnOnce(&mut AccountsConfig)) -> LdapAccounts {
    let (store, file) = store().await;
    let mut config = AccountsConfig {
        uid_range: IdRange {
            min: 20_000,
            max: 20_999,
        },
        gid_range: IdRange {
            min: 20_000,
            max: 20_999,
        },
        backend: BackendConfig::Ldap(ldap),
        ..AccountsConfig::default()
    };
    tweak(&mut config);
    let clock = Arc::new(ManualClock::new(kit::NOW));
    let gateway = Arc::new(RecordingGateway::default());
    let accounts = Accounts::new(config, store, clock, gateway).expect("valid config");
    assert_eq!(accounts.backend().kind(), BackendKind::Ldap);
    LdapAccounts {
        accounts,
        _file: file,
    }
}

fn mapping(outcome: Result<AutoAccount, AccountError>) -> Mapping {
    match outcome.expect("account") {
        AutoAccount::Created(mapping) | AutoAccount::Existing(mapping) => mapping,
        other => panic!("{other:?}"),
    }
}

fn first(entry: &ldap3::SearchEntry, attr: &str) -> String {
    entry
        .attrs
        .get(attr)
        .and_then(|v| v.first())
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn an_automatic_account_skips_names_and_ids_the_directory_already_holds() {
    let slapd = Slapd::start().await;
    // Made by the site, not by provider-kit, in two places of the tree.
    slapd
        .seed_account("admins", "ase_odegard_01", 20_000, 20_000)
        .await;
    slapd.seed_group("ase_odegard_02", 20_001).await;
    slapd
        .seed_account("people", "someone", 20_002, 20_002)
        .await;
    let fixture = ldap_accounts(slapd.config(), |_| {}).await;

    let who = principal("ase#1", "Åse", "Ødegård", "ase@example.org");
    let account = mapping(fixture.accounts.ensure_for(&who).await).account;

    assert_eq!(account.name, "ase_odegard_03");
    assert_eq!(
        account.uid, 20_001,
        "20000 and 20002 are uidNumbers already"
    );
    assert_eq!(account.gid, 20_003, "20000-20002 are gidNumbers already");
    let users = slapd.search("(uid=ase_odegard_03)").await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].dn, format!("uid=ase_odegard_03,ou=people,{BASE}"));
    assert_eq!(first(&users[0], "uidNumber"), "20001");
    assert_eq!(first(&users[0], "gidNumber"), "20003");
    assert_eq!(first(&users[0], "homeDirectory"), "/home/ase_odegard_03");
    assert_eq!(first(&users[0], "gecos"), "Ase Odegard");
    let groups = slapd
        .search("(&(objectClass=posixGroup)(cn=ase_odegard_03))")
        .await;
    assert_eq!(first(&groups[0], "gidNumber"), "20003");
    // The same user again is the same account, nothing new in the directory.
    let again = mapping(fixture.accounts.ensure_for(&who).await).account;
    assert_eq!(again, account);
    assert_eq!(slapd.search("(objectClass=posixAccount)").await.len(), 3);
    // `accounts export` sees it.
    let exported = fixture.accounts.store().accounts().await.expect("accounts");
    assert_eq!(exported, vec![account]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_providers_creating_namesakes_at_once_in_one_directory_share_no_name_uid_or_gid() {
    let slapd = Slapd::start().await;
    slapd
        .seed_account("admins", "ase_odegard_02", 20_003, 20_003)
        .await;
    let providers = [
        ldap_accounts(slapd.config(), |_| {}).await,
        ldap_accounts(slapd.config(), |_| {}).await,
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..24 {
        let accounts = providers[n % 2].accounts.clone();
        tasks.spawn(async move {
            let who = principal(&format!("user{n}#{n}"), "Åse", "Ødegård", "");
            accounts.ensure_for(&who).await
        });
    }
    let mut made = Vec::new();
    while let Some(done) = tasks.join_next().await {
        made.push(mapping(done.expect("task")).account);
    }
    let names: HashSet<_> = made.iter().map(|a| a.name.clone()).collect();
    let uids: HashSet<_> = made.iter().map(|a| a.uid).collect();
    let gids: HashSet<_> = made.iter().map(|a| a.gid).collect();
    assert_eq!((names.len(), uids.len(), gids.len()), (24, 24, 24));
    assert!(!names.contains("ase_odegard_02"));
    assert!(!uids.contains(&20_003) && !gids.contains(&20_003));
    assert!(
        uids.iter()
            .chain(&gids)
            .all(|&id| (20_000..=20_999).contains(&id))
    );
    let in_directory = slapd.search("(objectClass=posixAccount)").await;
    assert_eq!(in_directory.len(), 25, "24 made, 1 seeded, no leftovers");
    let numbers: HashSet<_> = in_directory.iter().map(|e| first(e, "uidNumber")).collect();
    assert_eq!(numbers.len(), 25);
}

#[tokio::test]
async fn an_account_the_directory_holds_is_linked_as_it_is_and_a_shared_primary_group_is_used() {
    let slapd = Slapd::start().await;
    slapd.seed_account("people", "dthrane", 20_500, 100).await;
    let fixture = ldap_accounts(slapd.config(), |config| {
        config.primary_group = Some(PrimaryGroup { gid: 5_000 });
    })
    .await;

    let linked = fixture
        .accounts
        .link("dan#1", "dthrane", "Dan Thrane")
        .await
        .expect("link");
    assert_eq!((linked.account.uid, linked.account.gid), (20_500, 100));
    assert_eq!(slapd.search("(objectClass=posixAccount)").await.len(), 1);

    let who = principal("kim#2", "Kim", "Lee", "");
    let made = mapping(fixture.accounts.ensure_for(&who).await).account;
    assert_eq!((made.name.as_str(), made.gid), ("kim_lee_01", 5_000));
    assert!(
        slapd
            .search("(&(objectClass=posixGroup)(cn=kim_lee_01))")
            .await
            .is_empty(),
        "no group of its own"
    );
}

#[tokio::test]
async fn a_wrong_bind_password_is_an_account_error_naming_the_bind_and_makes_nothing() {
    let slapd = Slapd::start().await;
    let wrong = TempFile::new("pw");
    std::fs::write(&wrong.0, "wrong\n").expect("file");
    let config = LdapConfig {
        bind_password_file: wrong.0.clone(),
        ..slapd.config()
    };
    let fixture = ldap_accounts(config, |_| {}).await;
    let who = principal("ase#1", "Åse", "Ødegård", "");
    match fixture.accounts.ensure_for(&who).await {
        Err(AccountError::Backend(message)) => assert!(message.contains("bind"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert!(
        fixture
            .accounts
            .store()
            .accounts()
            .await
            .expect("accounts")
            .is_empty()
    );
    assert!(slapd.search("(objectClass=posixAccount)").await.is_empty());
}

#[test]
fn an_ldap_section_is_read_from_yaml_and_a_bad_url_is_refused() {
    let config = AccountsConfig::from_yaml(
        "backend:\n  ldap:\n    url: ldap://ldap.example.org\n    starttls: true\n    \
         base_dn: dc=example,dc=org\n    bind_dn: cn=provider,dc=example,dc=org\n    bind_password_file: /etc/provider/ldap.pw\n",
    )
    .expect("valid");
    let BackendConfig::Ldap(ldap) = &config.backend else {
        panic!("{:?}", config.backend);
    };
    assert_eq!(ldap.people_dn(), "ou=people,dc=example,dc=org");
    let bad = AccountsConfig::from_yaml(
        "backend:\n  ldap:\n    url: http://x\n    base_dn: dc=x\n    bind_dn: cn=x\n    \
         bind_password_file: /x\n",
    )
    .expect_err("bad url");
    assert!(bad.contains("ldap://"), "{bad}");
    let clear = AccountsConfig::from_yaml(
        "backend:\n  ldap:\n    url: ldap://ldap.example.org\n    base_dn: dc=x\n    bind_dn: cn=x\n    \
         bind_password_file: /x\n",
    )
    .expect_err("a bind password in clear");
    assert!(clear.contains("starttls"), "{clear}");
    let default = AccountsConfig::from_yaml("backend: sqlite\n").expect("sqlite");
    assert_eq!(default.backend, BackendConfig::Sqlite);
    let typo = AccountsConfig::from_yaml("backend:\n  ldap:\n    uri: ldap://x\n")
        .expect_err("unknown key");
    assert!(typo.contains("unknown field"), "{typo}");
}

#[tokio::test]
async fn a_removed_directory_account_is_deleted_with_its_group_and_its_name_and_ids_stay_held() {
    let slapd = Slapd::start().await;
    let fixture = ldap_accounts(slapd.config(), |_| {}).await;
    let ase = principal("ase#1", "Åse", "Ødegård", "");
    let first = mapping(fixture.accounts.ensure_for(&ase).await).account;
    let entry = fixture.accounts.remove(&first.name).await.expect("removed");
    assert_eq!(entry.name, first.name);
    assert!(slapd.search("(uid=ase_odegard_01)").await.is_empty());
    assert!(slapd.search("(cn=ase_odegard_01)").await.is_empty());

    let again = mapping(fixture.accounts.ensure_for(&ase).await).account;
    assert_eq!(again.name, "ase_odegard_02");
    assert!(again.uid != first.uid && again.gid != first.gid);
}

#[tokio::test]
async fn a_policy_change_renames_directory_entries_and_their_groups_keeping_ids() {
    let slapd = Slapd::start().await;
    slapd
        .seed_account("admins", "dan_thrane_01", 20_900, 20_900)
        .await;
    let fixture = ldap_accounts(slapd.config(), |config| {
        config.policy = crate::usermap::UsernamePolicy::GatewayUsername;
    })
    .await;
    let dan = principal("dan", "Dan", "Thrane", "");
    let before = mapping(fixture.accounts.ensure_for(&dan).await).account;
    assert_eq!(before.name, "dan");

    let applied = fixture
        .accounts
        .apply_policy(crate::usermap::UsernamePolicy::FullName)
        .await
        .expect("apply");
    let planned = &applied.plan.accounts[0];
    assert_eq!(
        planned.new_name.as_deref(),
        Some("dan_thrane_02"),
        "01 is the site's"
    );
    let users = slapd
        .search("(&(objectClass=posixAccount)(uid=dan_thrane_02))")
        .await;
    assert_eq!(users.len(), 1);
    assert_eq!(first(&users[0], "uidNumber"), before.uid.to_string());
    assert!(slapd.search("(uid=dan)").await.is_empty());
    let groups = slapd
        .search("(&(objectClass=posixGroup)(cn=dan_thrane_02))")
        .await;
    assert_eq!(first(&groups[0], "gidNumber"), before.gid.to_string());
}
