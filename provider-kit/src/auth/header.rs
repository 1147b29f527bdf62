//! First gate of verification: the compact JWS shape and its protected header, checked before any
//! key is looked up. Sizes are bounded before anything is decoded, and the header is read with our
//! own narrow type so `alg`, `typ`, `kid` and `crit` are judged on exactly what the token says;
//! key-bearing headers (`jku`, `x5u`, `jwk`, `x5c`) are never even read.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer};

use super::error::{VerifyError, sanitize};

/// A gateway token with a full principal is well under 2 KiB; 8 KiB leaves room without letting a
/// caller make us hash or parse megabytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Bound on the encoded header, whose honest form is about 100 bytes.
pub const MAX_HEADER_LEN: usize = 1024;

/// The only algorithm the gateway signs with (SPEC §2).
const ALG_RS256: &str = "RS256";

pub(crate) fn check_len(token: &str) -> Result<(), VerifyError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(VerifyError::TooLarge("token"));
    }
    Ok(())
}

/// Checks the compact JWS shape and returns the still-encoded header.
pub(crate) fn split(token: &str) -> Result<&str, VerifyError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed("not a compact JWS of three parts"));
    };
    if header.is_empty() || payload.is_empty() {
        return Err(VerifyError::Malformed("empty header or payload"));
    }
    if header.len() > MAX_HEADER_LEN {
        return Err(VerifyError::TooLarge("header"));
    }
    Ok(header)
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    typ: Option<String>,
    kid: Option<String>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

/// `crit` is refused whatever its value, `null` included, so only its presence matters.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// Checks the header for a token of type `expected_typ` and returns the `kid` to verify with.
pub(crate) fn check_header(
    encoded: &str,
    expected_typ: &'static str,
) -> Result<String, VerifyError> {
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| VerifyError::Malformed("header is not base64url"))?;
    let header: RawHeader = serde_json::from_slice(&json)
        .map_err(|_| VerifyError::Malformed("header is not a JSON object"))?;
    let alg = header
        .alg
        .ok_or(VerifyError::Malformed("header has no alg"))?;
    if alg != ALG_RS256 {
        return Err(VerifyError::UnsupportedAlgorithm(sanitize(&alg)));
    }
    if header.typ.as_deref() != Some(expected_typ) {
        return Err(VerifyError::WrongType {
            expected: expected_typ,
            found: header.typ.as_deref().map(sanitize),
        });
    }
    if header.crit {
        return Err(VerifyError::CriticalHeader);
    }
    match header.kid {
        Some(kid) if !kid.is_empty() => Ok(kid),
        _ => Err(VerifyError::MissingKeyId),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header_of(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn check(value: &serde_json::Value) -> Result<String, VerifyError> {
        let token = format!("{}.e30.c2ln", header_of(value));
        check_header(split(&token)?, "ucloud-service+jwt")
    }

    #[test]
    fn a_good_header_yields_its_kid() {
        let header = json!({"alg": "RS256", "typ": "ucloud-service+jwt", "kid": "k1"});
        assert_eq!(check(&header), Ok("k1".to_owned()));
    }

    #[test]
    fn key_bearing_headers_are_ignored_not_refused() {
        let header = json!({"alg": "RS256", "typ": "ucloud-service+jwt", "kid": "k1",
            "jku": "http://evil/jwks", "x5u": "http://evil/x5u", "jwk": {"kty": "RSA"}, "x5c": ["AA"]});
        assert_eq!(check(&header), Ok("k1".to_owned()));
    }

    #[test]
    fn crit_is_refused_even_when_null() {
        for crit in [json!(["exp"]), json!(null), json!([])] {
            let header =
                json!({"alg": "RS256", "typ": "ucloud-service+jwt", "kid": "k", "crit": crit});
            assert_eq!(check(&header), Err(VerifyError::CriticalHeader));
        }
    }

    #[test]
    fn duplicate_alg_is_malformed_rather_than_first_or_last_wins() {
        let raw = r#"{"alg":"RS256","alg":"none","typ":"ucloud-service+jwt","kid":"k"}"#;
        let token = format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(raw));
        let result = split(&token).and_then(|c| check_header(c, "ucloud-service+jwt"));
        assert_eq!(
            result,
            Err(VerifyError::Malformed("header is not a JSON object"))
        );
    }

    #[test]
    fn missing_or_empty_kid_is_refused() {
        let no_kid = json!({"alg": "RS256", "typ": "ucloud-service+jwt"});
        assert_eq!(check(&no_kid), Err(VerifyError::MissingKeyId));
        let empty = json!({"alg": "RS256", "typ": "ucloud-service+jwt", "kid": ""});
        assert_eq!(check(&empty), Err(VerifyError::MissingKeyId));
    }

    #[test]
    fn shape_is_checked_before_decoding() {
        assert!(matches!(split("a.b"), Err(VerifyError::Malformed(_))));
        assert!(matches!(split("a.b.c.d"), Err(VerifyError::Malformed(_))));
        assert!(matches!(split(".b.c"), Err(VerifyError::Malformed(_))));
        let huge_header = format!("{}.e30.c2ln", "A".repeat(MAX_HEADER_LEN + 1));
        assert!(matches!(
            split(&huge_header),
            Err(VerifyError::TooLarge("header"))
        ));
        assert_eq!(
            check_len(&"a".repeat(MAX_TOKEN_LEN + 1)),
            Err(VerifyError::TooLarge("token"))
        );
        assert_eq!(check_len(&"a".repeat(MAX_TOKEN_LEN)), Ok(()));
    }
}
