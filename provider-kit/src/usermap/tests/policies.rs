//! Username policies as tables: what each policy makes of real and hostile names, and what the
//! store makes of collisions.

use super::support::{accounts, principal};
use crate::usermap::{
    AccountsConfig, AutoAccount, NameSequence, UsernamePolicy, gecos, is_reserved, is_valid_name,
    slug,
};

/// The first name a policy gives, and the one after it.
fn first_two(
    policy: UsernamePolicy,
    first: &str,
    last: &str,
    email: &str,
    username: &str,
) -> (String, String) {
    let who = principal(username, first, last, email);
    match NameSequence::for_policy(policy, &who, "ucloud_").expect("a named policy") {
        NameSequence::Suffixed { stem, plain_first } => {
            let start = u32::from(!plain_first);
            (
                NameSequence::suffixed(&stem, start),
                NameSequence::suffixed(&stem, start + 1),
            )
        }
        NameSequence::Counter { prefix } => (
            NameSequence::counted(&prefix, 1),
            NameSequence::counted(&prefix, 2),
        ),
        NameSequence::Claimed { .. } => panic!("{policy:?} claims no name"),
    }
}

#[test]
fn full_names_are_transliterated_to_first_last_and_a_two_digit_suffix() {
    let long = "Wolfeschlegelsteinhausenbergerdorff";
    let table = [
        ("Åse", "Ødegård", "ase_odegard_01"),
        ("Дмитрий", "Шостакович", "dmitrii_shostakovich_01"),
        ("小明", "王", "xiaoming_wang_01"),
        ("王小明", "", "wangxiaoming_01"),
        ("Dan Sebastian", "Thrane", "dan_thrane_01"),
        ("José-María", "van der Berg", "josemaria_berg_01"),
        ("Zoë", "O'Brien", "zoe_obrien_01"),
        ("Hubert Blaine", long, "hubert_wolfeschlegelsteinhaus_01"),
        ("1337", "H4x0r", "u1337_h4x0r_01"),
    ];
    for (first, last, expected) in table {
        let (name, next) = first_two(
            UsernamePolicy::FullName,
            first,
            last,
            "x@example.org",
            "x#1",
        );
        assert_eq!(name, expected, "{first} {last}");
        assert!(
            is_valid_name(&name) && is_valid_name(&next),
            "{name} {next}"
        );
        assert!(name.len() <= 32, "{name}");
        assert!(next.ends_with("_02"), "{next}");
    }
}

#[test]
fn a_name_with_nothing_usable_falls_back_to_the_gateway_username_and_never_to_empty() {
    let table = [
        ("", "", "DanThrane#1234", "danthrane_1234_01"),
        ("   ", "\t", "alice", "alice_01"),
        ("!!!", "---", "Bob.Smith", "bob_smith_01"),
        ("\u{E000}", "\u{200B}", "####", "user_01"),
        ("\u{1F600}", "", "x", "grinning_01"),
        ("", "", "", "user_01"),
    ];
    for (first, last, username, expected) in table {
        let (name, _) = first_two(UsernamePolicy::FullName, first, last, "", username);
        assert_eq!(name, expected, "{first:?} {last:?} {username:?}");
    }
}

#[test]
fn email_local_parts_drop_the_plus_tag_and_turn_dots_into_underscores() {
    let table = [
        ("dan.thrane+hpc@sdu.dk", "dan_thrane", "dan_thrane_01"),
        (
            "Ada.Lovelace@example.org",
            "ada_lovelace",
            "ada_lovelace_01",
        ),
        (
            "\"weird@local\"@example.org",
            "weird_local",
            "weird_local_01",
        ),
        ("42@example.org", "u42", "u42_01"),
        ("+only-tag@example.org", "fallback_7", "fallback_7_01"),
        ("no-at-sign", "fallback_7", "fallback_7_01"),
        ("åse.ødegård@uib.no", "ase_odegard", "ase_odegard_01"),
    ];
    for (email, expected, next) in table {
        let got = first_two(
            UsernamePolicy::EmailLocalPart,
            "F",
            "L",
            email,
            "Fallback#7",
        );
        assert_eq!(got, (expected.to_owned(), next.to_owned()), "{email}");
    }
}

#[test]
fn gateway_usernames_become_posix_names_and_anonymized_names_count() {
    let table = [
        ("DanSebastianThrane#1234", "dansebastianthrane_1234"),
        ("alice", "alice"),
        ("Ærøskøbing", "aeroskobing"),
        ("0day", "u0day"),
        ("../../etc/passwd", "etc_passwd"),
        ("a:b\nc", "a_b_c"),
    ];
    for (username, expected) in table {
        let (name, next) = first_two(UsernamePolicy::GatewayUsername, "", "", "", username);
        assert_eq!(name, expected, "{username}");
        assert_eq!(next, format!("{expected}_01"));
    }
    let long = "x".repeat(300);
    let (name, next) = first_two(UsernamePolicy::GatewayUsername, "", "", "", &long);
    assert_eq!((name.len(), next.len()), (32, 32));
    assert!(next.ends_with("_01"), "{next}");
    let anonymized = first_two(UsernamePolicy::Anonymized, "Ada", "L", "a@b", "ada");
    assert_eq!(
        anonymized,
        ("ucloud_00001".to_owned(), "ucloud_00002".to_owned())
    );
    assert_eq!(NameSequence::counted("ucloud_", 123_456), "ucloud_123456");
}

#[test]
fn the_service_provider_policy_names_no_one() {
    let who = principal("alice", "Alice", "A", "a@b");
    assert_eq!(
        NameSequence::for_policy(UsernamePolicy::ServiceProvider, &who, "x_"),
        None
    );
}

#[test]
fn names_are_checked_against_the_posix_pattern_and_the_system_list() {
    for good in ["a", "_x", "ase_odegard_01", "a-b", &"a".repeat(32)] {
        assert!(is_valid_name(good), "{good}");
    }
    for bad in ["", "1a", "-a", "A", "a.b", "a b", "å", &"a".repeat(33)] {
        assert!(!is_valid_name(bad), "{bad}");
    }
    assert!(is_reserved("root", &[]) && is_reserved("systemd-network", &[]));
    assert!(is_reserved("lab", &["lab".to_owned()]) && !is_reserved("alice", &[]));
    assert_eq!(slug("  Hello, World!  "), "hello_world");
    assert_eq!(gecos("Åse: Ødegård,\nPhD"), "Ase Odegard PhD");
}

#[tokio::test]
async fn colliding_names_get_the_next_suffix_and_system_names_are_skipped() {
    let config = AccountsConfig {
        policy: UsernamePolicy::GatewayUsername,
        ..AccountsConfig::default()
    };
    let fixture = accounts(config).await;
    let mut names = Vec::new();
    for username in ["Root", "root#2", "alice", "Alice", "ALICE", "al.ice"] {
        let who = principal(username, "", "", "");
        match fixture.accounts.ensure_for(&who).await.expect("account") {
            AutoAccount::Created(mapping) => names.push(mapping.account.name),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        names,
        [
            "root_01", "root_2", "alice", "alice_01", "alice_02", "al_ice"
        ]
    );
}

#[tokio::test]
async fn people_with_the_same_full_name_get_consecutive_suffixes() {
    let fixture = accounts(AccountsConfig::default()).await;
    let mut names = Vec::new();
    for n in 0..3 {
        let who = principal(&format!("ase{n}"), "Åse", "Ødegård", "");
        let AutoAccount::Created(mapping) =
            fixture.accounts.ensure_for(&who).await.expect("account")
        else {
            panic!("not created");
        };
        names.push(mapping.account.name);
    }
    assert_eq!(
        names,
        ["ase_odegard_01", "ase_odegard_02", "ase_odegard_03"]
    );
}

fn with_site_username(username: &str, site: Option<&str>) -> crate::protocol::Principal {
    let mut who = principal(username, "Dan", "Thrane", "dan@sdu.dk");
    who.site_username = site.map(str::to_owned);
    who
}

#[tokio::test]
async fn identity_claim_takes_the_site_username_and_falls_back_when_it_is_missing_invalid_or_taken()
{
    let config = AccountsConfig {
        policy: UsernamePolicy::IdentityClaim,
        identity_claim_fallback: UsernamePolicy::EmailLocalPart,
        ..AccountsConfig::default()
    };
    let fixture = accounts(config).await;
    let mut names = Vec::new();
    for (username, site) in [
        ("dan#1", Some("dthrane")),
        ("dan#2", Some("dthrane")),  // taken: the fallback's names
        ("dan#3", None),             // not released by the IdP
        ("dan#4", Some("Root; rm")), // not a POSIX name: never slugged into one
        ("dan#5", Some("root")),     // a system name
    ] {
        let who = with_site_username(username, site);
        match fixture.accounts.ensure_for(&who).await.expect("account") {
            AutoAccount::Created(mapping) => names.push(mapping.account.name),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(names, ["dthrane", "dan", "dan_01", "dan_02", "dan_03"]);
}

#[test]
fn identity_claim_cannot_fall_back_on_a_policy_that_names_no_one() {
    for fallback in [
        UsernamePolicy::ServiceProvider,
        UsernamePolicy::IdentityClaim,
    ] {
        let config = AccountsConfig {
            policy: UsernamePolicy::IdentityClaim,
            identity_claim_fallback: fallback,
            ..AccountsConfig::default()
        };
        assert_eq!(
            config.check(),
            Err(crate::usermap::AccountsConfigError::Fallback)
        );
    }
    let yaml = AccountsConfig::from_yaml(
        "policy: identityClaim\nidentity_claim_fallback: anonymized\nhome_prefix: /data/home\n",
    )
    .expect("valid");
    assert_eq!(yaml.policy, UsernamePolicy::IdentityClaim);
    assert_eq!(yaml.home_of("dthrane"), "/data/home/dthrane");
}

#[test]
fn the_principal_reads_site_username_and_older_tokens_without_it() {
    let with: crate::protocol::Principal = serde_json::from_value(serde_json::json!({
        "username": "dan#1", "role": "USER", "firstName": "Dan", "lastName": "Thrane", "uid": 1,
        "email": "d@x", "twoFactorAuthentication": false, "organization": null,
        "siteUsername": "dthrane"
    }))
    .expect("principal");
    assert_eq!(with.site_username.as_deref(), Some("dthrane"));
    let without: crate::protocol::Principal = serde_json::from_value(serde_json::json!({
        "username": "dan#1", "role": "USER", "firstName": "Dan", "lastName": "Thrane", "uid": 1,
        "email": "d@x", "twoFactorAuthentication": false, "organization": null
    }))
    .expect("principal");
    assert_eq!(without.site_username, None);
}
