//! Attack corpus, claims side: tokens correctly shaped but meant for someone else, from someone
//! else, out of their lifetime, or altered after signing; and the genuine token they imitate.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::kit::*;
use crate::auth::VerifyError;

#[tokio::test]
async fn a_genuine_service_token_yields_its_principal_and_project() {
    let h = harness().await;
    let claims = h
        .verifier
        .verify_service(&service_token("jti-1"))
        .await
        .expect("valid token");
    let principal = claims.principal.as_ref().expect("a principal");
    assert_eq!(principal.username, "DanSebastianThrane#1234");
    assert_eq!(principal.uid, 1234);
    assert_eq!(claims.project.as_deref(), Some("project-42"));
    assert_eq!(claims.aud, PROVIDER);
    assert_eq!(h.server.jwks_hits(), 1);
}

#[tokio::test]
async fn a_token_for_another_provider_is_refused() {
    let h = harness().await;
    for aud in [
        json!("otherprovider"),
        json!(["otherprovider"]),
        json!("MyProvider"),
    ] {
        let token = gateway_key().sign(&service_header(), &with(service_claims(), "aud", aud));
        assert_eq!(
            h.verifier.verify_service(&token).await,
            Err(VerifyError::WrongAudience)
        );
    }
    let both = with(service_claims(), "aud", json!(["otherprovider", PROVIDER]));
    assert!(
        h.verifier
            .verify_service(&gateway_key().sign(&service_header(), &both))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    let h = harness().await;
    for iss in ["https://evil.test", "https://gateway.test/"] {
        let token = gateway_key().sign(
            &service_header(),
            &with(service_claims(), "iss", json!(iss)),
        );
        assert_eq!(
            h.verifier.verify_service(&token).await,
            Err(VerifyError::WrongIssuer)
        );
    }
}

#[tokio::test]
async fn subject_and_role_must_be_the_gateways_own() {
    let h = harness().await;
    let token = gateway_key().sign(
        &service_header(),
        &with(service_claims(), "sub", json!("#P_x")),
    );
    assert_eq!(
        h.verifier.verify_service(&token).await,
        Err(VerifyError::WrongSubject)
    );
    let token = gateway_key().sign(
        &service_header(),
        &with(service_claims(), "role", json!("USER")),
    );
    assert_eq!(
        h.verifier.verify_service(&token).await,
        Err(VerifyError::WrongRole)
    );
}

#[tokio::test]
async fn an_expired_token_is_refused_once_past_the_leeway() {
    let h = harness().await;
    let expired = gateway_key().sign(
        &service_header(),
        &with(service_claims(), "exp", json!(NOW - 31)),
    );
    assert_eq!(
        h.verifier.verify_service(&expired).await,
        Err(VerifyError::Expired)
    );
    let skewed = gateway_key().sign(
        &service_header(),
        &with(service_claims(), "exp", json!(NOW - 5)),
    );
    assert!(
        h.verifier.verify_service(&skewed).await.is_ok(),
        "within the 30 s leeway"
    );
    let no_exp = gateway_key().sign(
        &service_header(),
        &with(service_claims(), "exp", json!(null)),
    );
    assert_eq!(
        h.verifier.verify_service(&no_exp).await,
        Err(VerifyError::MissingClaim("exp"))
    );
}

#[tokio::test]
async fn a_token_from_the_future_is_refused() {
    let h = harness().await;
    let early = gateway_key().sign(
        &service_header(),
        &with(service_claims(), "nbf", json!(NOW + 120)),
    );
    assert_eq!(
        h.verifier.verify_service(&early).await,
        Err(VerifyError::NotYetValid)
    );
    let issued = gateway_key().sign(
        &service_header(),
        &with(service_claims(), "iat", json!(NOW + 3600)),
    );
    assert_eq!(
        h.verifier.verify_service(&issued).await,
        Err(VerifyError::IssuedInFuture)
    );
    h.clock.advance(120);
    assert!(
        h.verifier.verify_service(&early).await.is_ok(),
        "valid once nbf has come"
    );
}

#[tokio::test]
async fn a_tampered_payload_fails_the_signature() {
    let h = harness().await;
    let genuine = service_token("jti-1");
    let (head, rest) = genuine.split_once('.').expect("three parts");
    let (_, signature) = rest.split_once('.').expect("three parts");
    let forged = with(service_claims(), "project", json!("someone-elses-project"));
    let forged = format!(
        "{head}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(forged.to_string())
    );
    assert_eq!(
        h.verifier.verify_service(&forged).await,
        Err(VerifyError::BadSignature)
    );
}

#[tokio::test]
async fn a_token_signed_by_another_key_under_our_kid_is_refused() {
    let h = harness().await;
    let forged = attacker_key().sign(&service_header(), &service_claims());
    assert_eq!(
        h.verifier.verify_service(&forged).await,
        Err(VerifyError::BadSignature)
    );
}

/// Ten years, in seconds.
const DECADE: i64 = 10 * 365 * 24 * 3600;

#[tokio::test]
async fn a_service_token_living_ten_years_signed_with_the_gateways_key_is_refused() {
    let h = harness().await;
    let forever = gateway_key().sign(
        &service_header(),
        &with(service_claims(), "exp", json!(NOW + DECADE)),
    );
    assert_eq!(
        h.verifier.verify_service(&forever).await,
        Err(VerifyError::LifetimeTooLong {
            lifetime: DECADE,
            max: 300
        })
    );
    assert_eq!(h.verifier.stats().cached_tokens, 0);
}

#[tokio::test]
async fn a_usermap_token_living_ten_years_is_refused() {
    let h = harness().await;
    let forever = gateway_key().sign(
        &header(crate::protocol::TYP_USERMAP, gateway_key().kid),
        &with(usermap_claims(), "exp", json!(NOW + DECADE)),
    );
    assert_eq!(
        h.verifier.verify_usermap(&forever).await,
        Err(VerifyError::LifetimeTooLong {
            lifetime: DECADE,
            max: 300
        })
    );
}

#[tokio::test]
async fn a_long_lifetime_backdated_into_the_leeway_is_refused_too() {
    // iat far in the past and exp just ahead: the token is "fresh" by exp alone.
    let h = harness().await;
    let claims = with(service_claims(), "iat", json!(NOW - DECADE));
    let backdated = gateway_key().sign(&service_header(), &with(claims, "exp", json!(NOW + 60)));
    assert_eq!(
        h.verifier.verify_service(&backdated).await,
        Err(VerifyError::LifetimeTooLong {
            lifetime: DECADE + 60,
            max: 300
        })
    );
}

#[tokio::test]
async fn a_lifetime_of_the_maximum_plus_the_leeway_is_accepted_and_one_second_more_is_not() {
    let h = harness().await;
    let edge = gateway_key().sign(
        &service_header(),
        &with(service_claims(), "exp", json!(NOW + 300 + 30)),
    );
    assert!(h.verifier.verify_service(&edge).await.is_ok());
    let over = gateway_key().sign(
        &service_header(),
        &with(service_claims(), "exp", json!(NOW + 300 + 31)),
    );
    assert_eq!(
        h.verifier.verify_service(&over).await,
        Err(VerifyError::LifetimeTooLong {
            lifetime: 331,
            max: 300
        })
    );
}

#[tokio::test]
async fn a_token_without_iat_is_refused() {
    let h = harness().await;
    let no_iat = gateway_key().sign(
        &service_header(),
        &with(service_claims(), "iat", json!(null)),
    );
    assert_eq!(
        h.verifier.verify_service(&no_iat).await,
        Err(VerifyError::MissingClaim("iat"))
    );
}

#[test]
fn a_leeway_above_sixty_seconds_is_a_configuration_error() {
    use crate::auth::{ConfigError, ManualClock, Verifier, VerifierConfig};
    use std::time::Duration;
    let clock = std::sync::Arc::new(ManualClock::new(NOW));
    let mut config = VerifierConfig::new(ISSUER, "https://gw/jwks", PROVIDER);
    config.leeway = Duration::from_secs(60);
    assert!(Verifier::new(config.clone(), clock.clone()).is_ok());
    config.leeway = Duration::from_secs(61);
    assert!(matches!(
        Verifier::new(config, clock),
        Err(ConfigError::Leeway(_))
    ));
}
