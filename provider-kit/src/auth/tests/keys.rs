//! The JWKS key cache seen from outside: how many requests the gateway gets, under rotation,
//! outages and floods of tokens naming keys that do not exist.

use std::sync::Arc;

use serde_json::json;

use super::kit::*;
use crate::auth::{ManualClock, Verifier, VerifierConfig, VerifyError};
use crate::protocol::TYP_SERVICE;

fn token_with_kid(kid: &str) -> String {
    gateway_key().sign(&header(TYP_SERVICE, kid), &service_claims())
}

fn rotated_token(jti: &str) -> String {
    let claims = with(service_claims(), "jti", json!(jti));
    rotated_key().sign(&header(TYP_SERVICE, rotated_key().kid), &claims)
}

#[tokio::test]
async fn keys_are_fetched_once_and_reused() {
    let h = harness().await;
    for i in 0..5 {
        h.verifier
            .verify_service(&service_token(&format!("jti-{i}")))
            .await
            .expect("valid");
    }
    assert_eq!(h.server.jwks_hits(), 1);
    assert_eq!(h.verifier.stats().jwks_fetches, 1);
}

#[tokio::test]
async fn a_flood_of_invented_kids_costs_one_fetch_per_interval() {
    let h = harness().await;
    h.verifier
        .verify_service(&service_token("warm-up"))
        .await
        .expect("valid");
    for i in 0..200 {
        let refused = h
            .verifier
            .verify_service(&token_with_kid(&format!("random-{i}")))
            .await;
        assert_eq!(refused, Err(VerifyError::UnknownKey(format!("random-{i}"))));
    }
    assert_eq!(h.server.jwks_hits(), 1, "the warm-up fetch only");

    h.clock.advance(29);
    assert!(
        h.verifier
            .verify_service(&token_with_kid("random-a"))
            .await
            .is_err()
    );
    assert_eq!(h.server.jwks_hits(), 1);
    h.clock.advance(1);
    assert!(
        h.verifier
            .verify_service(&token_with_kid("random-b"))
            .await
            .is_err()
    );
    assert_eq!(
        h.server.jwks_hits(),
        2,
        "one refetch once the interval has passed"
    );
    assert!(
        h.verifier
            .verify_service(&token_with_kid("random-c"))
            .await
            .is_err()
    );
    assert_eq!(h.server.jwks_hits(), 2);
}

#[tokio::test]
async fn concurrent_requests_for_a_new_key_share_one_fetch() {
    let h = harness().await;
    h.server.publish(&[gateway_key(), rotated_key()]);
    h.server.close_gate();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let verifier = h.verifier.clone();
            tokio::spawn(async move {
                verifier
                    .verify_service(&rotated_token(&format!("c-{i}")))
                    .await
            })
        })
        .collect();
    h.server.request_waiting().await;
    h.server.open_gate();
    for task in tasks {
        task.await
            .expect("task")
            .expect("verified with the rotated key");
    }
    assert_eq!(h.server.jwks_hits(), 1);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_once_the_interval_allows() {
    let h = harness().await;
    h.verifier
        .verify_service(&service_token("before"))
        .await
        .expect("valid");
    h.server.publish(&[gateway_key(), rotated_key()]);

    let refused = h.verifier.verify_service(&rotated_token("r-1")).await;
    assert_eq!(
        refused,
        Err(VerifyError::UnknownKey("gw-2".into())),
        "throttled"
    );
    h.clock.advance(30);
    h.verifier
        .verify_service(&rotated_token("r-2"))
        .await
        .expect("the rotated key");
    h.verifier
        .verify_service(&service_token("old-key"))
        .await
        .expect("the old key is still published");
    assert_eq!(h.server.jwks_hits(), 2);
}

#[tokio::test]
async fn a_key_dropped_from_the_set_stops_verifying() {
    let h = harness().await;
    h.verifier
        .verify_service(&service_token("before"))
        .await
        .expect("valid");
    h.server.publish(&[rotated_key()]);
    h.clock.advance(30);
    h.verifier
        .verify_service(&rotated_token("r-1"))
        .await
        .expect("the new key");
    let refused = h.verifier.verify_service(&service_token("after")).await;
    assert_eq!(refused, Err(VerifyError::UnknownKey("gw-1".into())));
}

#[tokio::test]
async fn a_failed_refetch_keeps_the_keys_we_had() {
    let h = harness().await;
    h.verifier
        .verify_service(&service_token("before"))
        .await
        .expect("valid");
    h.server.fail(true);
    h.clock.advance(30);
    let refused = h.verifier.verify_service(&token_with_kid("new-kid")).await;
    assert_eq!(refused, Err(VerifyError::JwksUnavailable));
    assert_eq!(h.server.jwks_hits(), 2);
    h.verifier
        .verify_service(&service_token("during-outage"))
        .await
        .expect("old key still works");

    h.server.fail(false);
    h.clock.advance(30);
    let refused = h.verifier.verify_service(&token_with_kid("new-kid")).await;
    assert_eq!(
        refused,
        Err(VerifyError::UnknownKey("new-kid".into())),
        "the outage is over"
    );
}

#[tokio::test]
async fn an_oversized_key_set_is_not_read() {
    let h = harness().await;
    let mut keys = vec![gateway_key().jwk()];
    keys.extend(
        (0..200).map(|i| json!({"kty": "EC", "kid": format!("pad-{i}"), "x": "A".repeat(400)})),
    );
    h.server.publish_raw(json!({"keys": keys}).to_string());
    let refused = h.verifier.verify_service(&service_token("t")).await;
    assert_eq!(refused, Err(VerifyError::JwksUnavailable));
    assert_eq!(h.server.jwks_hits(), 1);
}

#[tokio::test]
async fn a_redirecting_jwks_url_is_not_followed() {
    let server = JwksServer::start(&[gateway_key()]).await;
    let config = VerifierConfig::new(ISSUER, format!("{}/moved", server.base), PROVIDER);
    let verifier = Verifier::new(config, Arc::new(ManualClock::new(NOW))).expect("config");
    assert_eq!(
        verifier.refresh_keys().await,
        Err(VerifyError::JwksUnavailable)
    );
    assert_eq!(server.jwks_hits(), 0);
}

#[tokio::test]
async fn refresh_keys_ignores_the_throttle_and_reports_an_outage() {
    let h = harness().await;
    assert_eq!(h.verifier.refresh_keys().await, Ok(1));
    assert_eq!(h.verifier.refresh_keys().await, Ok(1));
    assert_eq!(h.server.jwks_hits(), 2);
    h.server.fail(true);
    assert_eq!(
        h.verifier.refresh_keys().await,
        Err(VerifyError::JwksUnavailable)
    );
}

#[test]
fn a_verifier_needs_an_http_jwks_url_an_issuer_and_an_id() {
    let clock = Arc::new(ManualClock::new(NOW));
    for (issuer, url, id) in [
        (ISSUER, "file:///etc/jwks.json", PROVIDER),
        (ISSUER, "not a url", PROVIDER),
        ("", "https://gw/jwks", PROVIDER),
        (ISSUER, "https://gw/jwks", ""),
    ] {
        let config = VerifierConfig::new(issuer, url, id);
        assert!(
            Verifier::new(config, clock.clone()).is_err(),
            "{issuer} {url} {id}"
        );
    }
}
