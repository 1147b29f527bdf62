//! A short-lived cache of who a presented secret (API token or session) belongs to, with the
//! account's state record, so the broker's hot path does not query the database per request.
//!
//! The account state is evaluated against the clock on every use, so timed suspensions and expiry
//! take effect exactly. Changes made through this process (sign-out, token deletion, lifecycle
//! actions) clear the cache at once; changes made by another process arrive through the change feed
//! (`crate::changes`), and the TTL bounds how long a lost notification can go unnoticed.

use crate::model::{AccountStateRecord, User};
use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Clone)]
struct Entry {
    user: User,
    state: AccountStateRecord,
    cached_at: i64,
}

const MAX_ENTRIES: usize = 50_000;

pub struct CredentialCache {
    ttl_ms: i64,
    entries: RwLock<HashMap<String, Entry>>,
}

impl CredentialCache {
    /// `ttl_ms` 0 turns caching off.
    pub fn new(ttl_ms: i64) -> Self {
        Self {
            ttl_ms,
            entries: RwLock::default(),
        }
    }

    /// The user and state cached for `secret_hash`, if younger than the TTL.
    pub fn get(&self, secret_hash: &str, now: i64) -> Option<(User, AccountStateRecord)> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(secret_hash)?;
        (now - entry.cached_at < self.ttl_ms).then(|| (entry.user.clone(), entry.state))
    }

    pub fn put(&self, secret_hash: String, user: User, state: AccountStateRecord, now: i64) {
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
            secret_hash,
            Entry {
                user,
                state,
                cached_at: now,
            },
        );
    }

    /// Forgets one secret (a session that signed out).
    pub fn forget(&self, secret_hash: &str) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(secret_hash);
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
        let cache = CredentialCache::new(5_000);
        cache.put("h".into(), user(), AccountStateRecord::default(), 1_000);
        assert!(cache.get("h", 5_999).is_some());
        assert!(cache.get("h", 6_000).is_none(), "expired at the TTL");
        cache.put("h".into(), user(), AccountStateRecord::default(), 6_000);
        cache.clear();
        assert!(cache.get("h", 6_001).is_none());
        cache.put("a".into(), user(), AccountStateRecord::default(), 6_000);
        cache.put("b".into(), user(), AccountStateRecord::default(), 6_000);
        let mut other = user();
        other.id = 2;
        cache.put("c".into(), other, AccountStateRecord::default(), 6_000);
        cache.forget("a");
        assert!(cache.get("a", 6_001).is_none(), "the signed-out session");
        assert!(cache.get("b", 6_001).is_some(), "another session stays");
        cache.forget_user(1);
        assert!(cache.get("b", 6_001).is_none());
        assert!(cache.get("c", 6_001).is_some(), "another user's stays");
        let off = CredentialCache::new(0);
        off.put("h".into(), user(), AccountStateRecord::default(), 1);
        assert!(off.get("h", 1).is_none(), "a TTL of 0 caches nothing");
    }
}
