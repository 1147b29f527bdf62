//! Key rotation: new tokens carry the new kid, old tokens keep verifying until they expire, and
//! the retired key leaves the JWKS only after that.

use crate::support::{Backend, TestApp};
use crate::tokens::verify_with_jwks;
use jsonwebtoken::decode_header;
use serde_json::{Value, json};

async fn access_token(app: &TestApp, refresh: &str) -> String {
    app.oauth_refresh(refresh).await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn published_kids(app: &TestApp) -> Vec<String> {
    let jwks: Value = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            assert_eq!(
                (k["kty"].as_str(), k["alg"].as_str(), k["use"].as_str()),
                (Some("RSA"), Some("RS256"), Some("sig"))
            );
            k["kid"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn rotation_publishes_first_signs_later_and_keeps_old_tokens_verifiable_until_they_expire(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let owner = app.user("owner", false).await;
    let (_, reg) = app.register(&owner, "hpc", "test").await;
    let refresh = reg["refreshToken"].as_str().unwrap();

    let old = access_token(&app, refresh).await;
    let old_kid = decode_header(&old).unwrap().kid.unwrap();
    assert_eq!(published_kids(&app).await, std::slice::from_ref(&old_kid));

    // A scheduled rotation: the new key is published at once but signs only after the delay.
    let (_, rotated) = app.post(&admin, "/api/admin/keys/rotate", json!({})).await;
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(
        published_kids(&app).await,
        [new_kid.clone(), old_kid.clone()]
    );
    let during = access_token(&app, refresh).await;
    assert_eq!(
        decode_header(&during).unwrap().kid.unwrap(),
        old_kid,
        "not yet active"
    );

    app.clock.advance_secs(app.app.config.key_activation_secs);
    let new = access_token(&app, refresh).await;
    assert_eq!(decode_header(&new).unwrap().kid.unwrap(), new_kid);
    assert!(
        verify_with_jwks(&app, &old).await.is_ok(),
        "old tokens still verify after a rotation"
    );
    assert!(verify_with_jwks(&app, &new).await.is_ok());

    // Past the longest token lifetime (plus skew) after its retirement, the old key is unpublished.
    app.clock.advance_secs(600 + 60 - 1);
    app.app.keys.reload().await.unwrap();
    assert_eq!(published_kids(&app).await.len(), 2);
    app.clock.advance_secs(1);
    app.app.keys.reload().await.unwrap();
    assert_eq!(published_kids(&app).await, std::slice::from_ref(&new_kid));
    assert!(verify_with_jwks(&app, &old).await.is_err());

    // An immediate rotation (a compromised key) signs with the new key at once.
    let (_, rotated) = app
        .post(&admin, "/api/admin/keys/rotate?immediate=true", json!({}))
        .await;
    let newest = access_token(&app, refresh).await;
    assert_eq!(
        decode_header(&newest).unwrap().kid.unwrap(),
        rotated["kid"].as_str().unwrap()
    );
}
crate::on_both_backends!(
    rotation_publishes_first_signs_later_and_keeps_old_tokens_verifiable_until_they_expire
);

async fn a_restarted_gateway_keeps_its_key_and_a_rotation_by_another_process_is_picked_up(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let kid = app.app.keys.current_kid().unwrap();

    // A second App on the same database and data dir (a restart, or a replica) loads the same key.
    let config = app.app.config.clone();
    let other = gateway::app::App::build(config, app.url.clone(), app.clock.clone())
        .await
        .unwrap();
    assert_eq!(other.keys.current_kid().unwrap(), kid);

    // It rotates; the first picks the new key up at its next reload.
    let new_kid = other
        .keys
        .rotate(gateway::keys::Activation::Now)
        .await
        .unwrap()
        .kid;
    assert_eq!(app.app.keys.current_kid().unwrap(), kid);
    app.app.keys.reload().await.unwrap();
    assert_eq!(app.app.keys.current_kid().unwrap(), new_kid);
    assert_eq!(published_kids(&app).await, [new_kid, kid]);
}
crate::on_both_backends!(
    a_restarted_gateway_keeps_its_key_and_a_rotation_by_another_process_is_picked_up
);

async fn a_revocation_by_another_process_is_picked_up_at_the_next_reload(
    backend: crate::support::Backend,
) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner", false).await;
    let (_, reg) = app.register(&owner, "hpc", "test").await;
    let token = access_token(&app, reg["refreshToken"].as_str().unwrap()).await;
    let kid = app.app.keys.current_kid().unwrap();

    // Another process on the same database and key folder (a replica, or `gateway keys revoke`).
    let config = app.app.config.clone();
    let other = gateway::app::App::build(config, app.url.clone(), app.clock.clone())
        .await
        .unwrap();
    let revoked = other.keys.revoke(&kid).await.unwrap();
    let replacement = revoked.replaced_by.unwrap().kid;
    assert!(
        !app.app
            .config
            .keys_dir()
            .join(format!("key-{kid}.pem"))
            .exists(),
        "the revoked private key is deleted"
    );

    app.app.keys.reload().await.unwrap();
    assert_eq!(
        published_kids(&app).await,
        std::slice::from_ref(&replacement)
    );
    assert_eq!(app.app.keys.current_kid().unwrap(), replacement);
    assert!(app.app.tokens.verify_access_token(&token).await.is_err());
    app.stop().await;
}
crate::on_both_backends!(
    revocation_elsewhere,
    a_revocation_by_another_process_is_picked_up_at_the_next_reload
);
