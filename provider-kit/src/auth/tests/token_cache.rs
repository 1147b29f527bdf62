//! The verified-token cache seen from outside: repeated tokens skip RSA, and nothing that would
//! fail full verification is ever answered from the cache.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::kit::*;
use crate::auth::VerifyError;
use crate::protocol::TYP_USERMAP;

#[tokio::test]
async fn a_repeated_token_is_answered_from_the_cache() {
    let h = harness().await;
    let token = service_token("hot");
    let first = h.verifier.verify_service(&token).await.expect("valid");
    let again = h.verifier.verify_service(&token).await.expect("valid");
    assert_eq!(first, again);
    let stats = h.verifier.stats();
    assert_eq!((stats.cache_hits, stats.cached_tokens), (1, 1));
}

#[tokio::test]
async fn a_tampered_copy_of_a_cached_token_misses_the_cache() {
    let h = harness().await;
    let genuine = service_token("hot");
    h.verifier.verify_service(&genuine).await.expect("valid");
    let parts: Vec<&str> = genuine.split('.').collect();
    let forged = with(service_claims(), "jti", json!("hot"));
    let forged = with(forged, "project", json!("someone-elses-project"));
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged.to_string()),
        parts[2]
    );
    assert_eq!(
        h.verifier.verify_service(&forged).await,
        Err(VerifyError::BadSignature)
    );
    assert_eq!(h.verifier.stats().cache_hits, 0);
}

#[tokio::test]
async fn a_cached_token_expires_with_its_exp() {
    let h = harness().await;
    let token = service_token("hot");
    h.verifier.verify_service(&token).await.expect("valid");
    h.clock.advance(300 + 29);
    h.verifier
        .verify_service(&token)
        .await
        .expect("within exp and leeway");
    h.clock.advance(1);
    assert_eq!(
        h.verifier.verify_service(&token).await,
        Err(VerifyError::Expired)
    );
    assert_eq!(h.verifier.stats().cache_hits, 1);
}

#[tokio::test]
async fn a_cached_service_token_is_still_not_a_usermap_token() {
    let h = harness().await;
    let token = service_token("hot");
    h.verifier.verify_service(&token).await.expect("valid");
    let refused = h.verifier.verify_usermap(&token).await;
    assert!(matches!(
        refused,
        Err(VerifyError::WrongType {
            expected: TYP_USERMAP,
            ..
        })
    ));

    let usermap = gateway_key().sign(&header(TYP_USERMAP, gateway_key().kid), &usermap_claims());
    h.verifier.verify_usermap(&usermap).await.expect("valid");
    assert!(matches!(
        h.verifier.verify_service(&usermap).await,
        Err(VerifyError::WrongType { .. })
    ));
    h.verifier
        .verify_usermap(&usermap)
        .await
        .expect("a cache hit");
    assert_eq!(h.verifier.stats().cache_hits, 1);
}

#[tokio::test]
async fn refusals_are_not_cached() {
    let h = harness().await;
    let token = gateway_key().sign(
        &header("ucloud-service+jwt", "gw-1"),
        &with(service_claims(), "aud", json!("x")),
    );
    for _ in 0..2 {
        assert_eq!(
            h.verifier.verify_service(&token).await,
            Err(VerifyError::WrongAudience)
        );
    }
    assert_eq!(h.verifier.stats().cached_tokens, 0);
}

#[tokio::test]
async fn capacity_zero_verifies_every_time() {
    let h = harness_with(|config| config.token_cache_capacity = 0).await;
    let token = service_token("hot");
    for _ in 0..3 {
        h.verifier.verify_service(&token).await.expect("valid");
    }
    assert_eq!(h.verifier.stats().cache_hits, 0);
}
