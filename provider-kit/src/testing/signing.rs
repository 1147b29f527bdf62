//! The fake gateway's signing key: RSA-2048 made once per test binary, published as a JWK, signing
//! service tokens exactly as SPEC §2.2 describes them.

use std::sync::OnceLock;

use crate::auth::{Clock as _, SystemClock};
use crate::protocol::{Principal, TYP_SERVICE, TYP_USERMAP};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub const KID: &str = "fake-gw-1";

fn key() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(|| KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"))
}

pub fn jwks() -> Value {
    let public = PublicKeyComponents::<Vec<u8>>::from(key().public_key());
    json!({"keys": [{"kty": "RSA", "kid": KID, "alg": "RS256", "use": "sig",
                     "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e)}]})
}

pub fn sign(header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0; key().public_modulus_len()];
    key()
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut signature,
        )
        .expect("RSA signing");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A service token from `issuer` to `audience`, on behalf of `principal` (and `project`).
pub fn service_token(
    issuer: &str,
    audience: &str,
    principal: Option<&Principal>,
    project: Option<&str>,
) -> String {
    let now = SystemClock.now_unix();
    let jti = format!(
        "jti-{}",
        JTI.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let claims = json!({"iss": issuer, "sub": "_UCloud", "aud": audience, "role": "SERVICE",
                        "iat": now, "exp": now + 300, "jti": jti,
                        "principal": principal, "project": project});
    sign(
        &json!({"alg": "RS256", "typ": TYP_SERVICE, "kid": KID}),
        &claims,
    )
}

/// A usermap token (SPEC §4 step 2) from `issuer` to `audience` for `principal`, carrying `nonce`
/// and the gateway's `return_url`.
pub fn usermap_token(
    issuer: &str,
    audience: &str,
    principal: &Principal,
    nonce: &str,
    return_url: &str,
) -> String {
    let now = SystemClock.now_unix();
    let jti = format!(
        "jti-{}",
        JTI.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let claims = json!({"iss": issuer, "sub": "_UCloud", "aud": audience, "role": "SERVICE",
                        "iat": now, "exp": now + 300, "jti": jti, "principal": principal,
                        "nonce": nonce, "returnUrl": return_url});
    sign(
        &json!({"alg": "RS256", "typ": TYP_USERMAP, "kid": KID}),
        &claims,
    )
}

static JTI: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A gateway user as the principal of SPEC §2.2.
pub fn principal(username: &str) -> Principal {
    Principal {
        username: username.to_owned(),
        role: "USER".into(),
        first_name: "Dan Sebastian".into(),
        last_name: "Thrane".into(),
        uid: 1234,
        email: "dan@example.org".into(),
        two_factor_authentication: true,
        organization: Some("sdu.dk".into()),
        assurance: Vec::new(),
        identity_provider: None,
        site_username: None,
    }
}
