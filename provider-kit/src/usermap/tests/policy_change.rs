//! A username policy change on 1,000 accounts whose names collide: the preview lists every
//! account and collision and changes nothing; the apply renames all of them (ids stay), keeps the
//! old names as aliases nobody else gets, reports each new local identity, and never takes a name
//! the quarantine holds.

use std::collections::HashSet;
use std::sync::Arc;

use super::support::{RecordingGateway, principal, store};
use crate::auth::ManualClock;
use crate::auth::tests::kit;
use crate::protocol::MappingReport;
use crate::usermap::{Accounts, AccountsConfig, AutoAccount, Collision, UsernamePolicy};

const PEOPLE: [(&str, &str); 10] = [
    ("Åse", "Ødegård"),
    ("Dan", "Thrane"),
    ("Ada", "Lovelace"),
    ("Дмитрий", "Шостакович"),
    ("小明", "王"),
    ("Kim", "Lee"),
    ("José", "Núñez"),
    ("Zoë", "Brontë"),
    ("Ib", "Ek"),
    ("Ana", "Silva"),
];

fn created_name(outcome: AutoAccount) -> String {
    match outcome {
        AutoAccount::Created(m) | AutoAccount::Existing(m) => m.account.name,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_policy_change_on_a_thousand_colliding_accounts_previews_then_renames_without_surprises()
{
    let (store, _file) = store().await;
    let clock = Arc::new(ManualClock::new(kit::NOW));
    let gateway = Arc::new(RecordingGateway::default());
    let config = AccountsConfig {
        policy: UsernamePolicy::GatewayUsername,
        ..AccountsConfig::default()
    };
    let accounts = Accounts::new(config, store, clock.clone(), gateway.clone()).expect("config");
    // A removed account held the first full name the new policy would hand out.
    let gone = principal("ase_odegard_01", "Gone", "User", "");
    let gone_name = created_name(accounts.ensure_for(&gone).await.expect("account"));
    assert_eq!(gone_name, "ase_odegard_01");
    accounts.remove(&gone_name).await.expect("removed");

    for n in 0..1_000 {
        let (first, last) = PEOPLE[n % PEOPLE.len()];
        let who = principal(&format!("user{n}"), first, last, "");
        assert_eq!(
            created_name(accounts.ensure_for(&who).await.expect("account")),
            format!("user{n}")
        );
    }
    let before = accounts.store().accounts().await.expect("accounts");
    let reports_before = gateway.reports().len();

    let plan = accounts
        .plan_policy(UsernamePolicy::FullName)
        .await
        .expect("plan");
    assert_eq!(plan.accounts.len(), 1_000);
    assert_eq!(plan.renames().count(), 1_000);
    // Every namesake after the first of each name, and the first Åse (quarantine).
    assert_eq!(plan.collisions().count(), 991);
    let user0 = &plan.accounts[0];
    assert_eq!(user0.account, "user0");
    assert_eq!(user0.new_name.as_deref(), Some("ase_odegard_02"));
    assert_eq!(
        user0.collision,
        Some(Collision::Held("ase_odegard_01".into()))
    );
    let text = plan.render_text();
    assert!(text.starts_with("policy fullName: 1000 accounts, 1000 renamed, 991 collisions\n"));
    assert!(text.contains("user0 → ase_odegard_02 (uid 20001) collision: ase_odegard_01 is held"));
    assert!(text.contains("user11 → dan_thrane_02 (uid 20012) collision: dan_thrane_01 is taken"));
    assert_eq!(text.lines().count(), 1_001);
    // The preview changed nothing.
    assert_eq!(accounts.store().accounts().await.expect("accounts"), before);
    assert_eq!(gateway.reports().len(), reports_before);

    let applied = accounts
        .apply_policy(UsernamePolicy::FullName)
        .await
        .expect("apply");
    assert_eq!(applied.plan, plan, "apply does what the preview said");
    assert!(applied.unreported.is_empty());
    let after = accounts.store().accounts().await.expect("accounts");
    let names: HashSet<_> = after.iter().map(|a| a.name.clone()).collect();
    assert_eq!(names.len(), 1_000);
    assert!(
        !names.contains("ase_odegard_01"),
        "the quarantined name stays held"
    );
    for (old, new) in before.iter().zip(&after) {
        assert_eq!((old.uid, old.gid, &old.home), (new.uid, new.gid, &new.home));
    }
    let mapping = accounts
        .store()
        .mapping("user0")
        .await
        .expect("read")
        .expect("mapped");
    assert_eq!(mapping.account.name, "ase_odegard_02");
    assert_eq!(applied.aliases.len(), 1_000);
    assert_eq!(applied.aliases[0].until, kit::NOW + 30 * 86_400);
    let reports = gateway.reports();
    assert_eq!(reports.len(), reports_before + 1_000);
    assert_eq!(
        reports[reports_before],
        MappingReport::renamed("user0", "user0", "ase_odegard_02")
    );

    // An old name is an alias now: a newcomer whose policy asks for it gets another.
    let newcomer = principal("User5", "New", "Comer", "");
    let name = created_name(accounts.ensure_for(&newcomer).await.expect("account"));
    assert_eq!(name, "user5_01");
}
