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
    hex(&secret_digest(secret))
}

/// The SHA-256 digest `hash_secret` writes in hex: what in-memory caches key on.
pub fn secret_digest(secret: &str) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// The digest a `hash_secret` text stands for; `None` when it is not one.
pub fn digest_of_hash(hash: &str) -> Option<[u8; 32]> {
    let bytes = hash.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
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
    let mut out = vec![0; bytes.len() * 2];
    hex_into(bytes, &mut out);
    // Hex digits are ASCII: the check cannot fail, and costs less than pushing chars.
    String::from_utf8(out).unwrap_or_default()
}

/// Writes `bytes` as lowercase hex into `out`, which holds twice as many bytes.
fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
}

/// 32 lowercase hex digits, kept on the stack: a request makes two (its id and its trace's).
#[derive(Clone, Copy)]
pub struct CorrelationId([u8; 32]);

impl AsRef<[u8]> for CorrelationId {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl CorrelationId {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// A unique, unpredictable-enough id for request correlation (`X-Request-Id`, trace ids): a
/// per-process random key mixed with a counter. Cheaper than the CSPRNG on the broker's hot path;
/// never use it for secrets.
pub fn correlation_id() -> CorrelationId {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static KEY: OnceLock<[u64; 2]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let key = KEY.get_or_init(|| {
        let b = random_bytes::<16>();
        let half = |i: usize| {
            u64::from_le_bytes([
                b[i],
                b[i + 1],
                b[i + 2],
                b[i + 3],
                b[i + 4],
                b[i + 5],
                b[i + 6],
                b[i + 7],
            ])
        };
        [half(0), half(8)]
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&splitmix64(n ^ key[0]).to_be_bytes());
    bytes[8..].copy_from_slice(&splitmix64(n.wrapping_add(key[1])).to_be_bytes());
    let mut id = CorrelationId([0; 32]);
    hex_into(&bytes, &mut id.0);
    id
}

/// A bijective 64-bit mixer: distinct inputs give distinct, scattered outputs.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
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

    #[test]
    fn a_stored_hash_reads_back_as_its_digest() {
        let secret = Secret::generate(API_TOKEN_PREFIX);
        assert_eq!(
            digest_of_hash(&secret.hash()),
            Some(secret_digest(secret.expose()))
        );
        assert_eq!(hex(&secret_digest("x")), hash_secret("x"));
        for bad in ["", "abc", &"g".repeat(64), &"A".repeat(64), &"a".repeat(63)] {
            assert_eq!(digest_of_hash(bad), None, "{bad}");
        }
    }

    #[test]
    fn hex_and_correlation_ids_are_well_formed_and_distinct() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        let ids: std::collections::HashSet<String> = (0..10_000)
            .map(|_| correlation_id().as_str().to_owned())
            .collect();
        assert_eq!(ids.len(), 10_000);
        assert!(
            ids.iter()
                .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );
    }
}
