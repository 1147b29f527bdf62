//! Key revocation seen from a provider (SPEC §2): the gateway drops a key from its JWK Set, and
//! within the refresh interval the verifier re-reads the set and refuses every token signed with
//! it, tokens it had already verified and cached included.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::kit::*;
use crate::auth::{ConfigError, ManualClock, Verifier, VerifierConfig, VerifyError};
use crate::protocol::TYP_SERVICE;

fn rotated_token(jti: &str) -> String {
    let claims = with(service_claims(), "jti", json!(jti));
    rotated_key().sign(&header(TYP_SERVICE, rotated_key().kid), &claims)
}

/// A token that lives as long as SPEC §2 allows, so only revocation can end it early.
fn long_token(jti: &str) -> String {
    let claims = with(service_claims(), "jti", json!(jti));
    gateway_key().sign(&service_header(), &with(claims, "exp", json!(NOW + 330)))
}

#[tokio::test]
async fn a_cached_token_of_a_revoked_key_is_refused_after_the_periodic_re_read() {
    let h = harness().await;
    let token = long_token("cached");
    h.verifier.verify_service(&token).await.expect("valid");
    h.verifier
        .verify_service(&token)
        .await
        .expect("a cache hit");
    assert_eq!(h.verifier.stats().cache_hits, 1);

    // The gateway revokes gw-1: its JWK Set no longer holds it. No token names an unknown kid, so
    // only the periodic re-read can notice.
    h.server.publish(&[rotated_key()]);
    h.clock.advance(super::super::config::secs(
        VerifierConfig::DEFAULT_KEY_REFRESH_INTERVAL,
    ));
    assert_eq!(
        h.verifier.verify_service(&token).await,
        Err(VerifyError::UnknownKey("gw-1".into()))
    );
    assert_eq!(h.server.jwks_hits(), 2, "one periodic re-read");
    assert_eq!(
        h.verifier.stats().cached_tokens,
        0,
        "its verifications are forgotten"
    );
    h.verifier
        .verify_service(&rotated_token("new"))
        .await
        .expect("the key still published verifies");
}

#[tokio::test]
async fn the_key_set_is_re_read_once_per_interval_while_tokens_keep_coming() {
    let h = harness_with(|c| c.key_refresh_interval = Duration::from_secs(120)).await;
    let token = long_token("hot");
    h.verifier.verify_service(&token).await.expect("valid");
    h.clock.advance(119);
    h.verifier
        .verify_service(&token)
        .await
        .expect("a cache hit");
    assert_eq!(h.server.jwks_hits(), 1);
    h.clock.advance(1);
    h.verifier
        .verify_service(&token)
        .await
        .expect("still published");
    h.verifier
        .verify_service(&token)
        .await
        .expect("still published");
    assert_eq!(h.server.jwks_hits(), 2, "one re-read, not one per request");
}

#[tokio::test]
async fn a_failed_re_read_keeps_the_keys_and_is_retried_after_the_throttle() {
    let h = harness_with(|c| c.key_refresh_interval = Duration::from_secs(120)).await;
    let token = long_token("hot");
    h.verifier.verify_service(&token).await.expect("valid");
    h.server.fail(true);
    h.clock.advance(120);
    h.verifier
        .verify_service(&token)
        .await
        .expect("an outage keeps the keys we had");
    h.verifier.verify_service(&token).await.expect("throttled");
    assert_eq!(h.server.jwks_hits(), 2);

    h.server.fail(false);
    h.server.publish(&[rotated_key()]);
    h.clock.advance(30);
    assert_eq!(
        h.verifier.verify_service(&token).await,
        Err(VerifyError::UnknownKey("gw-1".into())),
        "retried once the throttle allows, and the revocation seen"
    );
    assert_eq!(h.server.jwks_hits(), 3);
}

#[tokio::test]
async fn refresh_keys_also_forgets_verifications_of_unpublished_keys() {
    let h = harness().await;
    let token = long_token("cached");
    h.verifier.verify_service(&token).await.expect("valid");
    h.server.publish(&[rotated_key()]);
    assert_eq!(h.verifier.refresh_keys().await, Ok(1));
    assert_eq!(h.verifier.stats().cached_tokens, 0);
    assert_eq!(
        h.verifier.verify_service(&token).await,
        Err(VerifyError::UnknownKey("gw-1".into()))
    );
}

#[test]
fn the_default_re_read_is_at_most_ten_minutes_and_longer_ones_are_refused() {
    let config = VerifierConfig::new(ISSUER, "https://gw/jwks", PROVIDER);
    assert!(config.key_refresh_interval <= Duration::from_secs(600));
    let clock = Arc::new(ManualClock::new(NOW));
    let mut config = config;
    config.key_refresh_interval = Duration::from_secs(600);
    assert!(Verifier::new(config.clone(), clock.clone()).is_ok());
    config.key_refresh_interval = Duration::from_secs(601);
    assert!(matches!(
        Verifier::new(config, clock),
        Err(ConfigError::KeyRefreshInterval(_))
    ));
}
