//! Attack corpus, header side: forged algorithms, confused token types, missing or invented key
//! ids, oversized or truncated tokens, and key URLs planted in the header. Each is refused for its
//! specific reason, most before the JWKS is ever fetched.

use serde_json::json;

use super::kit::*;
use crate::auth::VerifyError;
use crate::protocol::{ServiceClaims, TYP_ACCESS, TYP_SERVICE, TYP_USERMAP};

fn unsupported(alg: &str) -> Result<ServiceClaims, VerifyError> {
    Err(VerifyError::UnsupportedAlgorithm(alg.to_owned()))
}

#[tokio::test]
async fn alg_none_is_refused_before_any_key_is_fetched() {
    let h = harness().await;
    for alg in ["none", "None", "NONE"] {
        let head = with(service_header(), "alg", json!(alg));
        let token = format!("{}.", signing_input(&head, &service_claims()));
        assert_eq!(h.verifier.verify_service(&token).await, unsupported(alg));
    }
    assert_eq!(h.server.jwks_hits(), 0);
}

#[tokio::test]
async fn hs256_keyed_with_the_gateways_public_key_is_refused() {
    let h = harness().await;
    let key = gateway_key();
    let head = with(service_header(), "alg", json!("HS256"));
    let secrets = [
        key.public_pem().into_bytes(),
        key.public_spki_der(),
        key.public_pkcs1_der(),
        key.jwk().to_string().into_bytes(),
    ];
    for secret in secrets {
        let token = hs256(&secret, &head, &service_claims());
        assert_eq!(
            h.verifier.verify_service(&token).await,
            unsupported("HS256")
        );
    }
    assert_eq!(h.server.jwks_hits(), 0);
}

#[tokio::test]
async fn every_algorithm_but_rs256_is_refused() {
    let h = harness().await;
    for alg in [
        "HS384", "HS512", "RS384", "RS512", "PS256", "ES256", "EdDSA", "rs256",
    ] {
        let head = with(service_header(), "alg", json!(alg));
        let token = gateway_key().sign(&head, &service_claims());
        assert_eq!(h.verifier.verify_service(&token).await, unsupported(alg));
    }
}

#[tokio::test]
async fn an_access_token_is_not_a_service_token() {
    let h = harness().await;
    let access = json!({"iss": ISSUER, "sub": "#P_myprovider", "aud": ISSUER, "role": "PROVIDER",
                        "iat": NOW, "nbf": NOW, "exp": NOW + 600, "jti": "a1"});
    let token = gateway_key().sign(&header(TYP_ACCESS, gateway_key().kid), &access);
    let refused = h.verifier.verify_service(&token).await;
    let expected = VerifyError::WrongType {
        expected: TYP_SERVICE,
        found: Some(TYP_ACCESS.into()),
    };
    assert_eq!(refused, Err(expected));
}

#[tokio::test]
async fn service_and_usermap_tokens_are_not_interchangeable() {
    let h = harness().await;
    let kid = gateway_key().kid;
    let usermap = gateway_key().sign(&header(TYP_USERMAP, kid), &usermap_claims());
    let service = gateway_key().sign(&header(TYP_SERVICE, kid), &usermap_claims());

    let refused = h.verifier.verify_service(&usermap).await;
    let expected = VerifyError::WrongType {
        expected: TYP_SERVICE,
        found: Some(TYP_USERMAP.into()),
    };
    assert_eq!(refused, Err(expected));
    let refused = h.verifier.verify_usermap(&service).await;
    let expected = VerifyError::WrongType {
        expected: TYP_USERMAP,
        found: Some(TYP_SERVICE.into()),
    };
    assert_eq!(refused, Err(expected));

    let claims = h
        .verifier
        .verify_usermap(&usermap)
        .await
        .expect("a genuine usermap token");
    assert_eq!(claims.nonce, "nonce-1");
}

#[tokio::test]
async fn a_missing_or_generic_typ_is_refused() {
    let h = harness().await;
    for typ in [json!(null), json!("JWT"), json!("UCLOUD-SERVICE+JWT")] {
        let token = gateway_key().sign(
            &with(service_header(), "typ", typ.clone()),
            &service_claims(),
        );
        let found = typ.as_str().map(str::to_owned);
        let refused = h.verifier.verify_service(&token).await;
        assert_eq!(
            refused,
            Err(VerifyError::WrongType {
                expected: TYP_SERVICE,
                found
            })
        );
    }
}

#[tokio::test]
async fn an_unknown_kid_is_refused() {
    let h = harness().await;
    let token = gateway_key().sign(&header(TYP_SERVICE, "nope"), &service_claims());
    let refused = h.verifier.verify_service(&token).await;
    assert_eq!(refused, Err(VerifyError::UnknownKey("nope".into())));
    let token = gateway_key().sign(
        &with(service_header(), "kid", json!(null)),
        &service_claims(),
    );
    assert_eq!(
        h.verifier.verify_service(&token).await,
        Err(VerifyError::MissingKeyId)
    );
}

#[tokio::test]
async fn a_truncated_token_is_refused() {
    let h = harness().await;
    let genuine = service_token("jti-1");
    let without_signature = &genuine[..genuine.rfind('.').expect("a dot")];
    let refused = h.verifier.verify_service(without_signature).await;
    assert!(
        matches!(refused, Err(VerifyError::Malformed(_))),
        "{refused:?}"
    );
    let short_signature = &genuine[..genuine.len() - 10];
    assert_eq!(
        h.verifier.verify_service(short_signature).await,
        Err(VerifyError::BadSignature)
    );
    assert!(matches!(
        h.verifier.verify_service("").await,
        Err(VerifyError::Malformed(_))
    ));
}

#[tokio::test]
async fn oversized_tokens_are_refused_before_decoding() {
    let h = harness().await;
    let fat_header = with(service_header(), "pad", json!("x".repeat(1100)));
    let token = gateway_key().sign(&fat_header, &service_claims());
    assert_eq!(
        h.verifier.verify_service(&token).await,
        Err(VerifyError::TooLarge("header"))
    );
    let fat_claims = with(service_claims(), "pad", json!("x".repeat(9000)));
    let token = gateway_key().sign(&service_header(), &fat_claims);
    assert_eq!(
        h.verifier.verify_service(&token).await,
        Err(VerifyError::TooLarge("token"))
    );
    assert_eq!(h.server.jwks_hits(), 0);
}

#[tokio::test]
async fn key_urls_in_the_header_are_never_fetched() {
    let h = harness().await;
    let lure = format!("{}/attacker/jwks.json", h.server.base);
    let head = with(service_header(), "jku", json!(lure));
    let head = with(
        head,
        "x5u",
        json!(format!("{}/attacker/cert.pem", h.server.base)),
    );
    let head = with(head, "jwk", attacker_key().jwk());

    let forged = attacker_key().sign(&head, &service_claims());
    assert_eq!(
        h.verifier.verify_service(&forged).await,
        Err(VerifyError::BadSignature)
    );
    let genuine = gateway_key().sign(&head, &service_claims());
    assert!(
        h.verifier.verify_service(&genuine).await.is_ok(),
        "decided by the real JWKS"
    );
    assert_eq!(h.server.other_hits(), 0, "the lure was never fetched");
    assert_eq!(h.server.jwks_hits(), 1);
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let h = harness().await;
    let head = with(
        with(service_header(), "crit", json!(["b64"])),
        "b64",
        json!(false),
    );
    let token = gateway_key().sign(&head, &service_claims());
    assert_eq!(
        h.verifier.verify_service(&token).await,
        Err(VerifyError::CriticalHeader)
    );
}

#[tokio::test]
async fn refusal_reasons_never_echo_the_token() {
    let h = harness().await;
    let alg = "A".repeat(200);
    let token = gateway_key().sign(
        &with(service_header(), "alg", json!(alg)),
        &service_claims(),
    );
    let reason = h
        .verifier
        .verify_service(&token)
        .await
        .expect_err("refused")
        .to_string();
    assert!(reason.len() < 100, "header values are shortened: {reason}");
    let signature = token.rsplit('.').next().expect("a signature");
    assert!(!reason.contains(signature));
}
