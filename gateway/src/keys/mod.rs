//! The gateway's key ring: RS256 signing keys, the published JWK Set, and rotation.
//!
//! Keys live in the database (`signing_keys`): public halves in the clear, private halves sealed with
//! AES-256-GCM under the key-encryption key (`kek`), so replicas sharing the database share the ring
//! and nothing else. Legacy key files (`{data_dir}/keys/key-{kid}.pem`) are imported at start.
//! A rotated-out key stays published until every token it signed has expired; a revoked key leaves
//! the JWK Set at once (a key that signs is first replaced by a new one that signs at once).

mod kek;
mod material;
mod ring;

pub use kek::{Kek, KekError, KekSource};
pub use material::{KeyError, KeyMaterial};
pub use ring::{
    Activation, ImportReport, KeyRing, RevokeError, RevokedKey, RingError, RotatedKey, SignError,
};
