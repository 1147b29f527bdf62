//! Sign-in throttling (SPEC §7): failed sign-ins are counted per username and per client address
//! in the database, so every replica sees the same counts. Each attempt is counted *before* the
//! password is checked — a burst of concurrent guesses cannot all slip in before the first failure
//! is written — and a sign-in that succeeds takes its count back. The attempt after
//! `max_failures` in the window locks the key. Once a lock runs out the key gets exactly one more
//! attempt, which claims the next, doubled lock while its password is checked (up to `max_lock`):
//! a failure keeps that lock, a success gives it back. While a key is locked nothing is verified, so
//! a correct password is refused the same way as a wrong one.

use crate::store::{Store, StoreError};
use std::net::IpAddr;

#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub max_failures: i64,
    pub window_ms: i64,
    pub first_lock_ms: i64,
    pub max_lock_ms: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window_ms: 15 * 60 * 1000,
            first_lock_ms: 60 * 1000,
            max_lock_ms: 60 * 60 * 1000,
        }
    }
}

impl ThrottlePolicy {
    /// How long a key is locked after its `failures`-th counted attempt (0: not locked).
    pub fn lock_ms(&self, failures: i64) -> i64 {
        let excess = failures - self.max_failures;
        if excess <= 0 {
            return 0;
        }
        let doublings = u32::try_from(excess - 1).unwrap_or(u32::MAX).min(30);
        self.first_lock_ms
            .saturating_mul(1_i64 << doublings)
            .min(self.max_lock_ms)
    }
}

/// Refused because a key is locked; try again after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub retry_after_secs: u64,
}

/// An attempt that was counted and may go on to check the password.
pub struct Admitted {
    user: Key,
    addr: Key,
}

/// One throttled key, and the lock this attempt claimed on it: `(claimed, previous)`.
struct Key {
    name: String,
    claim: Option<(i64, i64)>,
}

#[derive(Clone)]
pub struct SignInThrottle {
    store: Store,
    policy: ThrottlePolicy,
}

impl SignInThrottle {
    pub fn new(store: Store, policy: ThrottlePolicy) -> Self {
        Self { store, policy }
    }

    /// Counts an attempt for `username` from `client`, or refuses it while either is locked.
    pub async fn admit(
        &self,
        username: &str,
        client: IpAddr,
        now: i64,
    ) -> Result<Result<Admitted, Locked>, StoreError> {
        let user_key = user_key(username);
        let addr_key = addr_key(client);
        let locked = self
            .store
            .throttle_locked_until(&[&user_key, &addr_key])
            .await?;
        if locked > now {
            return Ok(Err(locked_for(locked - now)));
        }
        let floor = now - self.policy.window_ms;
        let mut keys = [
            Key {
                name: user_key,
                claim: None,
            },
            Key {
                name: addr_key,
                claim: None,
            },
        ];
        let names = [keys[0].name.as_str(), keys[1].name.as_str()];
        let counts = self.store.throttle_count(&names, now, floor).await?;
        let mut refused_until = 0;
        for (key, counted) in keys.iter_mut().zip(counts) {
            let lock = self.policy.lock_ms(counted.failures);
            if lock == 0 {
                continue;
            }
            if counted.failures == self.policy.max_failures + 1 {
                // The first attempt past the allowance: refused, and the lock begins.
                self.store.throttle_lock(&key.name, now + lock).await?;
                refused_until = refused_until.max(now + lock);
            } else if self
                .store
                .throttle_claim(&key.name, now + lock, now)
                .await?
            {
                key.claim = Some((now + lock, counted.locked_until));
            } else {
                let running = self.store.throttle_locked_until(&[&key.name]).await?;
                refused_until = refused_until.max(running.max(now + 1));
            }
        }
        let [user, addr] = keys;
        if refused_until > now {
            // Whatever this attempt claimed stays locked: it was not allowed to try.
            return Ok(Err(locked_for(refused_until - now)));
        }
        Ok(Ok(Admitted { user, addr }))
    }

    /// The password was right: the username starts afresh, and the address gets its attempt and any
    /// lock this attempt claimed back.
    pub async fn succeeded(&self, admitted: Admitted) -> Result<(), StoreError> {
        self.store.throttle_clear(&admitted.user.name).await?;
        let addr = admitted.addr;
        self.store.throttle_uncount(&addr.name).await?;
        if let Some((claimed, previous)) = addr.claim {
            self.store
                .throttle_release(&addr.name, claimed, previous)
                .await?;
        }
        Ok(())
    }

    /// Drops counters whose window and lock have both passed.
    pub async fn sweep(&self, now: i64) -> Result<u64, StoreError> {
        self.store
            .throttle_sweep(now, now - self.policy.window_ms)
            .await
    }
}

fn locked_for(ms: i64) -> Locked {
    Locked {
        retry_after_secs: u64::try_from(ms.max(0)).unwrap_or(0).div_ceil(1000).max(1),
    }
}

/// Usernames compare case-insensitively here so `Ada` and `ada` share one counter; the key is
/// bounded whatever the caller sent.
fn user_key(username: &str) -> String {
    let lowered: String = username.trim().to_lowercase().chars().take(128).collect();
    format!("user:{lowered}")
}

/// IPv4 by address; IPv6 by its /64, which one host usually holds whole.
fn addr_key(client: IpAddr) -> String {
    match client {
        IpAddr::V4(v4) => format!("addr:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("addr:{v4}"),
            None => {
                let s = v6.segments();
                format!("addr:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_start_after_the_allowed_failures_and_double_up_to_the_cap() {
        let p = ThrottlePolicy::default();
        let locks: Vec<i64> = (1..=14).map(|n| p.lock_ms(n) / 1000).collect();
        assert_eq!(
            locks,
            [
                0, 0, 0, 0, 0, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600
            ]
        );
        assert_eq!(p.lock_ms(i64::MAX), p.max_lock_ms, "no overflow");
    }

    #[test]
    fn keys_fold_case_and_ipv6_hosts() {
        assert_eq!(user_key(" Ada "), user_key("ada"));
        assert_eq!(user_key(&"x".repeat(10_000)).len(), "user:".len() + 128);
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(addr_key(a), addr_key(b));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(addr_key(mapped), "addr:192.0.2.7");
        assert_eq!(locked_for(1).retry_after_secs, 1);
        assert_eq!(locked_for(60_001).retry_after_secs, 61);
    }
}
