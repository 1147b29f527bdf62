//! Reading the gateway's JWK Set (RFC 7517) into verification keys. Only keys that can sign RS256
//! tokens are kept: `kty: RSA`, `alg` RS256 if stated, `use` sig if stated, `key_ops` allowing
//! verify if stated, and a modulus of 2048 to 8192 bits. Anything else in the set is skipped, not
//! fatal, so a gateway that also publishes other keys keeps working. Each key is parsed here, once
//! per fetch, so verification never rebuilds it.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::error::sanitize;
use super::signature::VerifyingKey;

/// kid → key, as served by the last good fetch.
pub(crate) type KeyMap = HashMap<String, Arc<VerifyingKey>>;

/// Why a fetched key set was not taken; logged, never shown to callers.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JwksError {
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("body is not a JWK Set")]
    NotJwks,
    #[error("no usable RS256 signing key")]
    NoUsableKeys,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

/// One JWK, loosely typed so an unexpected member skips the key instead of the whole set.
#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    n: Option<String>,
    e: Option<String>,
}

const MIN_MODULUS_BYTES: usize = 2048 / 8;
const MAX_MODULUS_BYTES: usize = 8192 / 8;

pub(crate) fn parse(body: &[u8]) -> Result<KeyMap, JwksError> {
    let set: RawSet = serde_json::from_slice(body).map_err(|_| JwksError::NotJwks)?;
    let mut keys = KeyMap::new();
    for value in set.keys {
        let Ok(jwk) = serde_json::from_value::<RawJwk>(value) else {
            tracing::debug!("skipping a JWK that is not an object with kty");
            continue;
        };
        let Some(kid) = jwk.kid.clone() else {
            tracing::debug!("skipping a JWK without kid");
            continue;
        };
        match usable_key(&jwk) {
            Ok(key) => match keys.entry(kid) {
                Entry::Occupied(seen) => {
                    let kid = sanitize(seen.key());
                    tracing::warn!(%kid, "JWK Set repeats a kid; keeping the first");
                }
                Entry::Vacant(slot) => {
                    slot.insert(Arc::new(key));
                }
            },
            Err(why) => tracing::debug!(kid = %sanitize(&kid), why, "skipping JWK"),
        }
    }
    if keys.is_empty() {
        return Err(JwksError::NoUsableKeys);
    }
    Ok(keys)
}

fn usable_key(jwk: &RawJwk) -> Result<VerifyingKey, &'static str> {
    if jwk.kty != "RSA" {
        return Err("kty is not RSA");
    }
    if jwk.alg.as_deref().is_some_and(|alg| alg != "RS256") {
        return Err("alg is not RS256");
    }
    if jwk.use_.as_deref().is_some_and(|use_| use_ != "sig") {
        return Err("use is not sig");
    }
    if jwk
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
    {
        return Err("key_ops does not allow verify");
    }
    let n = decode_integer(jwk.n.as_deref().ok_or("no modulus")?)?;
    let e = decode_integer(jwk.e.as_deref().ok_or("no exponent")?)?;
    if !(MIN_MODULUS_BYTES..=MAX_MODULUS_BYTES).contains(&n.len()) {
        return Err("modulus is not 2048 to 8192 bits");
    }
    VerifyingKey::from_components(&n, &e)
}

/// RFC 7518 §6.3.1 asks for minimal big-endian integers, but some encoders keep a leading zero;
/// the RSA backend refuses those, so they are trimmed here rather than failing the key.
fn decode_integer(encoded: &str) -> Result<Vec<u8>, &'static str> {
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| "integer is not base64url")?;
    let start = bytes
        .iter()
        .position(|&b| b != 0)
        .ok_or("integer is zero")?;
    Ok(bytes[start..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn n(bytes: usize) -> String {
        URL_SAFE_NO_PAD.encode(vec![0xC5; bytes])
    }

    fn kids(body: &serde_json::Value) -> Vec<String> {
        let mut kids: Vec<String> = parse(body.to_string().as_bytes())
            .map(|keys| keys.into_keys().collect())
            .unwrap_or_default();
        kids.sort();
        kids
    }

    #[test]
    fn only_rs256_signing_keys_are_kept() {
        let body = json!({"keys": [
            {"kty": "RSA", "kid": "good", "alg": "RS256", "use": "sig", "n": n(256), "e": "AQAB"},
            {"kty": "RSA", "kid": "bare", "n": n(256), "e": "AQAB"},
            {"kty": "RSA", "kid": "rs512", "alg": "RS512", "n": n(256), "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": n(256), "e": "AQAB"},
            {"kty": "RSA", "kid": "ops", "key_ops": ["encrypt"], "n": n(256), "e": "AQAB"},
            {"kty": "RSA", "kid": "small", "n": n(128), "e": "AQAB"},
            {"kty": "RSA", "kid": "no-n", "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "n": n(256), "e": "AQAB"},
            "not an object"
        ]});
        assert_eq!(kids(&body), ["bare", "good"]);
    }

    #[test]
    fn a_leading_zero_in_the_modulus_is_tolerated() {
        let mut modulus = vec![0u8];
        modulus.extend(vec![0xC5; 256]);
        let body = json!({"keys": [{"kty": "RSA", "kid": "z", "n": URL_SAFE_NO_PAD.encode(modulus), "e": "AQAB"}]});
        assert_eq!(kids(&body), ["z"]);
    }

    #[test]
    fn a_set_without_usable_keys_is_an_error() {
        let body = json!({"keys": [{"kty": "EC", "kid": "ec"}]});
        assert!(matches!(
            parse(body.to_string().as_bytes()),
            Err(JwksError::NoUsableKeys)
        ));
        assert!(matches!(parse(b"<html>"), Err(JwksError::NotJwks)));
    }
}
