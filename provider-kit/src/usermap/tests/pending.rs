//! Pending connections: each transition reported once with its comment and URL, an unreported
//! state reported again on the next retry, a retry that only looks at what is due, and a
//! resolution (the provider's resolver, or an operator's link) that maps the user and ends it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use super::support::{RecordingGateway, principal, store};
use crate::auth::ManualClock;
use crate::auth::tests::kit;
use crate::protocol::ReportedState;
use crate::usermap::{
    AccountError, Accounts, AccountsConfig, AutoAccount, PendingConnection, PendingResolver,
    Resolution, ResolveFuture, UsernamePolicy,
};

struct Scripted(Mutex<Resolution>);

impl PendingResolver for Scripted {
    fn resolve<'a>(&'a self, _: &'a PendingConnection) -> ResolveFuture<'a> {
        let answer = self.0.lock().expect("lock").clone();
        Box::pin(async move { answer })
    }
}

async fn fixture() -> (
    Accounts,
    Arc<RecordingGateway>,
    Arc<ManualClock>,
    super::support::TempFile,
) {
    let (store, file) = store().await;
    let clock = Arc::new(ManualClock::new(kit::NOW));
    let gateway = Arc::new(RecordingGateway::default());
    let config = AccountsConfig {
        policy: UsernamePolicy::ServiceProvider,
        pending_retry_secs: 60,
        ..AccountsConfig::default()
    };
    let accounts = Accounts::new(config, store, clock.clone(), gateway.clone()).expect("config");
    (accounts, gateway, clock, file)
}

#[tokio::test]
async fn a_pending_connection_reports_each_transition_retries_when_due_and_resolves() {
    let (accounts, gateway, clock, _file) = fixture().await;
    let ada = principal("ada#7", "Ada", "Lovelace", "");
    assert_eq!(
        accounts.ensure_for(&ada).await.expect("outcome"),
        AutoAccount::PendingLinking { reported: true }
    );
    accounts.ensure_for(&ada).await.expect("outcome");
    assert_eq!(gateway.reports().len(), 1, "no transition, no report");

    let url = "https://hpc.example.org/id";
    accounts
        .mark_pending(
            "ada#7",
            ReportedState::PendingAdditionalValidation,
            "Upload your ID",
            Some(url),
        )
        .await
        .expect("pending");
    let reports = gateway.reports();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1].state, ReportedState::PendingAdditionalValidation);
    assert_eq!(reports[1].comment.as_deref(), Some("Upload your ID"));
    assert_eq!(reports[1].comment_url.as_deref(), Some(url));

    // The gateway is down for the next transition: it is stored, not lost.
    gateway.failing.store(true, Ordering::SeqCst);
    let pending = accounts
        .mark_pending(
            "ada#7",
            ReportedState::PendingAdditionalValidation,
            "Waiting for your PI",
            Some(url),
        )
        .await
        .expect("pending");
    assert!(!pending.reported);
    gateway.failing.store(false, Ordering::SeqCst);
    let resolver = Scripted(Mutex::new(Resolution::Unchanged));
    let early = accounts.retry_pending(&resolver).await.expect("round");
    assert_eq!(early.looked_at, 0, "not due yet");
    clock.advance(60);
    let round = accounts.retry_pending(&resolver).await.expect("round");
    assert_eq!((round.looked_at, round.reported, round.resolved), (1, 1, 0));
    let reports = gateway.reports();
    assert_eq!(reports.len(), 3);
    assert_eq!(reports[2].comment.as_deref(), Some("Waiting for your PI"));

    // The provider's own check says it is done: the user is mapped and reported ok.
    *resolver.0.lock().expect("lock") = Resolution::Account("ada_l".into());
    clock.advance(60);
    let round = accounts.retry_pending(&resolver).await.expect("round");
    assert_eq!(round.resolved, 1);
    let mapping = accounts
        .store()
        .mapping("ada#7")
        .await
        .expect("read")
        .expect("mapped");
    assert_eq!(mapping.account.name, "ada_l");
    assert_eq!(gateway.reports()[3].state, ReportedState::Ok);
    assert_eq!(accounts.store().pending("ada#7").await.expect("read"), None);
}

#[tokio::test]
async fn an_operators_link_ends_a_pending_connection_and_bad_pending_states_are_refused() {
    let (accounts, _gateway, _clock, _file) = fixture().await;
    let kim = principal("kim#1", "Kim", "Lee", "");
    accounts.ensure_for(&kim).await.expect("pending");
    assert!(
        accounts
            .store()
            .pending("kim#1")
            .await
            .expect("read")
            .is_some()
    );
    accounts
        .link("kim#1", "kim", "Kim Lee")
        .await
        .expect("link");
    assert_eq!(accounts.store().pending("kim#1").await.expect("read"), None);

    for (state, comment, url) in [
        (ReportedState::Ok, "x", None),
        (
            ReportedState::PendingAccountLinking,
            &*"x".repeat(1_001),
            None,
        ),
        (
            ReportedState::PendingAccountLinking,
            "x",
            Some("javascript:alert(1)"),
        ),
    ] {
        let refused = accounts.mark_pending("kim#2", state, comment, url).await;
        assert!(
            matches!(refused, Err(AccountError::InvalidPending(_))),
            "{refused:?}"
        );
    }
    assert_eq!(accounts.store().pending("kim#2").await.expect("read"), None);
}
