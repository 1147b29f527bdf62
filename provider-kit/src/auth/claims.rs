//! Last gate of verification: the claims of a token whose signature already checked out. Claims are
//! read into loose types first so a missing claim is reported as missing rather than as a parse
//! error, and `aud` may be a string or an array (RFC 7519 §4.1.3); the typed wire claims are only
//! built once every rule of SPEC §2.2 holds.

use serde::Deserialize;

use super::error::VerifyError;
use super::token_cache::Verified;
use crate::protocol::{
    MAX_SERVICE_LIFETIME_SECS, Principal, ROLE_SERVICE, SERVICE_SUBJECT, ServiceClaims,
    TYP_SERVICE, TYP_USERMAP, UsermapClaims,
};

/// A kind of gateway token: its `typ`, its loose claims, and how it is kept in the token cache.
pub(crate) trait TokenKind: Sized {
    const TYP: &'static str;
    /// Longest lifetime `exp − iat` the gateway may give this kind (SPEC §2), before leeway.
    const MAX_LIFETIME_SECS: i64;
    type Raw: serde::de::DeserializeOwned;

    fn check(raw: Self::Raw, expected: Expected<'_>) -> Result<Self, VerifyError>;
    fn exp(&self) -> i64;
    fn cached(verified: Verified) -> Option<Self>;
    fn to_cache(&self) -> Verified;
}

impl TokenKind for ServiceClaims {
    const TYP: &'static str = TYP_SERVICE;
    const MAX_LIFETIME_SECS: i64 = MAX_SERVICE_LIFETIME_SECS;
    type Raw = RawServiceClaims;

    fn check(raw: RawServiceClaims, expected: Expected<'_>) -> Result<Self, VerifyError> {
        raw.check(expected)
    }
    fn exp(&self) -> i64 {
        self.exp
    }
    fn cached(verified: Verified) -> Option<Self> {
        match verified {
            Verified::Service(claims) => Some(claims),
            Verified::Usermap(_) => None,
        }
    }
    fn to_cache(&self) -> Verified {
        Verified::Service(self.clone())
    }
}

impl TokenKind for UsermapClaims {
    const TYP: &'static str = TYP_USERMAP;
    const MAX_LIFETIME_SECS: i64 = MAX_SERVICE_LIFETIME_SECS;
    type Raw = RawUsermapClaims;

    fn check(raw: RawUsermapClaims, expected: Expected<'_>) -> Result<Self, VerifyError> {
        raw.check(expected)
    }
    fn exp(&self) -> i64 {
        self.service.exp
    }
    fn cached(verified: Verified) -> Option<Self> {
        match verified {
            Verified::Usermap(claims) => Some(claims),
            Verified::Service(_) => None,
        }
    }
    fn to_cache(&self) -> Verified {
        Verified::Usermap(self.clone())
    }
}

/// What the claims are checked against, fixed for one verification.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub now: i64,
    pub leeway: i64,
    /// The kind's longest lifetime `exp − iat`; the leeway is added to it.
    pub max_lifetime: i64,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawServiceClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    role: Option<String>,
    iat: Option<i64>,
    exp: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
    #[serde(default)]
    principal: Option<Principal>,
    #[serde(default)]
    project: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawUsermapClaims {
    #[serde(flatten)]
    service: RawServiceClaims,
    nonce: Option<String>,
    #[serde(rename = "returnUrl")]
    return_url: Option<String>,
}

fn required<T>(value: Option<T>, name: &'static str) -> Result<T, VerifyError> {
    value.ok_or(VerifyError::MissingClaim(name))
}

fn required_text(value: Option<String>, name: &'static str) -> Result<String, VerifyError> {
    required(value, name).and_then(|v| {
        if v.is_empty() {
            Err(VerifyError::MissingClaim(name))
        } else {
            Ok(v)
        }
    })
}

impl RawServiceClaims {
    pub(crate) fn check(self, expected: Expected<'_>) -> Result<ServiceClaims, VerifyError> {
        if required(self.iss, "iss")? != expected.issuer {
            return Err(VerifyError::WrongIssuer);
        }
        if !required(self.aud, "aud")?.contains(expected.audience) {
            return Err(VerifyError::WrongAudience);
        }
        let sub = required(self.sub, "sub")?;
        if sub != SERVICE_SUBJECT {
            return Err(VerifyError::WrongSubject);
        }
        let role = required(self.role, "role")?;
        if role != ROLE_SERVICE {
            return Err(VerifyError::WrongRole);
        }
        let exp = required(self.exp, "exp")?;
        if expected.now >= exp.saturating_add(expected.leeway) {
            return Err(VerifyError::Expired);
        }
        let late_bound = expected.now.saturating_add(expected.leeway);
        if self.nbf.is_some_and(|nbf| nbf > late_bound) {
            return Err(VerifyError::NotYetValid);
        }
        let iat = required(self.iat, "iat")?;
        if iat > late_bound {
            return Err(VerifyError::IssuedInFuture);
        }
        // A token signed with a genuine key but a lifetime of years would outlive any revocation.
        let lifetime = exp.saturating_sub(iat);
        if lifetime > expected.max_lifetime.saturating_add(expected.leeway) {
            return Err(VerifyError::LifetimeTooLong {
                lifetime,
                max: expected.max_lifetime,
            });
        }
        Ok(ServiceClaims {
            iss: expected.issuer.to_owned(),
            sub,
            aud: expected.audience.to_owned(),
            role,
            iat,
            exp,
            jti: required_text(self.jti, "jti")?,
            principal: self.principal,
            project: self.project,
        })
    }
}

impl RawUsermapClaims {
    pub(crate) fn check(self, expected: Expected<'_>) -> Result<UsermapClaims, VerifyError> {
        let service = self.service.check(expected)?;
        Ok(UsermapClaims {
            service,
            nonce: required_text(self.nonce, "nonce")?,
            return_url: required_text(self.return_url, "returnUrl")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const NOW: i64 = 1_700_000_000;

    fn expected() -> Expected<'static> {
        Expected {
            issuer: "https://gw",
            audience: "prov",
            now: NOW,
            leeway: 30,
            max_lifetime: 300,
        }
    }

    fn good() -> Value {
        json!({"iss": "https://gw", "sub": "_UCloud", "aud": "prov", "role": "SERVICE",
               "iat": NOW, "exp": NOW + 300, "jti": "j1"})
    }

    fn check(claims: Value) -> Result<ServiceClaims, VerifyError> {
        serde_json::from_value::<RawServiceClaims>(claims)
            .expect("test claims have the right shape")
            .check(expected())
    }

    fn with(key: &str, value: Value) -> Value {
        let mut claims = good();
        claims[key] = value;
        claims
    }

    fn without(key: &str) -> Value {
        let mut claims = good();
        claims.as_object_mut().expect("an object").remove(key);
        claims
    }

    #[test]
    fn audience_may_be_an_array_that_names_us() {
        assert_eq!(
            check(with("aud", json!(["other", "prov"]))).map(|c| c.aud),
            Ok("prov".into())
        );
        assert_eq!(
            check(with("aud", json!(["other"]))),
            Err(VerifyError::WrongAudience)
        );
        assert_eq!(
            check(with("aud", json!([]))),
            Err(VerifyError::WrongAudience)
        );
    }

    #[test]
    fn each_missing_claim_is_named() {
        for name in ["iss", "aud", "sub", "role", "exp", "iat", "jti"] {
            assert_eq!(
                check(without(name)),
                Err(VerifyError::MissingClaim(name)),
                "{name}"
            );
        }
    }

    #[test]
    fn leeway_applies_to_exp_nbf_and_iat_and_no_further() {
        assert!(check(with("exp", json!(NOW - 29))).is_ok());
        assert_eq!(
            check(with("exp", json!(NOW - 30))),
            Err(VerifyError::Expired)
        );
        assert!(check(with("nbf", json!(NOW + 30))).is_ok());
        assert_eq!(
            check(with("nbf", json!(NOW + 31))),
            Err(VerifyError::NotYetValid)
        );
        assert!(check(with("iat", json!(NOW + 30))).is_ok());
        assert_eq!(
            check(with("iat", json!(NOW + 3600))),
            Err(VerifyError::IssuedInFuture)
        );
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        assert_eq!(
            check(with("exp", json!(i64::MAX))),
            Err(VerifyError::LifetimeTooLong {
                lifetime: i64::MAX - NOW,
                max: 300
            })
        );
        assert_eq!(
            check(with("exp", json!(i64::MIN))),
            Err(VerifyError::Expired)
        );
        let mut ancient = with("iat", json!(i64::MIN));
        ancient["exp"] = json!(NOW + 10);
        assert!(matches!(
            check(ancient),
            Err(VerifyError::LifetimeTooLong { .. })
        ));
    }

    #[test]
    fn a_lifetime_up_to_the_maximum_plus_leeway_is_accepted_and_no_longer() {
        assert!(check(with("exp", json!(NOW + 300 + 30))).is_ok());
        assert_eq!(
            check(with("exp", json!(NOW + 300 + 31))),
            Err(VerifyError::LifetimeTooLong {
                lifetime: 331,
                max: 300
            })
        );
    }

    #[test]
    fn subject_and_role_must_be_the_gateways() {
        assert_eq!(
            check(with("sub", json!("#P_prov"))),
            Err(VerifyError::WrongSubject)
        );
        assert_eq!(
            check(with("role", json!("PROVIDER"))),
            Err(VerifyError::WrongRole)
        );
    }

    #[test]
    fn usermap_claims_need_nonce_and_return_url() {
        let mut claims = good();
        claims["nonce"] = json!("n1");
        let raw: RawUsermapClaims = serde_json::from_value(claims.clone()).expect("shape");
        assert_eq!(
            raw.check(expected()),
            Err(VerifyError::MissingClaim("returnUrl"))
        );
        claims["returnUrl"] = json!("https://gw/connections/1/complete");
        let raw: RawUsermapClaims = serde_json::from_value(claims).expect("shape");
        let checked = raw.check(expected()).expect("complete usermap claims");
        assert_eq!(checked.nonce, "n1");
        assert_eq!(checked.service.jti, "j1");
    }
}
