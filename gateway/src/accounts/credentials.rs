//! A short-lived cache of who a presented secret (API token or session) belongs to, with the
//! account's state record, so the broker's hot path does not query the database per request.
//!
//! The account state is evaluated against the clock on every use, so timed suspensions and expiry
//! take effect exactly. Changes made through this process (sign-out, token deletion, lifecycle
//! actions) clear the cache at once; changes made by another process arrive through the change feed
//! (`crate::changes`), and the TTL bounds how long a lost notification can go unnoticed.

use crate::model::{AccountStateRecord, User};
use crate::secrets::digest_of_hash;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};

/// A presented secret's SHA-256 digest (`secrets::secret_digest`).
pub type Digest = [u8; 32];

/// Keys are SHA-256 digests of secrets that were valid when cached: already uniform, and chosen by
/// nobody, so their first eight bytes are the hash (SipHash over them cost more than the lookup).
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `[u8; 32]` hashes as its bytes (after a length on some versions): fold in what comes.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }
}

#[derive(Clone)]
struct Entry {
    /// Shared with every request that presents the secret: a hit copies no field.
    user: Arc<User>,
    state: AccountStateRecord,
    cached_at: i64,
}

const MAX_ENTRIES: usize = 50_000;

pub struct CredentialCache {
    ttl_ms: i64,
    entries: RwLock<HashMap<Digest, Entry, BuildHasherDefault<DigestHasher>>>,
}

impl CredentialCache {
    /// `ttl_ms` 0 turns caching off.
    pub fn new(ttl_ms: i64) -> Self {
        Self {
            ttl_ms,
            entries: RwLock::default(),
        }
    }

    /// The user and state cached for the secret of `digest`, if younger than the TTL.
    pub fn get(&self, digest: &Digest, now: i64) -> Option<(Arc<User>, AccountStateRecord)> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(digest)?;
        (now - entry.cached_at < self.ttl_ms).then(|| (entry.user.clone(), entry.state))
    }

    pub fn put(&self, digest: Digest, user: Arc<User>, state: AccountStateRecord, now: i64) {
        if self.ttl_ms <= 0 {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl_ms;
            entries.retain(|_, e| now - e.cached_at < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            digest,
            Entry {
                user,
                state,
                cached_at: now,
            },
        );
    }

    /// Forgets one secret (a session that signed out), named by its stored hash
    /// (`secrets::hash_secret`); a text that is no such hash names nothing.
    pub fn forget(&self, secret_hash: &str) {
        let Some(digest) = digest_of_hash(secret_hash) else {
            return;
        };
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&digest);
    }

    /// Forgets every secret of one user (a token deleted, whose hash the caller does not hold).
    pub fn forget_user(&self, user_id: i64) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, e| e.user.id != user_id);
    }

    /// Forgets everything: called on any change that could revoke a credential or an account.
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    fn user() -> User {
        User {
            id: 1,
            username: "ada".into(),
            email: "ada@example.org".into(),
            first_name: "Ada".into(),
            last_name: "L".into(),
            organization: None,
            role: Role::User,
            created_at: 0,
            federated: Default::default(),
        }
    }

    #[test]
    fn entries_live_for_the_ttl_and_clear_at_once() {
        use crate::secrets::{hash_secret, secret_digest};
        let d = |s: &str| secret_digest(s);
        let cache = CredentialCache::new(5_000);
        cache.put(d("h"), user().into(), AccountStateRecord::default(), 1_000);
        assert!(cache.get(&d("h"), 5_999).is_some());
        assert!(cache.get(&d("h"), 6_000).is_none(), "expired at the TTL");
        cache.put(d("h"), user().into(), AccountStateRecord::default(), 6_000);
        cache.clear();
        assert!(cache.get(&d("h"), 6_001).is_none());
        cache.put(d("a"), user().into(), AccountStateRecord::default(), 6_000);
        cache.put(d("b"), user().into(), AccountStateRecord::default(), 6_000);
        let mut other = user();
        other.id = 2;
        cache.put(d("c"), other.into(), AccountStateRecord::default(), 6_000);
        cache.forget(&hash_secret("a"));
        cache.forget("not a hash");
        assert!(
            cache.get(&d("a"), 6_001).is_none(),
            "the signed-out session"
        );
        assert!(cache.get(&d("b"), 6_001).is_some(), "another session stays");
        cache.forget_user(1);
        assert!(cache.get(&d("b"), 6_001).is_none());
        assert!(cache.get(&d("c"), 6_001).is_some(), "another user's stays");
        let off = CredentialCache::new(0);
        off.put(d("h"), user().into(), AccountStateRecord::default(), 1);
        assert!(off.get(&d("h"), 1).is_none(), "a TTL of 0 caches nothing");
    }
}
