//! The change feed (SPEC §10), as the caches see it: what another process (a replica, or a `gateway`
//! CLI command) changed, and which cache drops or reloads what.
//!
//! The database's triggers write each change in the transaction that makes it (`store::Feed`); this
//! module parses the line, and `background::change_feed` applies it to exactly the cache entry it
//! names. A full re-read runs
//! whenever the feed may have missed something (a reconnected listener) and every
//! `change_resync_secs` as the safety net. The sign-in throttle has no cache: its counters are read
//! from the database on every attempt, so every replica sees them at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// One change, parsed from a `kind:key` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A session or API token (by secret hash) was revoked or changed.
    Credential(String),
    /// A user's record or account state changed: their cached credentials go.
    User(i64),
    /// A provider was registered, approved, suspended, resumed or had its refresh token replaced.
    Provider(String),
    /// A provider's manifest record was saved (fetched, failed, or reloaded by force).
    Manifest(String),
    /// A signing key was added, retired or revoked.
    Keys,
    /// The brokered-user record of (user, provider) was removed (a connection ended).
    Brokered { user_id: i64, provider_id: String },
    /// A user accepted an agreement or a provider's terms (SPEC §9).
    Agreements(i64),
}

impl Change {
    /// `None` for a line this version does not know: the caller resyncs, to be safe.
    pub fn parse(line: &str) -> Option<Self> {
        let (kind, key) = line.split_once(':')?;
        match kind {
            "credential" if !key.is_empty() => Some(Self::Credential(key.to_owned())),
            "user" => key.parse().ok().map(Self::User),
            "provider" if !key.is_empty() => Some(Self::Provider(key.to_owned())),
            "manifest" if !key.is_empty() => Some(Self::Manifest(key.to_owned())),
            "keys" => Some(Self::Keys),
            "agreements" => key.parse().ok().map(Self::Agreements),
            "brokered" => {
                let (user, provider) = key.split_once(':')?;
                Some(Self::Brokered {
                    user_id: user.parse().ok()?,
                    provider_id: provider.to_owned(),
                })
            }
            _ => None,
        }
    }
}

/// Whether this process hears every change now. False from start until the PostgreSQL listener
/// first listens, and from a lost connection until it listens again and has re-read everything;
/// `/readyz` answers 503 meanwhile, since revocations could be missed.
#[derive(Clone, Default)]
pub struct FeedHealth(Arc<AtomicBool>);

impl FeedHealth {
    pub fn is_live(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub(crate) fn set(&self, live: bool) {
        self.0.store(live, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_the_triggers_write_parses_to_what_it_names() {
        assert_eq!(
            Change::parse("credential:ab12"),
            Some(Change::Credential("ab12".into()))
        );
        assert_eq!(Change::parse("user:42"), Some(Change::User(42)));
        assert_eq!(
            Change::parse("provider:hpc:x"),
            Some(Change::Provider("hpc:x".into()))
        );
        assert_eq!(
            Change::parse("manifest:hpc"),
            Some(Change::Manifest("hpc".into()))
        );
        assert_eq!(Change::parse("keys:k-1"), Some(Change::Keys));
        assert_eq!(Change::parse("agreements:9"), Some(Change::Agreements(9)));
        assert_eq!(
            Change::parse("brokered:7:hpc"),
            Some(Change::Brokered {
                user_id: 7,
                provider_id: "hpc".into()
            })
        );
    }

    #[test]
    fn lines_it_does_not_know_are_none_so_the_follower_resyncs() {
        for line in [
            "",
            "user",
            "user:x",
            "credential:",
            "brokered:x:hpc",
            "throttle:1",
            "nope:1",
        ] {
            assert_eq!(Change::parse(line), None, "{line:?}");
        }
    }
}
