//! Who made a brokered request to which provider (SPEC §4 ▲ implicit flow), as the broker's hot
//! path sees it: an in-memory set of (provider, user) already written to `brokered_users`, so only
//! the first request writes. An entry lapses after `REMEMBER_MS`, which bounds how long another
//! replica's disconnection (it deletes the row) can go unnoticed here: the next request after the
//! lapse writes the row again, once.

use crate::hashing::FastMap;
use std::sync::{Arc, PoisonError, RwLock};

/// How long a recorded (provider, user) is trusted from memory before it is written again.
pub const REMEMBER_MS: i64 = 5 * 60 * 1000;
/// Past this many remembered users the set starts over; the cost is one write per user.
const MAX_REMEMBERED: usize = 100_000;

/// Provider id → user id → when the row was written (Unix ms). Cheap to clone.
#[derive(Clone, Default)]
pub struct BrokeredUsers {
    seen: Arc<RwLock<Remembered>>,
}

#[derive(Default)]
struct Remembered {
    by_provider: FastMap<String, FastMap<i64, i64>>,
    len: usize,
}

impl BrokeredUsers {
    /// Whether the row for (provider, user) was written less than `REMEMBER_MS` ago by this process.
    /// A read lock: every brokered request asks this, and concurrent askers must not queue.
    pub fn seen(&self, provider_id: &str, user_id: i64, now_ms: i64) -> bool {
        let seen = self.seen.read().unwrap_or_else(PoisonError::into_inner);
        seen.by_provider
            .get(provider_id)
            .and_then(|users| users.get(&user_id))
            .is_some_and(|at| now_ms - at < REMEMBER_MS)
    }

    /// The row for (provider, user) was written at `now_ms`.
    pub fn remember(&self, provider_id: &str, user_id: i64, now_ms: i64) {
        let mut seen = self.seen.write().unwrap_or_else(PoisonError::into_inner);
        if seen.len >= MAX_REMEMBERED {
            *seen = Remembered::default();
        }
        let users = seen.by_provider.entry(provider_id.to_owned()).or_default();
        if users.insert(user_id, now_ms).is_none() {
            seen.len += 1;
        }
    }

    /// Forgets everything: each user's next brokered request writes its row again.
    pub fn forget_all(&self) {
        *self.seen.write().unwrap_or_else(PoisonError::into_inner) = Remembered::default();
    }

    /// The connection ended: the next brokered request writes the row again.
    pub fn forget(&self, provider_id: &str, user_id: i64) {
        let mut seen = self.seen.write().unwrap_or_else(PoisonError::into_inner);
        let removed = seen
            .by_provider
            .get_mut(provider_id)
            .and_then(|users| users.remove(&user_id))
            .is_some();
        if removed {
            seen.len -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_user_is_seen_until_forgotten_or_lapsed() {
        let set = BrokeredUsers::default();
        assert!(!set.seen("hpc", 1, 0));
        set.remember("hpc", 1, 0);
        assert!(set.seen("hpc", 1, REMEMBER_MS - 1));
        assert!(!set.seen("hpc", 1, REMEMBER_MS), "lapsed: written again");
        assert!(!set.seen("other", 1, 0) && !set.seen("hpc", 2, 0));
        set.forget("hpc", 1);
        assert!(!set.seen("hpc", 1, 1));
    }
}
