//! The live key ring: which key signs now, which keys are published, rotation, revocation, and JWS
//! signing.

use super::material::{KeyError, KeyMaterial};
use crate::clock::SharedClock;
use crate::model::SigningKeyRecord;
use crate::store::{Store, StoreError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use provider_kit::protocol::{Jwk, JwkSet};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("no current signing key is loaded")]
    NoCurrentKey,
    #[error("serializing claims: {0}")]
    Claims(#[from] serde_json::Error),
    #[error("RSA signing failed")]
    Crypto,
}

#[derive(Debug, thiserror::Error)]
pub enum RingError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("there is no signing key with kid {0:?}, or it is revoked already")]
    NoSuchKey(String),
    #[error(transparent)]
    Ring(#[from] RingError),
}

impl From<StoreError> for RevokeError {
    fn from(e: StoreError) -> Self {
        Self::Ring(e.into())
    }
}

/// A key taken out of the ring, and the key that replaced it when it was the one signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedKey {
    pub kid: String,
    /// Unix milliseconds.
    pub revoked_at: i64,
    pub replaced_by: Option<RotatedKey>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotatedKey {
    pub kid: String,
    /// Unix milliseconds from which the key signs.
    pub active_from: i64,
}

pub struct KeyRing {
    dir: PathBuf,
    store: Store,
    clock: SharedClock,
    /// How long a retired key stays published: the longest token lifetime plus clock skew.
    retention_ms: i64,
    state: RwLock<Arc<RingState>>,
}

/// When a rotated-in key starts signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// At once: for a first key, or when the current key is compromised.
    Now,
    /// After this many seconds. Published at once, so verifiers that refetch the JWKS on an unknown
    /// `kid` at most once per interval shorter than this always find the new key.
    After(i64),
}

/// A key this replica can sign with, and the window in which it is the one to use.
struct Signer {
    active_from: i64,
    retired_at: Option<i64>,
    material: Arc<KeyMaterial>,
}

#[derive(Default)]
struct RingState {
    /// Newest first.
    signers: Vec<Signer>,
    jwks: JwkSet,
    jwks_json: Arc<str>,
    /// Every published key whose private half this replica has loaded, so reloads do not re-read files.
    loaded: HashMap<String, Arc<KeyMaterial>>,
    /// Published public keys, for verifying the gateway's own access tokens.
    verifying: HashMap<String, Arc<jsonwebtoken::DecodingKey>>,
}

impl KeyRing {
    /// Loads the ring; generates and persists the first key when there is none.
    pub async fn open(
        store: Store,
        dir: PathBuf,
        clock: SharedClock,
        retention_secs: i64,
    ) -> Result<Self, RingError> {
        let ring = Self {
            dir,
            store,
            clock,
            retention_ms: retention_secs * 1000,
            state: RwLock::new(Arc::default()),
        };
        ring.reload().await?;
        if ring.current_kid().is_none() {
            tracing::info!("no signing key yet; generating the first one");
            ring.rotate(Activation::Now).await?;
        }
        Ok(ring)
    }

    /// Adds a new key, published at once and signing from `activation`; the previous key signs
    /// until then and stays published until every token it signed has expired.
    pub async fn rotate(&self, activation: Activation) -> Result<RotatedKey, RingError> {
        let dir = self.dir.clone();
        let material = tokio::task::spawn_blocking(move || KeyMaterial::generate(&dir))
            .await
            .map_err(|_| KeyError::Generate)??;
        let record = SigningKeyRecord {
            kid: material.kid.clone(),
            n: material.n.clone(),
            e: material.e.clone(),
            created_at: match activation {
                Activation::Now => self.clock.now_ms(),
                Activation::After(secs) => self.clock.now_ms() + secs * 1000,
            },
            retired_at: None,
        };
        self.store.rotate_signing_key(&record).await?;
        tracing::info!(kid = %record.kid, active_from = %crate::clock::rfc3339(record.created_at), "signing key rotated");
        self.reload().await?;
        Ok(RotatedKey {
            kid: record.kid,
            active_from: record.created_at,
        })
    }

    /// Takes `kid` out of the JWK Set at once; tokens signed with it stop verifying here at once and
    /// on other replicas at their next reload. A key that signs now (or is scheduled to) is first
    /// replaced by a new key that signs at once, so signing never stops, even for the last key.
    pub async fn revoke(&self, kid: &str) -> Result<RevokedKey, RevokeError> {
        let unknown = || RevokeError::NoSuchKey(shown_kid(kid));
        let record = self
            .store
            .unrevoked_signing_key(kid)
            .await?
            .ok_or_else(unknown)?;
        let now = self.clock.now_ms();
        let replaced_by = if record.retired_at.is_none_or(|retired| retired > now) {
            Some(self.rotate(Activation::Now).await?)
        } else {
            None
        };
        let revoked_at = self.clock.now_ms();
        if !self.store.revoke_signing_key(kid, revoked_at).await? {
            return Err(unknown());
        }
        let (dir, owned) = (self.dir.clone(), kid.to_owned());
        match tokio::task::spawn_blocking(move || KeyMaterial::remove(&dir, &owned)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(%kid, error = %e, "the revoked key's file could not be deleted")
            }
            Err(e) => tracing::warn!(%kid, error = %e, "deleting the revoked key's file failed"),
        }
        tracing::warn!(%kid, replaced_by = ?replaced_by.as_ref().map(|k| &k.kid), "signing key revoked");
        self.reload().await?;
        Ok(RevokedKey {
            kid: record.kid,
            revoked_at,
            replaced_by,
        })
    }

    /// Re-reads the published keys from the database (another replica may have rotated or revoked).
    pub async fn reload(&self) -> Result<(), RingError> {
        let now = self.clock.now_ms();
        let records = self
            .store
            .published_signing_keys(now - self.retention_ms)
            .await?;
        let previous = self.snapshot();
        let mut loaded = HashMap::new();
        let mut verifying = HashMap::new();
        let mut signers = Vec::new();
        for record in &records {
            let material = match previous.loaded.get(&record.kid) {
                Some(m) => Some(m.clone()),
                None => {
                    let (dir, kid) = (self.dir.clone(), record.kid.clone());
                    match tokio::task::spawn_blocking(move || KeyMaterial::load(&dir, &kid)).await {
                        Ok(Ok(m)) => Some(Arc::new(m)),
                        Ok(Err(e)) if record.retired_at.is_none() => {
                            tracing::error!(kid = %record.kid, error = %e, "the current signing key cannot be loaded");
                            None
                        }
                        _ => None,
                    }
                }
            };
            if let Some(m) = material {
                loaded.insert(record.kid.clone(), m.clone());
                signers.push(Signer {
                    active_from: record.created_at,
                    retired_at: record.retired_at,
                    material: m,
                });
            }
            if let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_components(&record.n, &record.e) {
                verifying.insert(record.kid.clone(), Arc::new(key));
            }
        }
        let jwks = JwkSet {
            keys: records
                .iter()
                .map(|r| Jwk {
                    kty: "RSA".into(),
                    kid: r.kid.clone(),
                    alg: "RS256".into(),
                    use_: "sig".into(),
                    n: r.n.clone(),
                    e: r.e.clone(),
                })
                .collect(),
        };
        let jwks_json: Arc<str> = serde_json::to_string(&jwks).unwrap_or_default().into();
        signers.sort_by_key(|s| std::cmp::Reverse(s.active_from));
        let state = RingState {
            signers,
            jwks,
            jwks_json,
            loaded,
            verifying,
        };
        *self.state.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(state);
        Ok(())
    }

    fn snapshot(&self) -> Arc<RingState> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The key that signs now: the newest one whose window contains the clock's time.
    fn current(state: &RingState, now: i64) -> Option<&Arc<KeyMaterial>> {
        state
            .signers
            .iter()
            .find(|s| s.active_from <= now && s.retired_at.is_none_or(|r| r > now))
            .map(|s| &s.material)
    }

    pub fn current_kid(&self) -> Option<String> {
        let state = self.snapshot();
        Self::current(&state, self.clock.now_ms()).map(|k| k.kid.clone())
    }

    pub fn jwks(&self) -> JwkSet {
        self.snapshot().jwks.clone()
    }

    /// The JWK Set, serialized once per reload.
    pub fn jwks_json(&self) -> Arc<str> {
        self.snapshot().jwks_json.clone()
    }

    pub fn verifying_key(&self, kid: &str) -> Option<Arc<jsonwebtoken::DecodingKey>> {
        self.snapshot().verifying.get(kid).cloned()
    }

    /// A compact RS256 JWS with header `typ` and the current key's `kid`.
    pub fn sign(&self, typ: &str, claims: &impl Serialize) -> Result<String, SignError> {
        let state = self.snapshot();
        let key = Self::current(&state, self.clock.now_ms()).ok_or(SignError::NoCurrentKey)?;
        sign_with(key, typ, claims)
    }
}

/// A kid as an operator typed it, safe to echo in an error: short and printable.
fn shown_kid(kid: &str) -> String {
    kid.chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

fn sign_with(key: &KeyMaterial, typ: &str, claims: &impl Serialize) -> Result<String, SignError> {
    #[derive(Serialize)]
    struct Header<'a> {
        alg: &'static str,
        typ: &'a str,
        kid: &'a str,
    }
    let header = serde_json::to_vec(&Header {
        alg: "RS256",
        typ,
        kid: &key.kid,
    })?;
    let payload = serde_json::to_vec(claims)?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let mut signature = vec![0u8; key.pair.public_modulus_len()];
    let rng = aws_lc_rs::rand::SystemRandom::new();
    key.pair
        .sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &rng,
            token.as_bytes(),
            &mut signature,
        )
        .map_err(|_| SignError::Crypto)?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}
