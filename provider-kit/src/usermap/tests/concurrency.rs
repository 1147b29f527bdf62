//! Many first requests at once on one SQLite store: every account gets its own name, uid and gid,
//! none is 0 or below the range, and an exhausted range is a clear error that makes nothing.

use std::collections::HashSet;

use super::support::{accounts, principal};
use crate::usermap::{AccountError, AccountsConfig, AutoAccount, IdRange, UsernamePolicy};

fn created(outcome: AutoAccount) -> crate::usermap::Mapping {
    match outcome {
        AutoAccount::Created(mapping) | AutoAccount::Existing(mapping) => mapping,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_users_with_the_same_name_created_at_once_share_no_name_uid_or_gid() {
    let fixture = accounts(AccountsConfig::default()).await;
    let tasks: Vec<_> = (0..200)
        .map(|n| {
            let accounts = fixture.accounts.clone();
            tokio::spawn(async move {
                // Half are namesakes, so the name sequence itself is contended.
                let (first, last) = if n % 2 == 0 {
                    ("Åse", "Ødegård")
                } else {
                    ("Дмитрий", "Шостакович")
                };
                let who = principal(&format!("user{n}#{n}"), first, last, "");
                accounts.ensure_for(&who).await
            })
        })
        .collect();
    let mut mappings = Vec::new();
    for task in tasks {
        mappings.push(created(task.await.expect("task").expect("account")));
    }
    let names: HashSet<_> = mappings.iter().map(|m| m.account.name.clone()).collect();
    let uids: HashSet<_> = mappings.iter().map(|m| m.account.uid).collect();
    let gids: HashSet<_> = mappings.iter().map(|m| m.account.gid).collect();
    assert_eq!((names.len(), uids.len(), gids.len()), (200, 200, 200));
    let range = AccountsConfig::default().uid_range;
    assert!(
        uids.iter()
            .all(|&uid| uid != 0 && uid >= range.min && uid <= range.max)
    );
    assert!(names.contains("ase_odegard_100") && names.contains("dmitrii_shostakovich_100"));
    assert_eq!(
        fixture
            .accounts
            .store()
            .accounts()
            .await
            .expect("accounts")
            .len(),
        200
    );
    assert_eq!(fixture.gateway.reports().len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_first_requests_of_one_user_make_one_account() {
    let fixture = accounts(AccountsConfig::default()).await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let accounts = fixture.accounts.clone();
            tokio::spawn(async move {
                accounts
                    .ensure_for(&principal("alice#1", "Alice", "Liddell", ""))
                    .await
            })
        })
        .collect();
    let mut names = HashSet::new();
    for task in tasks {
        names.insert(
            created(task.await.expect("task").expect("account"))
                .account
                .name,
        );
    }
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["alice_liddell_01"]);
    assert_eq!(
        fixture
            .accounts
            .store()
            .accounts()
            .await
            .expect("accounts")
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn anonymized_names_under_concurrency_are_consecutive_and_unique() {
    let config = AccountsConfig {
        policy: UsernamePolicy::Anonymized,
        ..AccountsConfig::default()
    };
    let fixture = accounts(config).await;
    let tasks: Vec<_> = (0..100)
        .map(|n| {
            let accounts = fixture.accounts.clone();
            tokio::spawn(async move {
                accounts
                    .ensure_for(&principal(&format!("u{n}"), "", "", ""))
                    .await
            })
        })
        .collect();
    let mut names = Vec::new();
    for task in tasks {
        names.push(
            created(task.await.expect("task").expect("account"))
                .account
                .name,
        );
    }
    names.sort();
    let expected: Vec<String> = (1..=100).map(|n| format!("ucloud_{n:05}")).collect();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn an_exhausted_uid_range_is_a_clear_error_and_makes_nothing() {
    let config = AccountsConfig {
        uid_range: IdRange {
            min: 5_000,
            max: 5_002,
        },
        ..AccountsConfig::default()
    };
    let fixture = accounts(config).await;
    for n in 0..3 {
        let who = principal(&format!("user{n}"), "Ada", "Lovelace", "");
        let mapping = created(fixture.accounts.ensure_for(&who).await.expect("account"));
        assert_eq!(mapping.account.uid, 5_000 + n);
    }
    let error = fixture
        .accounts
        .ensure_for(&principal("user3", "Ada", "Lovelace", ""))
        .await
        .expect_err("no uid left");
    assert!(
        matches!(
            error,
            AccountError::RangeExhausted {
                min: 5_000,
                max: 5_002,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "no free uid left in 5000-5002: widen accounts.uid_range"
    );
    assert_eq!(
        fixture
            .accounts
            .store()
            .accounts()
            .await
            .expect("accounts")
            .len(),
        3
    );
    assert!(
        fixture
            .accounts
            .store()
            .mapping("user3")
            .await
            .expect("store")
            .is_none()
    );
}

#[tokio::test]
async fn ids_are_never_handed_out_twice_and_skip_nobody() {
    let config = AccountsConfig {
        uid_range: IdRange {
            min: 65_533,
            max: 65_537,
        },
        gid_range: IdRange {
            min: 65_533,
            max: 65_537,
        },
        ..AccountsConfig::default()
    };
    let fixture = accounts(config).await;
    let mut uids = Vec::new();
    for n in 0..3 {
        let who = principal(&format!("user{n}"), "Grace", "Hopper", "");
        uids.push(
            created(fixture.accounts.ensure_for(&who).await.expect("account"))
                .account
                .uid,
        );
        // An unlinked user keeps their account, so the next one can never reuse its uid.
        assert!(
            fixture
                .accounts
                .unlink(&who.username)
                .await
                .expect("unlink")
        );
    }
    assert_eq!(uids, [65_533, 65_536, 65_537]);
}
