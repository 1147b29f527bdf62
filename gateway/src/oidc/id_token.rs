//! ID-token validation (OpenID Connect Core §3.1.3.7), the part of the callback that decides whom
//! an IdP vouches for. Only algorithms the IdP announced and we accept (RSA and EC signatures) pass;
//! `none` does not parse and HMAC is refused before any key is looked at, so a token "signed" with
//! the client secret never verifies. Time is the gateway's clock, not the system's.

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation, decode, decode_header};
use serde_json::{Map, Value};

/// Allowed clock difference with the IdP, seconds.
pub const LEEWAY_SECS: i64 = 60;
/// An ID token issued longer ago than this is refused even if it has not expired.
pub const MAX_AGE_SECS: i64 = 600;
/// Larger tokens are refused unread.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// What the token must match.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// From discovery, already narrowed to what we accept.
    pub algorithms: &'a [Algorithm],
    pub now_secs: i64,
}

/// Why an ID token was refused. The reason goes to the log and to the user's error page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the identity provider's ID token was refused: {0}")]
pub struct Refused(pub &'static str);

/// Algorithms the gateway verifies: asymmetric signatures only.
pub fn acceptable(alg: &str) -> Option<Algorithm> {
    let alg: Algorithm = alg.parse().ok()?;
    match alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512
        | Algorithm::ES256
        | Algorithm::ES384 => Some(alg),
        _ => None,
    }
}

/// The header, if its algorithm is one the IdP announced (and so one we accept).
pub fn header(token: &str, expected: &Expected<'_>) -> Result<Header, Refused> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Refused("too large"));
    }
    // `alg: none` and unknown algorithms fail here: jsonwebtoken has no such variant.
    let header = decode_header(token).map_err(|_| Refused("malformed, or signed with alg none"))?;
    if !expected.algorithms.contains(&header.alg) {
        return Err(Refused(
            "signed with an algorithm the identity provider does not announce (or an HMAC)",
        ));
    }
    Ok(header)
}

/// Verifies signature and claims; returns every claim of the token.
pub fn verify(
    token: &str,
    header: &Header,
    key: &DecodingKey,
    expected: &Expected<'_>,
) -> Result<Map<String, Value>, Refused> {
    let mut validation = Validation::new(header.alg);
    validation.algorithms = vec![header.alg];
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["iss", "aud", "sub", "exp"]);
    // jsonwebtoken reads the system clock; exp and iat are checked against ours below.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let claims = decode::<Map<String, Value>>(token, key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => Refused("issued by another issuer"),
            jsonwebtoken::errors::ErrorKind::InvalidAudience => Refused("meant for another client"),
            jsonwebtoken::errors::ErrorKind::InvalidSignature => Refused("bad signature"),
            _ => Refused("malformed or missing claims"),
        })?
        .claims;
    check_claims(&claims, expected)?;
    Ok(claims)
}

/// The checks jsonwebtoken does not make: time against our clock, `azp`, `nonce`, `sub`.
fn check_claims(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<(), Refused> {
    let now = expected.now_secs;
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(Refused("no exp"))?;
    if exp.saturating_add(LEEWAY_SECS) <= now {
        return Err(Refused("expired"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(Refused("no iat"))?;
    if iat.saturating_sub(LEEWAY_SECS) > now {
        return Err(Refused("issued in the future"));
    }
    if now.saturating_sub(iat) > MAX_AGE_SECS + LEEWAY_SECS {
        return Err(Refused("issued too long ago"));
    }
    let audiences = match claims.get("aud") {
        Some(Value::Array(a)) => a.len(),
        _ => 1,
    };
    match claims.get("azp") {
        Some(Value::String(azp)) if azp == expected.client_id => {}
        Some(_) => return Err(Refused("authorized for another client (azp)")),
        None if audiences > 1 => return Err(Refused("several audiences and no azp")),
        None => {}
    }
    match claims.get("nonce") {
        Some(Value::String(n)) if same(n, expected.nonce) => {}
        Some(_) => return Err(Refused("wrong nonce")),
        None => return Err(Refused("no nonce")),
    }
    match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => Ok(()),
        _ => Err(Refused("no usable sub")),
    }
}

/// Constant-time equality of two secrets.
pub fn same(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expected(now: i64) -> Expected<'static> {
        Expected {
            issuer: "https://idp.example",
            client_id: "gw",
            nonce: "n-1",
            algorithms: &[Algorithm::RS256],
            now_secs: now,
        }
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn hmac_and_none_are_never_acceptable() {
        for alg in ["HS256", "HS384", "HS512", "none", "None", "EdDSA", ""] {
            assert!(acceptable(alg).is_none(), "{alg}");
        }
        assert_eq!(acceptable("RS256"), Some(Algorithm::RS256));
        assert_eq!(acceptable("ES256"), Some(Algorithm::ES256));
    }

    #[test]
    fn time_azp_nonce_and_sub_are_checked_against_our_clock_and_request() {
        let ok = json!({"sub":"u1","exp":1100,"iat":1000,"nonce":"n-1","aud":"gw"});
        assert_eq!(check_claims(&claims(ok.clone()), &expected(1000)), Ok(()));
        let cases = [
            (
                json!({"sub":"u1","exp":900,"iat":800,"nonce":"n-1"}),
                "expired",
            ),
            (
                json!({"sub":"u1","exp":3000,"iat":1200,"nonce":"n-1"}),
                "issued in the future",
            ),
            (json!({"sub":"u1","exp":3000,"nonce":"n-1"}), "no iat"),
            (
                json!({"sub":"u1","exp":1100,"iat":1000,"nonce":"n-2"}),
                "wrong nonce",
            ),
            (json!({"sub":"u1","exp":1100,"iat":1000}), "no nonce"),
            (
                json!({"sub":"u1","exp":1100,"iat":1000,"nonce":"n-1","azp":"other"}),
                "authorized for another client (azp)",
            ),
            (
                json!({"sub":"u1","exp":1100,"iat":1000,"nonce":"n-1","aud":["gw","other"]}),
                "several audiences and no azp",
            ),
            (
                json!({"sub":"","exp":1100,"iat":1000,"nonce":"n-1"}),
                "no usable sub",
            ),
        ];
        for (c, reason) in cases {
            assert_eq!(
                check_claims(&claims(c.clone()), &expected(1000)),
                Err(Refused(reason)),
                "{c}"
            );
        }
        assert_eq!(
            check_claims(
                &claims(ok),
                &expected(1000 + MAX_AGE_SECS + LEEWAY_SECS + 1)
            ),
            Err(Refused("expired"))
        );
    }

    #[test]
    fn a_token_with_alg_none_or_an_unannounced_algorithm_is_refused_by_its_header() {
        use base64::Engine;
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!(
            "{}.{}.",
            b64(json!({"alg":"none"})),
            b64(json!({"sub":"x"}))
        );
        assert!(header(&none, &expected(0)).is_err());
        let hs = format!(
            "{}.{}.c2ln",
            b64(json!({"alg":"HS256"})),
            b64(json!({"sub":"x"}))
        );
        assert!(header(&hs, &expected(0)).is_err());
        let es = format!(
            "{}.{}.c2ln",
            b64(json!({"alg":"ES256"})),
            b64(json!({"sub":"x"}))
        );
        assert!(
            header(&es, &expected(0)).is_err(),
            "ES256 was not announced"
        );
    }
}
