//! The live key ring: which key signs now, which keys are published, rotation, revocation, and JWS
//! signing.

use super::kek::{Kek, KekError, KekSource};
use super::material::{KeyError, KeyMaterial};
use crate::clock::SharedClock;
use crate::config::KeysConfig;
use crate::model::SigningKeyRecord;
use crate::store::{SealedKey, Store, StoreError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use provider_kit::protocol::{Jwk, JwkSet};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
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
    #[error(transparent)]
    Kek(#[from] KekError),
    #[error(
        "signing key {kid} in the database does not decrypt with the key-encryption key from {from} \
         (another key-encryption key sealed it, or the row was altered); every replica needs the key-encryption key the keys were sealed with \
         (keys.encryption_key_file or GATEWAY_KEY_ENCRYPTION_KEY)"
    )]
    WrongKek { kid: String, from: KekSource },
    #[error("sealing a signing key failed")]
    Seal,
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
    kek: Arc<Kek>,
    store: Store,
    clock: SharedClock,
    /// How long a retired key stays published: the longest token lifetime plus clock skew.
    retention_ms: i64,
    state: RwLock<Arc<RingState>>,
    /// Held while the ring is read from the database, so reloads run one at a time.
    reloading: tokio::sync::Mutex<()>,
    /// How many reloads have started, to tell whether one began after a caller arrived.
    reloads_started: AtomicU64,
}

/// What `import_legacy` did with each key file, by kid.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: Vec<String>,
    /// In the database with its private half already.
    pub present: Vec<String>,
    /// Not in the database, or revoked: left alone.
    pub unknown: Vec<String>,
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
    /// Every published key whose private half this replica has opened, so reloads do not decrypt again.
    loaded: HashMap<String, Arc<KeyMaterial>>,
    /// Published public keys, for verifying the gateway's own access tokens.
    verifying: HashMap<String, Arc<jsonwebtoken::DecodingKey>>,
}

impl KeyRing {
    /// Resolves the key-encryption key, imports legacy key files found in `keys_dir`, and loads
    /// the ring; generates and persists the first key when there is none. A published key that
    /// does not decrypt is an error: this replica was given the wrong key-encryption key.
    pub async fn open(
        store: Store,
        keys: &KeysConfig,
        keys_dir: PathBuf,
        clock: SharedClock,
        retention_secs: i64,
    ) -> Result<Self, RingError> {
        let kek = {
            let (env, file, dir) = (
                keys.encryption_key.clone(),
                keys.encryption_key_file.clone(),
                keys_dir.clone(),
            );
            tokio::task::spawn_blocking(move || Kek::resolve(env.as_deref(), file.as_deref(), &dir))
                .await
                .map_err(|_| KeyError::Generate)??
        };
        let ring = Self {
            kek: Arc::new(kek),
            store,
            clock,
            retention_ms: retention_secs * 1000,
            state: RwLock::new(Arc::default()),
            reloading: tokio::sync::Mutex::new(()),
            reloads_started: AtomicU64::new(0),
        };
        let report = ring.import_legacy(&keys_dir).await?;
        if !report.imported.is_empty() {
            tracing::warn!(
                dir = %keys_dir.display(),
                imported = ?report.imported,
                "legacy key files imported into the database (encrypted); the files are no longer \
                 read and may be deleted"
            );
        }
        ring.load(true).await?;
        if ring.current_kid().is_none() {
            tracing::info!("no signing key yet; generating the first one");
            ring.rotate(Activation::Now).await?;
        }
        Ok(ring)
    }

    /// Adds a new key, published at once and signing from `activation`; the previous key signs
    /// until then and stays published until every token it signed has expired.
    pub async fn rotate(&self, activation: Activation) -> Result<RotatedKey, RingError> {
        let (material, der) = tokio::task::spawn_blocking(KeyMaterial::generate)
            .await
            .map_err(|_| KeyError::Generate)??;
        let sealed = self
            .kek
            .seal(&material.kid, &der)
            .map_err(|_| RingError::Seal)?;
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
        self.store.rotate_signing_key(&record, &sealed).await?;
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
        tracing::warn!(%kid, replaced_by = ?replaced_by.as_ref().map(|k| &k.kid), "signing key revoked");
        self.reload().await?;
        Ok(RevokedKey {
            kid: record.kid,
            revoked_at,
            replaced_by,
        })
    }

    /// Re-reads the published keys from the database (another replica may have rotated or revoked).
    /// A key that does not decrypt is logged and left out; the rest still load.
    pub async fn reload(&self) -> Result<(), RingError> {
        self.load(false).await
    }

    /// `reload`; with `strict`, a published key that does not decrypt is an error instead.
    async fn load(&self, strict: bool) -> Result<(), RingError> {
        let _one_at_a_time = self.reloading.lock().await;
        self.load_locked(strict).await
    }

    /// `load`, with `reloading` held by the caller.
    async fn load_locked(&self, strict: bool) -> Result<(), RingError> {
        self.reloads_started.fetch_add(1, Ordering::SeqCst);
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
                None => self.open_private(record, strict).await?,
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

    /// The private half of `record` from the database, opened with the KEK. `None` when it is
    /// not there (a legacy key not imported) or, unless `strict`, does not open.
    async fn open_private(
        &self,
        record: &SigningKeyRecord,
        strict: bool,
    ) -> Result<Option<Arc<KeyMaterial>>, RingError> {
        let kid = &record.kid;
        let sealed = match self.store.sealed_signing_key(kid).await? {
            SealedKey::Sealed(sealed) => sealed,
            SealedKey::Unknown => return Ok(None),
            SealedKey::Missing => {
                if record.retired_at.is_none() {
                    tracing::error!(%kid, "the current signing key has no private half in the database; \
                        import its key file with `gateway keys import DIR`");
                }
                return Ok(None);
            }
        };
        let opened = self
            .kek
            .open(kid, &sealed)
            .map_err(|_| KeyError::Der(kid.clone(), "does not decrypt".into()))
            .and_then(|der| KeyMaterial::from_pkcs8_der(kid, &der));
        match opened {
            Ok(m) => Ok(Some(Arc::new(m))),
            Err(_) if strict => Err(RingError::WrongKek {
                kid: kid.clone(),
                from: self.kek.source.clone(),
            }),
            Err(e) => {
                tracing::error!(%kid, error = %e, kek = %self.kek.source, "a signing key does not decrypt with this replica's key-encryption key");
                Ok(None)
            }
        }
    }

    /// Imports the legacy key files (`key-{kid}.pem`) in `dir` whose key is in the database
    /// without its private half: sealed under the KEK, stored, then the ring reloads.
    pub async fn import_legacy(&self, dir: &Path) -> Result<ImportReport, RingError> {
        let dir_owned = dir.to_owned();
        let files = tokio::task::spawn_blocking(move || KeyMaterial::legacy_files(&dir_owned))
            .await
            .map_err(|_| KeyError::Generate)??;
        let mut report = ImportReport::default();
        for (kid, path) in files {
            match self.store.sealed_signing_key(&kid).await? {
                SealedKey::Sealed(_) => {
                    report.present.push(kid);
                    continue;
                }
                SealedKey::Unknown => {
                    tracing::warn!(%kid, path = %path.display(), "a key file whose key is not in the database (or is revoked); not imported");
                    report.unknown.push(kid);
                    continue;
                }
                SealedKey::Missing => {}
            }
            let (owned_path, owned_kid) = (path.clone(), kid.clone());
            let (material, der) = tokio::task::spawn_blocking(move || {
                KeyMaterial::read_legacy(&owned_path, &owned_kid)
            })
            .await
            .map_err(|_| KeyError::Generate)??;
            let sealed = self
                .kek
                .seal(&material.kid, &der)
                .map_err(|_| RingError::Seal)?;
            if self.store.import_sealed_signing_key(&kid, &sealed).await? {
                tracing::info!(%kid, path = %path.display(), "legacy key file imported into the database (encrypted)");
                report.imported.push(kid);
            } else {
                report.present.push(kid);
            }
        }
        if !report.imported.is_empty() {
            self.reload().await?;
        }
        Ok(report)
    }

    /// Where this replica's key-encryption key comes from.
    pub fn kek_source(&self) -> &KekSource {
        &self.kek.source
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
        self.current_signer().map(|k| k.kid.clone())
    }

    /// The key that signs now, shared (the broker reads its kid on every request).
    pub fn current_signer(&self) -> Option<Arc<KeyMaterial>> {
        let state = self.snapshot();
        Self::current(&state, self.clock.now_ms()).cloned()
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

    /// `verifying_key`, re-reading the ring first when `kid` is unknown: another replica may have
    /// rotated a key in (`--immediate`) and signed with it before this one heard. A key committed
    /// before the token was signed is found by any reload that starts after the token arrived, so a
    /// caller waits for one such reload; concurrent callers share it, so unknown kids (however many,
    /// however forged) cost at most one database read at a time.
    pub async fn verifying_key_or_reload(
        &self,
        kid: &str,
    ) -> Option<Arc<jsonwebtoken::DecodingKey>> {
        if let Some(key) = self.verifying_key(kid) {
            return Some(key);
        }
        let arrived = self.reloads_started.load(Ordering::SeqCst);
        let _one_at_a_time = self.reloading.lock().await;
        if self.reloads_started.load(Ordering::SeqCst) == arrived
            && let Err(e) = self.load_locked(false).await
        {
            tracing::warn!(error = %e, "re-reading the key ring for an unknown kid failed");
        }
        self.verifying_key(kid)
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
