//! Refresh → access tokens, verified the way a third party would: from the published JWKS only.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Verifies `token` with nothing but the gateway's JWKS, as an outside party would.
pub async fn verify_with_jwks(app: &TestApp, token: &str) -> Result<Value, String> {
    let jwks: JwkSet = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks
        .find(&kid)
        .ok_or(format!("kid {kid} not in the JWKS"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&app.url]);
    validation.set_audience(&[&app.url]);
    validation.validate_exp = false; // the test clock is not the wall clock; exp is checked below
    let data = decode::<Value>(token, &key, &validation).map_err(|e| e.to_string())?;
    Ok(data.claims)
}

async fn both_refresh_forms_issue_access_tokens_that_verify_from_the_jwks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner", false).await;
    let (_, reg) = app.register(&owner, "hpc", "test").await;
    let refresh = reg["refreshToken"].as_str().unwrap();

    let (status, ucloud) = app.refresh(refresh).await;
    assert_eq!(status, StatusCode::OK, "{ucloud}");
    assert_eq!(ucloud["responses"][0]["csrfToken"], "");
    let (status, oauth) = app.oauth_refresh(refresh).await;
    assert_eq!(status, StatusCode::OK, "{oauth}");
    assert_eq!(oauth["token_type"], "Bearer");
    assert_eq!(oauth["expires_in"], 600);

    for token in [
        &ucloud["responses"][0]["accessToken"],
        &oauth["access_token"],
    ] {
        let token = token.as_str().unwrap();
        let header = decode_header(token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.alg, Algorithm::RS256);
        let claims = verify_with_jwks(&app, token).await.unwrap();
        assert_eq!(claims["sub"], "#P_hpc");
        assert_eq!(claims["role"], "PROVIDER");
        assert_eq!(claims["aud"], app.url);
        let (iat, nbf, exp) = (
            claims["iat"].as_i64().unwrap(),
            claims["nbf"].as_i64().unwrap(),
            claims["exp"].as_i64().unwrap(),
        );
        assert_eq!(iat, app.clock_secs());
        assert!(nbf <= iat && exp - iat <= 600 && exp > iat);
        assert!(claims["jti"].as_str().unwrap().len() >= 16);
        // And the gateway itself accepts it where a provider authenticates.
        assert_eq!(
            app.app
                .tokens
                .verify_access_token(token)
                .await
                .unwrap()
                .metadata
                .id
                .as_str(),
            "hpc"
        );
    }
    let a = ucloud["responses"][0]["accessToken"].as_str().unwrap();
    let b = oauth["access_token"].as_str().unwrap();
    assert_ne!(a, b, "every token has its own jti");
    app.stop().await;
}
on_both_backends!(
    refresh_forms,
    both_refresh_forms_issue_access_tokens_that_verify_from_the_jwks
);

impl TestApp {
    pub fn clock_secs(&self) -> i64 {
        use gateway::clock::Clock;
        self.clock.now_secs()
    }
}

async fn revoked_rotated_and_suspended_refresh_tokens_get_invalid_grant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user("root", true).await;
    let owner = app.user("owner", false).await;
    let (_, reg) = app.register(&owner, "hpc", "test").await;
    let first = reg["refreshToken"].as_str().unwrap().to_owned();

    // Rotation: the old token stops at once, the new one works.
    let (status, rotated) = app
        .post(&admin, "/api/admin/providers/hpc/refresh-token", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let second = rotated["refreshToken"].as_str().unwrap().to_owned();
    assert_invalid_grant(&app, &first).await;
    assert_eq!(app.oauth_refresh(&second).await.0, StatusCode::OK);

    // Suspension stops refreshes; resuming lets the same token work again.
    app.post(&admin, "/api/admin/providers/hpc/suspend", json!({}))
        .await;
    assert_invalid_grant(&app, &second).await;
    app.post(&admin, "/api/admin/providers/hpc/resume", json!({}))
        .await;
    assert_eq!(app.oauth_refresh(&second).await.0, StatusCode::OK);

    // Revocation.
    let r = app
        .http
        .delete(app.url("/api/admin/providers/hpc/refresh-token"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_invalid_grant(&app, &second).await;
    assert_invalid_grant(&app, "gwr_never-issued").await;
    app.stop().await;
}
on_both_backends!(
    invalid_grant,
    revoked_rotated_and_suspended_refresh_tokens_get_invalid_grant
);

async fn assert_invalid_grant(app: &TestApp, refresh: &str) {
    let (status, body) = app.oauth_refresh(refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    let (status, body) = app.refresh(refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthenticated");
    assert!(
        !body.to_string().contains(refresh),
        "an error never echoes the token"
    );
}

async fn oauth_errors_follow_rfc_6749(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
}
crate::on_both_backends!(oauth_errors_follow_rfc_6749);

async fn the_gateway_refuses_expired_and_foreign_access_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner", false).await;
    let (_, reg) = app.register(&owner, "hpc", "test").await;
    let (_, oauth) = app
        .oauth_refresh(reg["refreshToken"].as_str().unwrap())
        .await;
    let token = oauth["access_token"].as_str().unwrap().to_owned();
    let tokens = &app.app.tokens;
    assert!(tokens.verify_access_token(&token).await.is_ok());

    // The same signing key, but a service token's typ: not an access token.
    let service = app
        .app
        .keys
        .sign(
            "ucloud-service+jwt",
            &verify_with_jwks(&app, &token).await.unwrap(),
        )
        .unwrap();
    let err = tokens
        .verify_access_token(&service)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("typ"), "{err}");

    // Tampered payload: signature no longer matches.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    assert!(tokens.verify_access_token(&parts.join(".")).await.is_err());

    app.clock.advance_secs(601 + 30);
    let err = tokens
        .verify_access_token(&token)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("expired"), "{err}");
}
crate::on_both_backends!(the_gateway_refuses_expired_and_foreign_access_tokens);
