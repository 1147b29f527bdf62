//! A small OpenID Provider for the gateway's federated sign-in tests, honest by default and
//! hostile on request: it serves discovery, a JWK Set (RS256 and ES256 keys), an authorization
//! endpoint that signs in whichever user the test chose (no page), a token endpoint that checks the
//! client's secret, the PKCE verifier and that a code is used once, and userinfo. A `Mode` makes its
//! ID token wrong in one way, as an attacker or a broken IdP would.

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "gateway";
pub const CLIENT_SECRET: &str = "client-s3cret";

/// How the ID token goes wrong (or not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Honest,
    WrongNonce,
    NoNonce,
    OtherAudience,
    /// `aud` holds the gateway and another client, `azp` the other client.
    OtherAzp,
    OtherIssuer,
    Expired,
    AlgNone,
    /// HS256 with the client secret as the key: what a confused verifier would accept.
    Hs256WithClientSecret,
    /// Signed by a key the JWK Set does not publish.
    UnpublishedKey,
    /// Discovery names another issuer than the one configured.
    DiscoveryOtherIssuer,
    /// Discovery allows only `client_secret_post` at the token endpoint.
    DiscoveryPostOnly,
}

/// One user the IdP signs in: ID-token claims (sub, amr, acr, …) and userinfo claims.
#[derive(Clone, Debug)]
pub struct Account {
    pub id_token: Value,
    pub userinfo: Value,
}

struct Code {
    nonce: String,
    challenge: String,
    redirect_uri: String,
    account: Account,
}

struct Keys {
    rsa: (EncodingKey, Value),
    ec: (EncodingKey, Value),
    stray: EncodingKey,
}

struct IdpState {
    issuer: String,
    now_secs: i64,
    mode: Mode,
    alg: Algorithm,
    account: Option<Account>,
    codes: HashMap<String, Code>,
    access: HashMap<String, Value>,
    keys: Keys,
    token_auth_seen: Vec<String>,
    counter: u64,
}

#[derive(Clone)]
pub struct TestIdp {
    pub issuer: String,
    state: Arc<Mutex<IdpState>>,
    _stop: Arc<tokio::sync::oneshot::Sender<()>>,
}

fn rsa_key(kid: &str) -> (EncodingKey, Value) {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
    let private = rsa::RsaPrivateKey::from_pkcs8_der(der.as_ref()).unwrap();
    let pkcs1 = private.to_pkcs1_der().unwrap();
    let jwk = json!({"kty":"RSA","kid":kid,"use":"sig","alg":"RS256",
        "n": URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(private.e().to_bytes_be())});
    (EncodingKey::from_rsa_der(pkcs1.as_bytes()), jwk)
}

fn ec_key(kid: &str) -> (EncodingKey, Value) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let raw = pair.public_key_raw();
    let jwk = json!({"kty":"EC","crv":"P-256","kid":kid,"use":"sig","alg":"ES256",
        "x": URL_SAFE_NO_PAD.encode(&raw[1..33]), "y": URL_SAFE_NO_PAD.encode(&raw[33..65])});
    (EncodingKey::from_ec_der(&pair.serialize_der()), jwk)
}

impl TestIdp {
    /// Starts on a free loopback port; `now_secs` is the time it stamps tokens with (the gateway's
    /// clock in tests).
    pub async fn start(now_secs: i64) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(IdpState {
            issuer: issuer.clone(),
            now_secs,
            mode: Mode::Honest,
            alg: Algorithm::RS256,
            account: None,
            codes: HashMap::new(),
            access: HashMap::new(),
            keys: Keys {
                rsa: rsa_key("rsa-1"),
                ec: ec_key("ec-1"),
                stray: rsa_key("stray").0,
            },
            token_auth_seen: Vec::new(),
            counter: 0,
        }));
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Self {
            issuer,
            state,
            _stop: Arc::new(tx),
        }
    }

    /// The gateway's `identity_providers:` entry for this IdP, its secret in a file under `dir`.
    pub fn config(&self, id: &str, dir: &std::path::Path) -> gateway::oidc::IdentityProviderConfig {
        let secret = dir.join(format!("{id}-secret"));
        std::fs::write(&secret, format!("{CLIENT_SECRET}\n")).unwrap();
        serde_yaml::from_value(
            serde_yaml::to_value(json!({
                "id": id, "display_name": "Test University", "issuer": self.issuer,
                "client_id": CLIENT_ID, "client_secret_file": secret, "username_claim": "uid",
            }))
            .unwrap(),
        )
        .unwrap()
    }

    /// Whom the next authorization signs in.
    pub fn sign_in_next(&self, account: Account) {
        self.state.lock().unwrap().account = Some(account);
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    pub fn set_alg(&self, alg: Algorithm) {
        self.state.lock().unwrap().alg = alg;
    }

    /// Replaces the RSA key (new kid): the gateway must fetch the JWK Set again.
    pub fn rotate_rsa_key(&self, kid: &str) {
        self.state.lock().unwrap().keys.rsa = rsa_key(kid);
    }

    /// How the gateway authenticated at the token endpoint, per call: `basic` or `post`.
    pub fn token_auth_seen(&self) -> Vec<String> {
        self.state.lock().unwrap().token_auth_seen.clone()
    }
}

async fn discovery(State(s): State<Arc<Mutex<IdpState>>>) -> Response {
    let (issuer, mode) = {
        let s = s.lock().unwrap();
        (s.issuer.clone(), s.mode)
    };
    let named = if mode == Mode::DiscoveryOtherIssuer {
        "https://evil.example".to_owned()
    } else {
        issuer.clone()
    };
    let methods = if mode == Mode::DiscoveryPostOnly {
        json!(["client_secret_post"])
    } else {
        json!(["client_secret_basic", "client_secret_post"])
    };
    axum::Json(json!({
        "issuer": named,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "HS256", "none"],
        "token_endpoint_auth_methods_supported": methods,
    }))
    .into_response()
}

async fn jwks(State(s): State<Arc<Mutex<IdpState>>>) -> Response {
    let s = s.lock().unwrap();
    axum::Json(json!({"keys": [s.keys.rsa.1, s.keys.ec.1]})).into_response()
}

async fn authorize(
    State(s): State<Arc<Mutex<IdpState>>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = s.lock().unwrap();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].split(' ').any(|x| x == "openid"));
    let account = s.account.clone().expect("the test chose who signs in");
    s.counter += 1;
    let code = format!("code-{}", s.counter);
    s.codes.insert(
        code.clone(),
        Code {
            nonce: q["nonce"].clone(),
            challenge: q["code_challenge"].clone(),
            redirect_uri: q["redirect_uri"].clone(),
            account,
        },
    );
    let mut back = url::Url::parse(&q["redirect_uri"]).unwrap();
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &q["state"]);
    Redirect::to(back.as_str()).into_response()
}

fn oauth_error(code: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": code}))).into_response()
}

async fn token(
    State(s): State<Arc<Mutex<IdpState>>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let mut s = s.lock().unwrap();
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(|b| String::from_utf8(STANDARD.decode(b).unwrap()).unwrap());
    let authenticated = match basic {
        Some(pair) => {
            s.token_auth_seen.push("basic".into());
            pair == format!("{CLIENT_ID}:{CLIENT_SECRET}")
        }
        None => {
            s.token_auth_seen.push("post".into());
            f.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && f.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        }
    };
    if !authenticated {
        return oauth_error("invalid_client");
    }
    // A code is used once: a second exchange is refused.
    let Some(code) = f.get("code").and_then(|c| s.codes.remove(c)) else {
        return oauth_error("invalid_grant");
    };
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    let challenge = URL_SAFE_NO_PAD.encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref(),
    );
    if challenge != code.challenge || f.get("redirect_uri") != Some(&code.redirect_uri) {
        return oauth_error("invalid_grant");
    }
    let now = s.now_secs;
    let mut claims = json!({
        "iss": s.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300, "nonce": code.nonce,
    });
    for (k, v) in code.account.id_token.as_object().unwrap() {
        claims[k] = v.clone();
    }
    match s.mode {
        Mode::WrongNonce => claims["nonce"] = json!("not-the-nonce"),
        Mode::NoNonce => {
            claims.as_object_mut().unwrap().remove("nonce");
        }
        Mode::OtherAudience => claims["aud"] = json!("another-client"),
        Mode::OtherAzp => {
            claims["aud"] = json!([CLIENT_ID, "another-client"]);
            claims["azp"] = json!("another-client");
        }
        Mode::OtherIssuer => claims["iss"] = json!("https://evil.example"),
        Mode::Expired => {
            claims["iat"] = json!(now - 4000);
            claims["exp"] = json!(now - 3600);
        }
        _ => {}
    }
    let id_token = match s.mode {
        Mode::AlgNone => {
            let h = URL_SAFE_NO_PAD.encode(json!({"alg":"none","typ":"JWT"}).to_string());
            let p = URL_SAFE_NO_PAD.encode(claims.to_string());
            format!("{h}.{p}.")
        }
        Mode::Hs256WithClientSecret => {
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some("rsa-1".into());
            jsonwebtoken::encode(
                &h,
                &claims,
                &EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
            )
            .unwrap()
        }
        Mode::UnpublishedKey => {
            let mut h = Header::new(Algorithm::RS256);
            h.kid = Some("stray".into());
            jsonwebtoken::encode(&h, &claims, &s.keys.stray).unwrap()
        }
        _ => {
            let (key, kid) = if s.alg == Algorithm::ES256 {
                (
                    &s.keys.ec.0,
                    s.keys.ec.1["kid"].as_str().unwrap().to_owned(),
                )
            } else {
                (
                    &s.keys.rsa.0,
                    s.keys.rsa.1["kid"].as_str().unwrap().to_owned(),
                )
            };
            let mut h = Header::new(s.alg);
            h.kid = Some(kid);
            jsonwebtoken::encode(&h, &claims, key).unwrap()
        }
    };
    s.counter += 1;
    let access = format!("access-{}", s.counter);
    let mut info = code.account.userinfo.clone();
    info["sub"] = code.account.id_token["sub"].clone();
    s.access.insert(access.clone(), info);
    axum::Json(json!({"access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": id_token}))
        .into_response()
}

async fn userinfo(State(s): State<Arc<Mutex<IdpState>>>, headers: HeaderMap) -> Response {
    let s = s.lock().unwrap();
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    match s.access.get(token) {
        Some(info) => axum::Json(info.clone()).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}
