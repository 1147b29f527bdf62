//! Why a token was refused. Each reason is precise enough to debug a misconfigured gateway or
//! provider, and none carries the token: values copied from a token header are shortened and
//! stripped to printable ASCII so an attacker cannot smuggle a token (or a log injection) through.

/// The reason a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// `part` is `"token"` or `"header"`; the bound is checked before any decoding.
    #[error("{0} is too large")]
    TooLarge(&'static str),
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("unsupported algorithm {0:?}: only RS256 is accepted")]
    UnsupportedAlgorithm(String),
    #[error(
        "wrong token type: expected {expected:?}, found {}",
        .found.as_deref().map_or("no typ".to_owned(), |t| format!("{t:?}"))
    )]
    WrongType {
        expected: &'static str,
        found: Option<String>,
    },
    #[error("token header has no kid")]
    MissingKeyId,
    /// RFC 7515 §4.1.11: a receiver must refuse extensions it does not understand; we know none.
    #[error("token header marks extensions as critical")]
    CriticalHeader,
    #[error("no gateway key with kid {0:?}")]
    UnknownKey(String),
    /// The gateway's key set could not be fetched, so the token could not be checked at all.
    #[error("the gateway's key set is unavailable")]
    JwksUnavailable,
    #[error("bad signature")]
    BadSignature,
    #[error("missing claim {0:?}")]
    MissingClaim(&'static str),
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("token is meant for another audience")]
    WrongAudience,
    #[error("wrong subject")]
    WrongSubject,
    #[error("wrong role")]
    WrongRole,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token was issued in the future")]
    IssuedInFuture,
    /// `exp − iat` is longer than SPEC §2 allows this kind (plus the leeway): a genuine key
    /// signing a token that would outlive any key revocation.
    #[error("token lifetime of {lifetime} s exceeds the {max} s allowed")]
    LifetimeTooLong { lifetime: i64, max: i64 },
}

impl VerifyError {
    /// The stable label of this reason, for metrics (`provider_verification_failures_total`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "tooLarge",
            Self::Malformed(_) => "malformed",
            Self::UnsupportedAlgorithm(_) => "unsupportedAlgorithm",
            Self::WrongType { .. } => "wrongType",
            Self::MissingKeyId => "missingKeyId",
            Self::CriticalHeader => "criticalHeader",
            Self::UnknownKey(_) => "unknownKey",
            Self::JwksUnavailable => "jwksUnavailable",
            Self::BadSignature => "badSignature",
            Self::MissingClaim(_) => "missingClaim",
            Self::WrongIssuer => "wrongIssuer",
            Self::WrongAudience => "wrongAudience",
            Self::WrongSubject => "wrongSubject",
            Self::WrongRole => "wrongRole",
            Self::Expired => "expired",
            Self::NotYetValid => "notYetValid",
            Self::IssuedInFuture => "issuedInFuture",
            Self::LifetimeTooLong { .. } => "lifetimeTooLong",
        }
    }
}

/// Values from a token header end up in errors and logs; keep them short and printable.
pub(crate) fn sanitize(value: &str) -> String {
    const MAX_CHARS: usize = 40;
    value
        .chars()
        .take(MAX_CHARS)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_shortens_and_strips_control_characters() {
        assert_eq!(sanitize("HS256"), "HS256");
        assert_eq!(sanitize("a\nb\u{1b}[31mé"), "a?b?[31m?");
        assert_eq!(sanitize(&"x".repeat(500)).len(), 40);
    }

    #[test]
    fn reasons_read_like_sentences() {
        let err = VerifyError::WrongType {
            expected: "ucloud-service+jwt",
            found: Some("at+jwt".into()),
        };
        assert_eq!(
            err.to_string(),
            r#"wrong token type: expected "ucloud-service+jwt", found "at+jwt""#
        );
        assert_eq!(
            VerifyError::UnsupportedAlgorithm("none".into()).to_string(),
            r#"unsupported algorithm "none": only RS256 is accepted"#
        );
    }
}
