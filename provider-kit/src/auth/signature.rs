//! Middle gate of verification: the RS256 signature of a token whose header already passed, checked
//! with the gateway key parsed once when the JWKS was read (not rebuilt from `n`/`e` per token, which
//! cost a third of the cold rate), then the payload decoded into the loose claims of its kind.
//! Nothing from the payload is read before the signature holds.

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;

use super::error::VerifyError;

/// A gateway public key, ready to verify RS256 signatures (RSASSA-PKCS1-v1_5 with SHA-256, 2048 to
/// 8192 bits).
pub(crate) struct VerifyingKey(ParsedPublicKey);

impl VerifyingKey {
    /// From the big-endian modulus and exponent of a JWK, without leading zero bytes.
    pub(crate) fn from_components(n: &[u8], e: &[u8]) -> Result<Self, &'static str> {
        RsaPublicKeyComponents { n, e }
            .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
            .map(Self)
            .map_err(|_| "modulus and exponent do not form an RSA public key")
    }
}

/// Checks the signature of a compact JWS (its shape already checked by `header::split`) and returns
/// its claims as `T`.
pub(crate) fn verify<T: DeserializeOwned>(
    token: &str,
    key: &VerifyingKey,
) -> Result<T, VerifyError> {
    let (signing_input, signature) = token
        .rsplit_once('.')
        .ok_or(VerifyError::Malformed("not a compact JWS of three parts"))?;
    let (_, payload) = signing_input
        .split_once('.')
        .ok_or(VerifyError::Malformed("not a compact JWS of three parts"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| VerifyError::Malformed("payload or signature is not base64url"))?;
    key.0
        .verify_sig(signing_input.as_bytes(), &signature)
        .map_err(|_| VerifyError::BadSignature)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| VerifyError::Malformed("payload or signature is not base64url"))?;
    serde_json::from_slice(&payload)
        .map_err(|_| VerifyError::Malformed("header or claims do not have the expected JSON shape"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
    use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RSA_PKCS1_SHA512};
    use serde_json::Value;

    fn generate() -> (KeyPair, VerifyingKey) {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let key = VerifyingKey::from_components(&public.n, &public.e).expect("a valid key");
        (pair, key)
    }

    fn signed(
        pair: &KeyPair,
        padding: &'static dyn aws_lc_rs::signature::RsaEncoding,
        payload: &str,
    ) -> String {
        let input = format!("eyJ9.{}", URL_SAFE_NO_PAD.encode(payload));
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(
            padding,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut signature,
        )
        .expect("RSA signing");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    #[test]
    fn a_genuine_signature_yields_the_claims_and_any_other_does_not() {
        let (pair, key) = generate();
        let token = signed(&pair, &RSA_PKCS1_SHA256, r#"{"a":1}"#);
        let claims: Value = verify(&token, &key).expect("genuine");
        assert_eq!(claims["a"], 1);

        let sha512 = signed(&pair, &RSA_PKCS1_SHA512, r#"{"a":1}"#);
        assert_eq!(
            verify::<Value>(&sha512, &key),
            Err(VerifyError::BadSignature)
        );
        let (_, other) = generate();
        assert_eq!(
            verify::<Value>(&token, &other),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn a_signed_payload_that_is_not_json_is_malformed() {
        let (pair, key) = generate();
        let token = signed(&pair, &RSA_PKCS1_SHA256, "not json");
        assert!(matches!(
            verify::<Value>(&token, &key),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            verify::<Value>("a.b.!!", &key),
            Err(VerifyError::Malformed(_))
        ));
    }

    #[test]
    fn components_that_are_not_a_key_are_refused() {
        assert!(VerifyingKey::from_components(&[], &[1, 0, 1]).is_err());
        assert!(VerifyingKey::from_components(&[0, 1], &[1, 0, 1]).is_err());
    }
}
