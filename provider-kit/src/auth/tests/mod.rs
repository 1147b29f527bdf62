//! Tests that drive the whole `Verifier` against a real JWKS server on 127.0.0.1:0, with tokens
//! signed by aws-lc-rs directly so nothing is shared with the code under test but the wire format.

mod attacks_claims;
mod attacks_header;
mod extractor;
mod keys;
pub(crate) mod kit;
mod revocation;
mod token_cache;
