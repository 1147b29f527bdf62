//! Tokens already verified, so the hot path (the gateway reusing one service token for a burst of
//! calls) skips RSA. Entries are keyed by the SHA-256 of the whole token: any change to any part,
//! signature included, is a different key and goes through full verification. An entry lives until
//! the token would fail the `exp` check anyway, and the cache is bounded, evicting what expires
//! first. Each entry remembers the `kid` it was verified with and is answered only while that key is
//! still published: a key dropped from the JWKS (revoked, SPEC §2) takes its cached verifications
//! with it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::digest::{SHA256, digest};

use crate::protocol::{ServiceClaims, UsermapClaims};

pub(crate) type TokenHash = [u8; 32];

pub(crate) fn hash(token: &str) -> TokenHash {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    out
}

/// What a token was verified as; a hit of the other kind is a miss, so a cached service token
/// presented as a usermap token is still refused by the `typ` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verified {
    Service(ServiceClaims),
    Usermap(UsermapClaims),
}

struct Entry {
    verified: Verified,
    /// The key whose signature was checked.
    kid: Arc<str>,
    valid_until: i64,
    seq: u64,
}

#[derive(Default)]
struct Entries {
    by_hash: HashMap<TokenHash, Entry>,
    /// (valid_until, seq) orders entries by expiry; seq breaks ties and tells re-inserts apart.
    by_expiry: BTreeMap<(i64, u64), TokenHash>,
    next_seq: u64,
}

impl Entries {
    fn remove(&mut self, hash: &TokenHash) {
        if let Some(old) = self.by_hash.remove(hash) {
            self.by_expiry.remove(&(old.valid_until, old.seq));
        }
    }

    fn pop_soonest(&mut self) {
        if let Some((_, hash)) = self.by_expiry.pop_first() {
            self.by_hash.remove(&hash);
        }
    }
}

pub(crate) struct TokenCache {
    capacity: usize,
    entries: Mutex<Entries>,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// `false` when the capacity is zero: callers then skip hashing altogether.
    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The map stays consistent even if a holder panicked: every mutation is a whole step.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The claims of a token verified before, if it is still within its lifetime at `now` and the
    /// key it was verified with is still `published`.
    pub(crate) fn get(
        &self,
        hash: &TokenHash,
        now: i64,
        published: impl Fn(&str) -> bool,
    ) -> Option<Verified> {
        if self.capacity == 0 {
            return None;
        }
        let mut entries = self.entries();
        let entry = entries.by_hash.get(hash)?;
        if now < entry.valid_until && published(&entry.kid) {
            return Some(entry.verified.clone());
        }
        entries.remove(hash);
        None
    }

    /// Forgets every verification made with a key that is no longer `published`.
    pub(crate) fn retain_published(&self, published: impl Fn(&str) -> bool) {
        let mut entries = self.entries();
        let gone: Vec<TokenHash> = entries
            .by_hash
            .iter()
            .filter(|(_, entry)| !published(&entry.kid))
            .map(|(hash, _)| *hash)
            .collect();
        for hash in &gone {
            entries.remove(hash);
        }
    }

    /// Remembers a token verified with key `kid` until `valid_until` (its `exp` plus the leeway).
    pub(crate) fn insert(
        &self,
        hash: TokenHash,
        verified: Verified,
        kid: &str,
        valid_until: i64,
        now: i64,
    ) {
        if self.capacity == 0 || valid_until <= now {
            return;
        }
        let mut entries = self.entries();
        entries.remove(&hash);
        if entries.by_hash.len() >= self.capacity {
            while entries
                .by_expiry
                .first_key_value()
                .is_some_and(|(&(until, _), _)| until <= now)
            {
                entries.pop_soonest();
            }
        }
        while entries.by_hash.len() >= self.capacity {
            entries.pop_soonest();
        }
        let seq = entries.next_seq;
        entries.next_seq += 1;
        entries.by_expiry.insert((valid_until, seq), hash);
        entries.by_hash.insert(
            hash,
            Entry {
                verified,
                kid: kid.into(),
                valid_until,
                seq,
            },
        );
    }

    pub(crate) fn len(&self) -> usize {
        self.entries().by_hash.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(jti: &str) -> Verified {
        Verified::Service(ServiceClaims {
            iss: "https://gw".into(),
            sub: "_UCloud".into(),
            aud: "prov".into(),
            role: "SERVICE".into(),
            iat: 0,
            exp: 0,
            jti: jti.into(),
            principal: None,
            project: None,
        })
    }

    fn any_key(_: &str) -> bool {
        true
    }

    #[test]
    fn an_entry_is_answered_only_while_its_key_is_published() {
        let cache = TokenCache::new(10);
        cache.insert(hash("a"), claims("a"), "k1", 100, 0);
        cache.insert(hash("b"), claims("b"), "k2", 100, 0);
        assert!(cache.get(&hash("a"), 1, |kid| kid == "k1").is_some());
        assert_eq!(cache.get(&hash("b"), 1, |kid| kid == "k1"), None);
        assert_eq!(
            cache.len(),
            1,
            "an entry of an unpublished key is dropped when found"
        );

        cache.insert(hash("c"), claims("c"), "k3", 100, 0);
        cache.retain_published(|kid| kid == "k3");
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&hash("c"), 1, any_key).is_some());
    }

    #[test]
    fn one_changed_byte_is_another_key() {
        assert_ne!(hash("a.b.c"), hash("a.b.d"));
        assert_eq!(hash("a.b.c"), hash("a.b.c"));
    }

    #[test]
    fn an_entry_lives_until_its_deadline_and_not_a_second_longer() {
        let cache = TokenCache::new(10);
        cache.insert(hash("t"), claims("t"), "k1", 100, 50);
        assert_eq!(cache.get(&hash("t"), 99, any_key), Some(claims("t")));
        assert_eq!(cache.get(&hash("t"), 100, any_key), None);
        assert_eq!(cache.len(), 0, "an expired entry is dropped when found");
    }

    #[test]
    fn a_full_cache_drops_expired_entries_first_then_the_soonest_to_expire() {
        let cache = TokenCache::new(3);
        cache.insert(hash("old"), claims("old"), "k1", 60, 10);
        cache.insert(hash("late"), claims("late"), "k1", 500, 10);
        cache.insert(hash("soon"), claims("soon"), "k1", 200, 10);
        cache.insert(hash("new"), claims("new"), "k1", 400, 100);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&hash("old"), 100, any_key), None);
        assert!(cache.get(&hash("soon"), 100, any_key).is_some());

        cache.insert(hash("newer"), claims("newer"), "k1", 450, 100);
        assert_eq!(cache.len(), 3);
        assert_eq!(
            cache.get(&hash("soon"), 100, any_key),
            None,
            "soonest to expire goes first"
        );
        for kept in ["late", "new", "newer"] {
            assert!(cache.get(&hash(kept), 100, any_key).is_some(), "{kept}");
        }
    }

    #[test]
    fn the_bound_holds_under_a_flood_of_distinct_tokens() {
        let cache = TokenCache::new(100);
        for i in 0..10_000 {
            let token = format!("token-{i}");
            cache.insert(hash(&token), claims(&token), "k1", 1_000 + i, 0);
        }
        assert_eq!(cache.len(), 100);
        assert!(cache.get(&hash("token-9999"), 0, any_key).is_some());
    }

    #[test]
    fn reinserting_a_token_keeps_one_entry() {
        let cache = TokenCache::new(10);
        cache.insert(hash("t"), claims("t"), "k1", 100, 0);
        cache.insert(hash("t"), claims("t"), "k1", 200, 0);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&hash("t"), 150, any_key).is_some());
    }

    #[test]
    fn capacity_zero_turns_the_cache_off() {
        let cache = TokenCache::new(0);
        cache.insert(hash("t"), claims("t"), "k1", 100, 0);
        assert_eq!(cache.get(&hash("t"), 0, any_key), None);
        assert_eq!(cache.len(), 0);
    }
}
