//! Attacks on token lifetimes and the key ring (SPEC §2): a token signed with the gateway's own key
//! but living for years, and a leaked key that must leave the JWK Set at once.

use crate::accounting::{charge, grant, provider_token};
use crate::on_both_backends;
use crate::support::{Backend, START_MS, TestApp, read};
use crate::upstream::{MANIFEST, Upstream};
use jsonwebtoken::decode_header;
use provider_kit::protocol::{AccessClaims, TYP_ACCESS};
use reqwest::StatusCode;
use serde_json::{Value, json};

const DECADE: i64 = 10 * 365 * 24 * 3600;

/// A gateway with provider `hpc`, a wallet for `owner` there, and a genuine access token for `hpc`.
async fn provider_with_wallet(backend: Backend) -> (TestApp, String, String) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let owner = app.user("owner", false).await;
    let access = provider_token(&app, &owner, "hpc").await;
    grant(&app, &admin, json!({ "username": "owner" }), "hpc", 100).await;
    (app, admin, access)
}

/// Charges one unit to `owner`'s wallet: what a provider does with its access token.
async fn charge_one(app: &TestApp, access: &str, id: &str) -> (StatusCode, Value) {
    charge(app, access, id, json!({ "username": "owner" }), 1).await
}

fn assert_refused(answer: &(StatusCode, Value), why: &str) {
    let (status, body) = answer;
    assert_eq!(*status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "unauthenticated", "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains(why),
        "{why}: {body}"
    );
}

async fn published_kids(app: &TestApp) -> Vec<String> {
    let r = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let (_, jwks) = read(r).await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn kid_of(token: &str) -> String {
    decode_header(token).unwrap().kid.unwrap()
}

async fn an_access_token_living_ten_years_signed_with_the_gateways_own_key_is_refused(
    backend: Backend,
) {
    let (app, _, genuine) = provider_with_wallet(backend).await;
    assert_eq!(charge_one(&app, &genuine, "c-1").await.0, StatusCode::OK);

    let now = app.clock_secs();
    let claims = |iat: i64, exp: i64| AccessClaims {
        iss: app.url.clone(),
        sub: "#P_hpc".into(),
        aud: app.url.clone(),
        role: "PROVIDER".into(),
        iat,
        nbf: now,
        exp,
        jti: "forever".into(),
    };
    let forever = app
        .app
        .tokens
        .sign(TYP_ACCESS, &claims(now, now + DECADE))
        .unwrap();
    assert_refused(&charge_one(&app, &forever, "c-2").await, "lifetime");

    // Backdated: exp looks fresh, iat says it was issued years ago.
    let backdated = app
        .app
        .tokens
        .sign(TYP_ACCESS, &claims(now - DECADE, now + 60))
        .unwrap();
    assert_refused(&charge_one(&app, &backdated, "c-3").await, "lifetime");

    // The longest lifetime SPEC §2 allows, plus the leeway, still works.
    let edge = app
        .app
        .tokens
        .sign(TYP_ACCESS, &claims(now, now + 600 + 30))
        .unwrap();
    assert_eq!(charge_one(&app, &edge, "c-4").await.0, StatusCode::OK);

    // No iat at all.
    let mut no_iat = serde_json::to_value(claims(now, now + 600)).unwrap();
    no_iat.as_object_mut().unwrap().remove("iat");
    let no_iat = app.app.tokens.sign(TYP_ACCESS, &no_iat).unwrap();
    assert_refused(&charge_one(&app, &no_iat, "c-5").await, "iat");
    app.stop().await;
}
on_both_backends!(
    ten_year_access_token,
    an_access_token_living_ten_years_signed_with_the_gateways_own_key_is_refused
);

async fn a_revoked_key_leaves_the_jwks_at_once_and_its_access_tokens_stop_working(
    backend: Backend,
) {
    let (app, admin, old_token) = provider_with_wallet(backend).await;
    let leaked = kid_of(&old_token);
    let (_, rotated) = app
        .post(&admin, "/api/admin/keys/rotate?immediate=true", json!({}))
        .await;
    let current = rotated["kid"].as_str().unwrap().to_owned();
    assert_eq!(
        published_kids(&app).await,
        [current.clone(), leaked.clone()]
    );
    assert_eq!(
        charge_one(&app, &old_token, "c-1").await.0,
        StatusCode::OK,
        "a rotation alone keeps the old key's tokens working"
    );

    let (status, revoked) = app
        .post(
            &admin,
            &format!("/api/admin/keys/{leaked}/revoke"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["kid"], leaked.as_str());
    assert_eq!(revoked["replacedBy"], Value::Null, "it no longer signed");
    assert_eq!(published_kids(&app).await, std::slice::from_ref(&current));
    assert_refused(&charge_one(&app, &old_token, "c-2").await, "unknown kid");

    // The audit log says who did it.
    let (_, audit) = app.get(&admin, "/api/admin/audit").await;
    let entry = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "keys.revoked")
        .expect("an audit entry");
    assert_eq!(
        (entry["actor"].as_str(), entry["target"].as_str()),
        (Some("root"), Some(leaked.as_str()))
    );

    // Revoking it again, or a key that never existed: 404, changing nothing.
    for kid in [leaked.as_str(), "no-such-kid"] {
        let (status, problem) = app
            .post(&admin, &format!("/api/admin/keys/{kid}/revoke"), json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
        assert_eq!(problem["code"], "notFound");
    }
    assert_eq!(published_kids(&app).await, [current]);

    // Only an admin may revoke.
    let owner = app.user("mallory", false).await;
    let (status, _) = app
        .post(
            &owner,
            &format!("/api/admin/keys/{}/revoke", kid_of(&old_token)),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.stop().await;
}
on_both_backends!(
    revoke_retired_key,
    a_revoked_key_leaves_the_jwks_at_once_and_its_access_tokens_stop_working
);

async fn revoking_the_current_and_only_key_puts_a_new_key_in_its_place_that_signs_at_once(
    backend: Backend,
) {
    let (app, admin, old_token) = provider_with_wallet(backend).await;
    let leaked = kid_of(&old_token);
    assert_eq!(published_kids(&app).await, std::slice::from_ref(&leaked));

    let (status, revoked) = app
        .post(
            &admin,
            &format!("/api/admin/keys/{leaked}/revoke"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    let replacement = revoked["replacedBy"]["kid"].as_str().unwrap().to_owned();
    assert_ne!(replacement, leaked);
    assert_eq!(
        published_kids(&app).await,
        std::slice::from_ref(&replacement)
    );
    assert_refused(&charge_one(&app, &old_token, "c-1").await, "unknown kid");

    // No activation delay: the very next token is signed with the replacement, and works.
    let (_, reg) = app
        .post(&admin, "/api/admin/providers/hpc/refresh-token", json!({}))
        .await;
    let (_, fresh) = app
        .oauth_refresh(reg["refreshToken"].as_str().unwrap())
        .await;
    let fresh = fresh["access_token"].as_str().unwrap();
    assert_eq!(kid_of(fresh), replacement);
    assert_eq!(charge_one(&app, fresh, "c-2").await.0, StatusCode::OK);
    app.stop().await;
}
on_both_backends!(
    revoke_current_key,
    revoking_the_current_and_only_key_puts_a_new_key_in_its_place_that_signs_at_once
);

async fn the_broker_never_sends_a_cached_service_token_of_a_revoked_key_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let upstream = Upstream::start("dev", &app.url, START_MS / 1000, MANIFEST).await;
    let admin = app.user("root", true).await;
    let owner = app.user("owner", false).await;
    let body = json!({ "id": "dev", "domain": "127.0.0.1", "https": false, "port": upstream.port, "env": "test" });
    assert_eq!(
        app.post(&owner, "/api/providers", body).await.0,
        StatusCode::CREATED
    );
    let provider = app.app.registry.get_any("dev").await.unwrap();
    app.app.manifests.refresh(&provider).await.unwrap();

    let seen_kid = || async {
        let r = app
            .http
            .get(app.url("/ucloud/dev/compute/docker/echo"))
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap();
        let (status, seen) = read(r).await;
        assert_eq!(status, StatusCode::OK, "{seen}");
        let bearer = seen["headers"]["authorization"].as_str().unwrap();
        kid_of(bearer.strip_prefix("Bearer ").unwrap())
    };
    let leaked = seen_kid().await;
    assert_eq!(
        seen_kid().await,
        leaked,
        "the service token is cached and reused"
    );

    let (status, revoked) = app
        .post(
            &admin,
            &format!("/api/admin/keys/{leaked}/revoke"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    // The provider learns the new key once its refetch throttle allows.
    upstream.clock.advance(30);
    assert_eq!(
        seen_kid().await,
        revoked["replacedBy"]["kid"].as_str().unwrap(),
        "a new token, signed with the replacement"
    );
    app.stop().await;
}
on_both_backends!(
    broker_after_revoke,
    the_broker_never_sends_a_cached_service_token_of_a_revoked_key_again
);
