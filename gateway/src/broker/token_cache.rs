//! Service tokens signed once and reused: keyed by (provider, user, project, signing key), kept until
//! a minute before they expire. The key id is part of the key, so after a rotation no token signed
//! with the retired key is handed out again.

use http::HeaderValue;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// One cached token of a user: the rest of its key, the ready `Authorization` value
/// (`Bearer <jwt>`) and the token's `exp`.
struct Entry {
    provider: Box<str>,
    project: Option<Box<str>>,
    kid: Box<str>,
    value: HeaderValue,
    exp: i64,
}

impl Entry {
    fn is(&self, provider: &str, project: Option<&str>, kid: &str) -> bool {
        &*self.provider == provider && self.project.as_deref() == project && &*self.kid == kid
    }
}

/// Tokens are not reused within this many seconds of their expiry.
const MARGIN_SECS: i64 = 60;
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
struct Entries {
    /// By user: a user has a few (provider, project) pairs, so a hit is found by comparing in
    /// place, without building a key.
    by_user: crate::hashing::FastMap<i64, Vec<Entry>>,
    len: usize,
}

#[derive(Default)]
pub struct ServiceTokenCache {
    entries: RwLock<Entries>,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

impl ServiceTokenCache {
    /// A cached token still good at `now`, or a new one from `sign` (which returns the token and its exp).
    pub fn get_or_sign<E>(
        &self,
        provider: &str,
        user: i64,
        project: Option<&str>,
        kid: &str,
        now: i64,
        sign: impl FnOnce() -> Result<(String, i64), E>,
    ) -> Result<HeaderValue, E> {
        if let Some(entry) = self
            .read()
            .by_user
            .get(&user)
            .and_then(|es| es.iter().find(|e| e.is(provider, project, kid)))
            && entry.exp - MARGIN_SECS > now
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(entry.value.clone());
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let (token, exp) = sign()?;
        // A JWT is base64url and dots: always a valid header value.
        let value = HeaderValue::try_from(format!("Bearer {token}"))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        let Entries { by_user, len } = &mut *entries;
        if *len >= MAX_ENTRIES {
            by_user.retain(|_, es| {
                es.retain(|e| e.exp - MARGIN_SECS > now);
                !es.is_empty()
            });
            *len = by_user.values().map(Vec::len).sum();
            if *len >= MAX_ENTRIES {
                by_user.clear();
                *len = 0;
            }
        }
        let mine = by_user.entry(user).or_default();
        let entry = Entry {
            provider: provider.into(),
            project: project.map(Into::into),
            kid: kid.into(),
            value: value.clone(),
            exp,
        };
        // One entry per (provider, project): a token of a retired key is replaced, not kept.
        match mine
            .iter_mut()
            .find(|e| &*e.provider == provider && e.project.as_deref() == project)
        {
            Some(old) => *old = entry,
            None => {
                mine.push(entry);
                *len += 1;
            }
        }
        Ok(value)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(n: &mut u32, exp: i64) -> Result<(String, i64), ()> {
        *n += 1;
        Ok((format!("token-{n}"), exp))
    }

    #[test]
    fn tokens_are_reused_until_shortly_before_expiry_and_never_across_keys() {
        let cache = ServiceTokenCache::default();
        let mut signed = 0;
        let a = cache
            .get_or_sign("hpc", 1, None, "k1", 1000, || sign(&mut signed, 1300))
            .unwrap();
        let b = cache
            .get_or_sign("hpc", 1, None, "k1", 1200, || sign(&mut signed, 1500))
            .unwrap();
        assert_eq!((a.clone(), signed), (b, 1), "reused within its life");
        let c = cache
            .get_or_sign("hpc", 1, None, "k1", 1240, || sign(&mut signed, 1540))
            .unwrap();
        assert_ne!(a, c, "not reused in the last minute");
        let d = cache
            .get_or_sign("hpc", 1, None, "k2", 1241, || sign(&mut signed, 1541))
            .unwrap();
        assert_ne!(c, d, "a new signing key means a new token");
        let e = cache
            .get_or_sign("hpc", 1, Some("p1"), "k2", 1241, || sign(&mut signed, 1541))
            .unwrap();
        let f = cache
            .get_or_sign("hpc", 2, None, "k2", 1241, || sign(&mut signed, 1541))
            .unwrap();
        let g = cache
            .get_or_sign("other", 1, None, "k2", 1241, || sign(&mut signed, 1541))
            .unwrap();
        assert!(
            e != d && f != d && g != d && e != f,
            "project, user and provider are part of the key"
        );
        assert_eq!(cache.hits.load(Ordering::Relaxed), 1);
    }
}
