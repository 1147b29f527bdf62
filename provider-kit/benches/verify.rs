//! Verification throughput of `provider_kit::auth::Verifier` on this machine, one core:
//! cold (every token new, so RSA every time) and hot (one token repeated, answered by the
//! verified-token cache), next to bare aws-lc-rs RSA verification (the key parsed per call, and
//! parsed once as the `Verifier` holds it) and `openssl speed rsa2048`,
//! so a regression in our own overhead (parsing, claims, locking) shows up as a falling ratio.
//!
//! `cargo bench -p provider-kit --bench verify`

use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use provider_kit::auth::{ManualClock, Verifier, VerifierConfig};
use serde_json::json;

const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://gateway.bench";
const PROVIDER: &str = "bench";
const DISTINCT_TOKENS: usize = 1_000;
const RUN_FOR: Duration = Duration::from_secs(2);

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(key: &KeyPair, jti: usize) -> String {
    let header = json!({"alg": "RS256", "typ": "ucloud-service+jwt", "kid": "bench-1"});
    let claims = json!({
        "iss": ISSUER, "sub": "_UCloud", "aud": PROVIDER, "role": "SERVICE",
        "iat": NOW, "exp": NOW + 300, "jti": format!("jti-{jti}"),
        "principal": {"username": "DanSebastianThrane#1234", "role": "USER",
            "firstName": "Dan Sebastian", "lastName": "Thrane", "uid": 1234,
            "email": "dan@example.com", "twoFactorAuthentication": true, "organization": "sdu.dk"},
        "project": "project-42"
    });
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .expect("RSA signing");
    format!("{input}.{}", b64(signature))
}

/// Calls `op` for `RUN_FOR` and returns operations per second.
async fn rate<F: std::future::Future<Output = ()>>(mut op: impl FnMut(usize) -> F) -> f64 {
    let start = Instant::now();
    let mut done = 0usize;
    while start.elapsed() < RUN_FOR {
        for _ in 0..64 {
            op(done).await;
            done += 1;
        }
    }
    done as f64 / start.elapsed().as_secs_f64()
}

/// verify/s of `openssl speed rsa2048`: the last column of its `rsa 2048 bits` row.
fn openssl_verify_rate() -> Option<f64> {
    let output = Command::new("openssl")
        .args(["speed", "-seconds", "2", "rsa2048"])
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let row = stdout
        .lines()
        .find(|line| line.starts_with("rsa 2048 bits"))?;
    row.split_whitespace().last()?.parse().ok()
}

async fn verifier(jwks_url: &str, cache: usize) -> Verifier {
    let mut config = VerifierConfig::new(ISSUER, jwks_url, PROVIDER);
    config.token_cache_capacity = cache;
    let verifier = Verifier::new(config, Arc::new(ManualClock::new(NOW))).expect("config");
    verifier.refresh_keys().await.expect("the bench JWKS");
    verifier
}

async fn run() {
    let key = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
    let public = PublicKeyComponents::<Vec<u8>>::from(key.public_key());
    let jwks = json!({"keys": [{"kty": "RSA", "kid": "bench-1", "alg": "RS256", "use": "sig",
                                "n": b64(&public.n), "e": b64(&public.e)}]})
    .to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let jwks_url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    let router = Router::new().route("/jwks.json", get(move || async move { jwks }));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("JWKS server") });

    println!("signing {DISTINCT_TOKENS} service tokens with RSA-2048...");
    let tokens: Vec<String> = (0..DISTINCT_TOKENS).map(|i| sign(&key, i)).collect();

    let cold = verifier(&jwks_url, 0).await;
    let cold_rate = rate(|i| {
        let (cold, token) = (&cold, &tokens[i % DISTINCT_TOKENS]);
        async move {
            black_box(cold.verify_service(token).await.expect("valid"));
        }
    })
    .await;

    let hot = verifier(&jwks_url, VerifierConfig::DEFAULT_TOKEN_CACHE_CAPACITY).await;
    let hot_rate = rate(|_| {
        let (hot, token) = (&hot, &tokens[0]);
        async move {
            black_box(hot.verify_service(token).await.expect("valid"));
        }
    })
    .await;

    let der = key.public_key().as_ref().to_vec();
    let raw_rate = rate(|i| {
        let token = &tokens[i % DISTINCT_TOKENS];
        let (input, signature) = token.rsplit_once('.').expect("a signature");
        let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
        let key = aws_lc_rs::signature::UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &der);
        key.verify(black_box(input.as_bytes()), black_box(&signature))
            .expect("valid");
        async {}
    })
    .await;

    let parsed = aws_lc_rs::signature::ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &der)
        .expect("a parsed key");
    let parsed_rate = rate(|i| {
        let token = &tokens[i % DISTINCT_TOKENS];
        let (input, signature) = token.rsplit_once('.').expect("a signature");
        let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
        parsed
            .verify_sig(black_box(input.as_bytes()), black_box(&signature))
            .expect("valid");
        async {}
    })
    .await;

    println!("Verifier, cold (distinct tokens, no cache):  {cold_rate:>12.0} verify/s");
    println!("Verifier, hot (verified-token cache hit):    {hot_rate:>12.0} verify/s");
    println!("aws-lc-rs RSA-2048 verify, key parsed each:  {raw_rate:>12.0} verify/s");
    println!("aws-lc-rs RSA-2048 verify, key parsed once:  {parsed_rate:>12.0} verify/s");
    match openssl_verify_rate() {
        Some(openssl) => {
            println!("openssl speed -seconds 2 rsa2048:            {openssl:>12.0} verify/s");
            println!(
                "ratio cold / openssl:                        {:>12.2}",
                cold_rate / openssl
            );
        }
        None => println!("openssl not found"),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run());
}
