//! Opaque secrets: refresh tokens, API tokens, session ids. Generated from the OS CSPRNG, shown once,
//! stored only as SHA-256 hashes (they carry 256 random bits, so a fast hash is the right one; slow
//! hashes are for low-entropy passwords).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

/// A secret the caller shows once and then drops. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// `prefix` + 256 random bits, base64url. The prefix tells a leaked string's kind at a glance.
    pub fn generate(prefix: &str) -> Self {
        Self(format!(
            "{prefix}{}",
            URL_SAFE_NO_PAD.encode(random_bytes::<32>())
        ))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> String {
        hash_secret(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The stored form of a presented secret.
pub fn hash_secret(secret: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    hex(digest.as_ref())
}

/// Random bytes from the OS generator. Failure of the system RNG is not something to recover from.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    #[expect(
        clippy::expect_used,
        reason = "no safe way to continue without randomness"
    )]
    aws_lc_rs::rand::fill(&mut buf).expect("the system random generator failed");
    buf
}

/// A short random identifier (128 bits, hex) for rows and `jti`s.
pub fn random_id() -> String {
    hex(&random_bytes::<16>())
}

pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

pub const REFRESH_TOKEN_PREFIX: &str = "gwr_";
pub const API_TOKEN_PREFIX: &str = "gwp_";
pub const SESSION_PREFIX: &str = "gws_";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_distinct_and_hidden_from_debug() {
        let a = Secret::generate(REFRESH_TOKEN_PREFIX);
        let b = Secret::generate(REFRESH_TOKEN_PREFIX);
        assert_ne!(a, b);
        assert!(a.expose().len() >= REFRESH_TOKEN_PREFIX.len() + 43);
        assert_eq!(format!("{a:?}"), "Secret(***)");
        assert_ne!(a.hash(), a.expose());
        assert_eq!(a.hash(), hash_secret(a.expose()));
    }
}
