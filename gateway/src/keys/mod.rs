//! The gateway's key ring: RS256 signing keys, the published JWK Set, and rotation.
//!
//! Private keys live in `{data_dir}/keys/{kid}.pem` (PKCS#8, mode 0600); the database holds the public
//! halves and which key is current, so replicas sharing the database and the key folder agree.
//! A rotated-out key stays published until every token it signed has expired; a revoked key leaves
//! the JWK Set at once (a key that signs is first replaced by a new one that signs at once).

mod material;
mod ring;

pub use material::{KeyError, KeyMaterial};
pub use ring::{Activation, KeyRing, RevokeError, RevokedKey, RingError, RotatedKey, SignError};
