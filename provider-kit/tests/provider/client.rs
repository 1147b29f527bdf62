//! The `GatewayClient` against the fake gateway: typed charge results, one token renewal however
//! many callers need it, renewal before expiry and after a `401`, and bounded, timed calls.

use std::sync::Arc;
use std::time::Duration;

use provider_kit::auth::ManualClock;
use provider_kit::client::{ChargeOutcome, ClientError, GatewayClient, Secret, register};
use provider_kit::protocol::{ChargeRequest, MappingReport, ProviderMetadata, WalletOwner};
use serde_json::json;

use crate::support::gateway::{REFRESH_TOKEN, USER_API_TOKEN};
use crate::support::{ChargeMode, FakeGateway};

const NOW: i64 = 1_700_000_000;

fn alice() -> WalletOwner {
    WalletOwner::Username("alice#1".into())
}

fn charge(id: &str, units: u64) -> ChargeRequest {
    ChargeRequest {
        charge_id: id.into(),
        owner: alice(),
        units,
        description: "test".into(),
    }
}

fn client(gateway: &FakeGateway) -> (GatewayClient, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(NOW));
    let client = GatewayClient::new(gateway.client_config("dev"), clock.clone()).expect("config");
    (client, clock)
}

#[tokio::test]
async fn a_charge_takes_units_once_per_charge_id_and_a_changed_body_is_a_conflict() {
    let gateway = FakeGateway::start().await;
    gateway.grant(alice(), 100);
    let (client, _) = client(&gateway);
    let first = client.charge(&charge("c1", 10)).await.expect("charged");
    assert_eq!(
        first,
        ChargeOutcome {
            balance: 90,
            duplicate: false
        }
    );
    let again = client.charge(&charge("c1", 10)).await.expect("same answer");
    assert_eq!(
        again,
        ChargeOutcome {
            balance: 90,
            duplicate: true
        }
    );
    let changed = client.charge(&charge("c1", 11)).await;
    assert!(
        matches!(changed, Err(ClientError::Conflict { .. })),
        "{changed:?}"
    );
    assert_eq!(gateway.balance(&alice()), 90);
}

#[tokio::test]
async fn an_empty_wallet_is_payment_required_with_the_balance_and_nothing_taken() {
    let gateway = FakeGateway::start().await;
    gateway.grant(alice(), 5);
    let (client, _) = client(&gateway);
    let refused = client.charge(&charge("c1", 10)).await;
    assert_eq!(refused, Err(ClientError::PaymentRequired { balance: 5 }));
    assert!(!refused.expect_err("402").is_retryable());
    assert_eq!(gateway.balance(&alice()), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_callers_share_one_token_renewal() {
    let gateway = FakeGateway::start().await;
    gateway.grant(alice(), 1_000);
    let (client, _) = client(&gateway);
    gateway.close_refresh_gate();
    let calls: Vec<_> = (0..64)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.charge(&charge(&format!("c{i}"), 1)).await })
        })
        .collect();
    gateway.refresh_waiting().await;
    gateway.open_refresh_gate();
    for call in calls {
        call.await.expect("task").expect("charged");
    }
    assert_eq!(gateway.refreshes(), 1);
    assert_eq!(client.stats().renewals, 1);
    assert_eq!(gateway.balance(&alice()), 1_000 - 64);
}

#[tokio::test]
async fn the_access_token_is_renewed_a_minute_before_it_expires_and_not_sooner() {
    let gateway = FakeGateway::start().await;
    gateway.grant(alice(), 100);
    let (client, clock) = client(&gateway);
    client.charge(&charge("c1", 1)).await.expect("charged");
    assert_eq!(gateway.refreshes(), 1);
    clock.advance(600 - 60 - 1);
    client.charge(&charge("c2", 1)).await.expect("charged");
    assert_eq!(gateway.refreshes(), 1, "still fresh");
    clock.advance(1);
    client.charge(&charge("c3", 1)).await.expect("charged");
    assert_eq!(gateway.refreshes(), 2, "renewed 60 s before expiry");
}

#[tokio::test]
async fn a_short_lived_token_is_renewed_at_half_its_lifetime() {
    let gateway = FakeGateway::start().await;
    gateway.set_expires_in(30);
    let (client, clock) = client(&gateway);
    client.check().await.expect("a token");
    clock.advance(14);
    client.check().await.expect("a token");
    assert_eq!(gateway.refreshes(), 1);
    clock.advance(1);
    client.check().await.expect("a token");
    assert_eq!(gateway.refreshes(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_access_token_is_renewed_once_for_all_callers_and_the_calls_succeed() {
    let gateway = FakeGateway::start().await;
    gateway.grant(alice(), 1_000);
    let (client, _) = client(&gateway);
    client.check().await.expect("a token");
    gateway.revoke_access_tokens();
    let calls: Vec<_> = (0..32)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.charge(&charge(&format!("c{i}"), 1)).await })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("charged after renewal");
    }
    assert_eq!(gateway.refreshes(), 2, "the first token, and one renewal");
    assert_eq!(gateway.balance(&alice()), 1_000 - 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_token_is_reported_once_to_waiting_callers_and_never_echoed() {
    let gateway = FakeGateway::start().await;
    let mut config = gateway.client_config("dev");
    config.refresh_token = Secret::new("rt_revoked-secret-value");
    let client = GatewayClient::new(config, Arc::new(ManualClock::new(NOW))).expect("config");
    gateway.close_refresh_gate();
    let calls: Vec<_> = (0..16)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.charge(&charge(&format!("c{i}"), 1)).await })
        })
        .collect();
    gateway.refresh_waiting().await;
    gateway.open_refresh_gate();
    for call in calls {
        let refused = call.await.expect("task").expect_err("refused");
        assert!(
            matches!(refused, ClientError::RefreshRejected(_)),
            "{refused:?}"
        );
        let shown = format!("{refused} {refused:?}");
        assert!(!shown.contains("revoked-secret"), "{shown}");
    }
    assert!(
        gateway.refreshes() < 16,
        "waiters share a failed renewal: {}",
        gateway.refreshes()
    );
    assert_eq!(gateway.charge_calls(), 0);
}

#[tokio::test]
async fn gateway_failures_and_an_unreachable_gateway_are_distinct_retryable_errors() {
    let gateway = FakeGateway::start().await;
    let (client, _) = client(&gateway);
    gateway.set_charge_mode(ChargeMode::Status(503));
    let failed = client.charge(&charge("c1", 1)).await.expect_err("503");
    assert!(
        matches!(failed, ClientError::Server { status: 503, .. }),
        "{failed:?}"
    );
    assert!(failed.is_retryable());

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let mut config = gateway.client_config("dev");
    config.gateway_url = url;
    let down = GatewayClient::new(config, Arc::new(ManualClock::new(NOW))).expect("config");
    let failed = down
        .charge(&charge("c1", 1))
        .await
        .expect_err("unreachable");
    assert!(matches!(failed, ClientError::Transport(_)), "{failed:?}");
    assert!(failed.is_retryable());
}

#[tokio::test]
async fn an_oversized_answer_is_refused_and_a_silent_gateway_times_out() {
    let gateway = FakeGateway::start().await;
    let mut config = gateway.client_config("dev");
    config.timeout = Duration::from_millis(300);
    let client = GatewayClient::new(config, Arc::new(ManualClock::new(NOW))).expect("config");
    gateway.set_charge_mode(ChargeMode::Huge);
    let huge = client
        .charge(&charge("c1", 1))
        .await
        .expect_err("too large");
    assert!(matches!(huge, ClientError::InvalidResponse(_)), "{huge:?}");
    gateway.set_charge_mode(ChargeMode::Hang);
    let silent = client.charge(&charge("c2", 1)).await.expect_err("timeout");
    assert_eq!(silent, ClientError::Timeout(Duration::from_millis(300)));
}

#[tokio::test]
async fn mapping_reports_and_manifest_reloads_reach_the_gateway() {
    let gateway = FakeGateway::start().await;
    let (client, _) = client(&gateway);
    let report = MappingReport::implicit("alice#1", "alice_1");
    client.report_mapping(&report).await.expect("reported");
    let expected = json!({"provider": "dev", "report": {"username": "alice#1",
        "localIdentity": "alice_1", "state": "ok", "comment": null, "commentUrl": null}});
    assert_eq!(gateway.reports(), [expected]);
    let answer = client.reload_manifest().await.expect("reloaded");
    assert_eq!(answer["id"], "dev");
    assert_eq!(gateway.reloads(), 1);
}

#[tokio::test]
async fn registering_returns_the_refresh_token_and_a_taken_id_is_a_conflict() {
    let gateway = FakeGateway::start().await;
    let metadata: ProviderMetadata = serde_json::from_value(
        json!({"id": "dev", "domain": "127.0.0.1", "https": false, "port": 9000, "env": "test"}),
    )
    .expect("metadata");
    let token = Secret::new(USER_API_TOKEN);
    let registration = register(&gateway.url, &token, &metadata)
        .await
        .expect("registered");
    assert_eq!(registration.refresh_token.expose(), REFRESH_TOKEN);
    assert!(!format!("{registration:?}").contains(REFRESH_TOKEN));
    let credentials = registration.credentials(&format!("{}/", gateway.url));
    assert_eq!(credentials, gateway.credentials("dev"));

    let taken = register(&gateway.url, &token, &metadata).await;
    assert!(
        matches!(taken, Err(ClientError::Conflict { .. })),
        "{taken:?}"
    );
    let stranger = register(&gateway.url, &Secret::new("wrong"), &metadata).await;
    assert!(
        matches!(stranger, Err(ClientError::Unauthorized(_))),
        "{stranger:?}"
    );
}
