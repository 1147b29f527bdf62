//! Test kit: signing keys (generated once per test binary), token builders, and a JWKS server on
//! 127.0.0.1:0 that counts every request, so tests can assert how often the gateway was asked.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

use crate::auth::{ManualClock, Verifier, VerifierConfig};

pub const NOW: i64 = 1_700_000_000;
pub const ISSUER: &str = "https://gateway.test";
pub const PROVIDER: &str = "myprovider";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

pub struct TestKey {
    pub kid: &'static str,
    pair: KeyPair,
}

fn generate(kid: &'static str) -> TestKey {
    let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
    TestKey { kid, pair }
}

/// The gateway's current signing key.
pub fn gateway_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| generate("gw-1"))
}

/// The key a gateway rotates to.
pub fn rotated_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| generate("gw-2"))
}

/// A key the gateway never published.
pub fn attacker_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| generate("gw-1"))
}

impl TestKey {
    pub fn jwk(&self) -> Value {
        let components = PublicKeyComponents::<Vec<u8>>::from(self.pair.public_key());
        json!({"kty": "RSA", "kid": self.kid, "alg": "RS256", "use": "sig",
               "n": URL_SAFE_NO_PAD.encode(&components.n), "e": URL_SAFE_NO_PAD.encode(&components.e)})
    }

    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = signing_input(header, claims);
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .expect("RSA signing");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// RFC 5280 SubjectPublicKeyInfo DER, what a PEM "PUBLIC KEY" holds.
    pub fn public_spki_der(&self) -> Vec<u8> {
        let der: PublicKeyX509Der<'static> = self.pair.public_key().as_der().expect("SPKI DER");
        der.as_ref().to_vec()
    }

    /// RFC 8017 RSAPublicKey DER.
    pub fn public_pkcs1_der(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    pub fn public_pem(&self) -> String {
        let body = STANDARD.encode(self.public_spki_der());
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|line| std::str::from_utf8(line).expect("base64 is ASCII"))
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }
}

pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

pub fn hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = signing_input(header, claims);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

pub fn header(typ: &str, kid: &str) -> Value {
    json!({"alg": "RS256", "typ": typ, "kid": kid})
}

pub fn service_header() -> Value {
    header(crate::protocol::TYP_SERVICE, gateway_key().kid)
}

pub fn service_claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "_UCloud", "aud": PROVIDER, "role": "SERVICE",
        "iat": NOW, "exp": NOW + 300, "jti": "jti-1",
        "principal": {"username": "DanSebastianThrane#1234", "role": "USER",
            "firstName": "Dan Sebastian", "lastName": "Thrane", "uid": 1234,
            "email": "dan@example.com", "twoFactorAuthentication": true, "organization": "sdu.dk"},
        "project": "project-42"
    })
}

pub fn usermap_claims() -> Value {
    let mut claims = service_claims();
    claims["nonce"] = json!("nonce-1");
    claims["returnUrl"] = json!(format!("{ISSUER}/connections/c1/complete"));
    claims
}

/// `value` with `key` set; `Value::Null` removes it.
pub fn with(mut value: Value, key: &str, new: Value) -> Value {
    let object = value.as_object_mut().expect("a JSON object");
    if new.is_null() {
        object.remove(key);
    } else {
        object.insert(key.to_owned(), new);
    }
    value
}

/// A well-formed service token signed by the gateway's key; `jti` makes it distinct.
pub fn service_token(jti: &str) -> String {
    let claims = with(service_claims(), "jti", json!(jti));
    gateway_key().sign(
        &header(crate::protocol::TYP_SERVICE, gateway_key().kid),
        &claims,
    )
}

pub fn jwks_of(keys: &[&TestKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

struct ServerState {
    jwks: RwLock<String>,
    failing: AtomicBool,
    jwks_hits: AtomicUsize,
    other_hits: AtomicUsize,
    gated: AtomicBool,
    gate: Semaphore,
    entered: Notify,
}

/// The gateway's JWKS endpoint. Every other path counts as a request an attacker lured us to, and
/// answers with the attacker's key set, so fetching it would also make forged tokens pass.
pub struct JwksServer {
    pub base: String,
    state: Arc<ServerState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_jwks(State(state): State<Arc<ServerState>>) -> Response {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if state.gated.load(Ordering::SeqCst) {
        state.entered.notify_one();
        let _permit = state.gate.acquire().await;
    }
    if state.failing.load(Ordering::SeqCst) {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let body = state.jwks.read().expect("jwks lock").clone();
    ([("content-type", "application/json")], body).into_response()
}

async fn serve_lure(State(state): State<Arc<ServerState>>) -> Response {
    state.other_hits.fetch_add(1, Ordering::SeqCst);
    (
        [("content-type", "application/json")],
        jwks_of(&[attacker_key()]),
    )
        .into_response()
}

impl JwksServer {
    pub async fn start(keys: &[&TestKey]) -> Self {
        let state = Arc::new(ServerState {
            jwks: RwLock::new(jwks_of(keys)),
            failing: AtomicBool::new(false),
            jwks_hits: AtomicUsize::new(0),
            other_hits: AtomicUsize::new(0),
            gated: AtomicBool::new(false),
            gate: Semaphore::new(0),
            entered: Notify::new(),
        });
        let router = Router::new()
            .route(JWKS_PATH, get(serve_jwks))
            .route("/moved", get(|| async { Redirect::temporary(JWKS_PATH) }))
            .fallback(serve_lure)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("JWKS server");
        });
        Self { base, state, task }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}{JWKS_PATH}", self.base)
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn other_hits(&self) -> usize {
        self.state.other_hits.load(Ordering::SeqCst)
    }

    pub fn publish(&self, keys: &[&TestKey]) {
        self.publish_raw(jwks_of(keys));
    }

    pub fn publish_raw(&self, body: String) {
        *self.state.jwks.write().expect("jwks lock") = body;
    }

    pub fn fail(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// From now on each JWKS request waits for `open_gate`.
    pub fn close_gate(&self) {
        self.state.gated.store(true, Ordering::SeqCst);
    }

    /// Resolves once a JWKS request is waiting at the closed gate.
    pub async fn request_waiting(&self) {
        self.state.entered.notified().await;
    }

    pub fn open_gate(&self) {
        self.state.gated.store(false, Ordering::SeqCst);
        self.state.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }
}

/// A gateway's JWKS server, a provider's verifier, and the clock they share.
pub struct Harness {
    pub server: JwksServer,
    pub clock: Arc<ManualClock>,
    pub verifier: Verifier,
}

pub async fn harness() -> Harness {
    harness_with(|_| {}).await
}

pub async fn harness_with(configure: impl FnOnce(&mut VerifierConfig)) -> Harness {
    let server = JwksServer::start(&[gateway_key()]).await;
    let clock = Arc::new(ManualClock::new(NOW));
    let mut config = VerifierConfig::new(ISSUER, server.jwks_url(), PROVIDER);
    configure(&mut config);
    let verifier = Verifier::new(config, clock.clone()).expect("verifier config");
    Harness {
        server,
        clock,
        verifier,
    }
}
