//! Provider side of SPEC §2: verifying the JWTs the gateway sends (service tokens on every call,
//! usermap tokens on the account-connection redirect) against the gateway's published keys.
//!
//! Build one `Verifier` at start-up, put it in the router state, and take a `ServiceRequest` in
//! every handler the gateway calls.

mod claims;
mod clock;
mod config;
mod error;
mod extract;
mod header;
mod jwks;
mod key_cache;
mod signature;
mod token_cache;
mod verifier;

#[cfg(test)]
pub(crate) mod tests;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ConfigError, VerifierConfig};
pub use error::VerifyError;
pub use extract::{AuthRejection, ServiceRequest};
pub use header::{MAX_HEADER_LEN, MAX_TOKEN_LEN};
pub use key_cache::MAX_JWKS_BYTES;
pub use verifier::{Verifier, VerifierStats};
