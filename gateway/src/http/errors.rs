//! The one error table: every failure becomes an RFC 9457 problem (SPEC §6). Server-side failures
//! log their cause and answer a generic detail, so no internal text, token or trace leaks.

use crate::accounting::AccountingError;
use crate::accounts::{AccountError, AccountState, Locked};
use crate::broker::{BrokerError, ProxyError};
use crate::clock::rfc3339;
use crate::connections::ConnectionError;
use crate::problem::ProblemCode;
use crate::projects::ProjectError;
use crate::registry::RegistryError;
use crate::tokens::TokenError;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use provider_kit::protocol::Problem;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Immutable(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413 `payloadTooLarge`: the detail says the limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    #[error("{0}")]
    InvalidManifest(String),
    #[error("{0}")]
    ManifestUnavailable(String),
    #[error("{0}")]
    InvalidTransition(String),
    /// 409: a production provider's manifest is not fetched before an admin approves it.
    #[error("{0}")]
    ProviderNotApproved(String),
    /// 403: the operator lets only admins register test providers.
    #[error("{0}")]
    TestRegistrationRestricted(String),
    /// 404 `noSuchConnection`, one body for every report a provider may not make (SPEC §4).
    #[error("no connection of this provider matches this report")]
    NoSuchConnection,
    /// 402 with `balance` (and `duplicate`) members: nothing was taken.
    #[error("the wallet holds {balance} units and the charge needs {units}; nothing was taken")]
    InsufficientFunds {
        units: i64,
        balance: i64,
        duplicate: bool,
    },
    /// 403 `accountSuspended` / `accountExpired` / `accountDisabled`.
    #[error("{0}")]
    AccountInactive(AccountState),
    /// 429 `tooManyAttempts` with `Retry-After` (SPEC §7).
    #[error("too many failed sign-ins for this account or from this address; try again in {} seconds", .0.retry_after_secs)]
    TooManyAttempts(Locked),
    /// 403 `crossOriginRequest`: a cookie-authenticated unsafe request from another origin (SPEC §3).
    #[error(
        "this request carries the session cookie but does not come from the gateway's own pages (Origin or Sec-Fetch-Site); scripts use Authorization: Bearer <API token>"
    )]
    CrossOriginRequest,
    /// 503 `notReady` from `/readyz`: what the gateway is waiting for.
    #[error("{0}")]
    NotReady(&'static str),
    /// 400 `invalidPath`: a brokered path that is not one (SPEC §5).
    #[error("{0}")]
    InvalidPath(String),
    /// 403 `providerInactive`.
    #[error("{0}")]
    ProviderInactive(String),
    /// 503 `manifestUnavailable` with `provider`: its manifest is not fetched yet.
    #[error("{detail}")]
    ManifestPending { detail: String, provider: String },
    /// 400 `featureNotSupported` with `provider` and `feature`.
    #[error("{detail}")]
    FeatureNotSupported {
        detail: String,
        provider: String,
        feature: String,
    },
    /// 403 `connectionRequired` with `provider` and `connectUrl`.
    #[error("{detail}")]
    ConnectionRequired {
        detail: String,
        provider: String,
        connect_url: String,
    },
    /// 403 `notAProjectMember`.
    #[error("{0}")]
    NotAProjectMember(String),
    /// 403 `agreementRequired` with `agreementsUrl` and `agreements` (what to accept), SPEC §9.
    #[error("{detail}")]
    AgreementRequired {
        detail: String,
        agreements_url: String,
        pending: serde_json::Value,
    },
    /// 403 `assuranceRequired` with `provider`, `missing` and `signInUrl`, SPEC §9.
    #[error("{detail}")]
    AssuranceRequired {
        detail: String,
        provider: String,
        missing: Vec<String>,
        sign_in_url: String,
    },
    /// 403 `accountInvalid` with `missing` and `completeUrl`, SPEC §9.
    #[error("{detail}")]
    AccountInvalid {
        detail: String,
        missing: Vec<String>,
        complete_url: String,
    },
    /// 502 `providerUnreachable` with `provider`.
    #[error("{detail}")]
    ProviderUnreachable { detail: String, provider: String },
    /// 504 `providerTimeout` with `provider`.
    #[error("{detail}")]
    ProviderTimeout { detail: String, provider: String },
    /// 400 `sessionRequired`: the connection flow needs a browser session.
    #[error("{0}")]
    SessionRequired(String),
    /// 400 `invalidAttempt`: a connection attempt that cannot complete.
    #[error("{0}")]
    InvalidAttempt(String),
    /// 409 `remapRequiresDisconnect`.
    #[error("{0}")]
    RemapRequiresDisconnect(String),
    /// 409 `lastWayIn`: unlinking would leave no way to sign in (SPEC §8).
    #[error("{0}")]
    LastWayIn(String),
    /// 409 `mergeRefused`: nothing was changed (SPEC §8).
    #[error("{0}")]
    MergeRefused(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    /// This failure's row of the one table.
    pub fn code(&self) -> ProblemCode {
        use ApiError::*;
        match self {
            BadRequest(_) => ProblemCode::InvalidInput,
            Unauthorized(_) => ProblemCode::Unauthenticated,
            Forbidden(_) => ProblemCode::Forbidden,
            NotFound(_) => ProblemCode::NotFound,
            Conflict(_) => ProblemCode::Conflict,
            Immutable(_) => ProblemCode::MetadataImmutable,
            MethodNotAllowed => ProblemCode::MethodNotAllowed,
            InvalidManifest(_) => ProblemCode::InvalidManifest,
            ManifestUnavailable(_) => ProblemCode::ProviderUnreachable,
            PayloadTooLarge(_) => ProblemCode::PayloadTooLarge,
            UnsupportedMediaType(_) => ProblemCode::UnsupportedMediaType,
            InvalidTransition(_) => ProblemCode::InvalidTransition,
            ProviderNotApproved(_) => ProblemCode::ProviderNotApproved,
            TestRegistrationRestricted(_) => ProblemCode::TestRegistrationRestricted,
            NoSuchConnection => ProblemCode::NoSuchConnection,
            InsufficientFunds { .. } => ProblemCode::InsufficientFunds,
            AccountInactive(AccountState::Suspended { .. }) => ProblemCode::AccountSuspended,
            AccountInactive(AccountState::Expired { .. }) => ProblemCode::AccountExpired,
            AccountInactive(AccountState::Disabled) => ProblemCode::AccountDisabled,
            AccountInactive(AccountState::PendingApproval) => ProblemCode::AccountPendingApproval,
            // Never refused for being active: a caller bug, answered as one.
            AccountInactive(AccountState::Active) => ProblemCode::InternalError,
            TooManyAttempts(_) => ProblemCode::TooManyAttempts,
            CrossOriginRequest => ProblemCode::CrossOriginRequest,
            NotReady(_) => ProblemCode::NotReady,
            InvalidPath(_) => ProblemCode::InvalidPath,
            ProviderInactive(_) => ProblemCode::ProviderInactive,
            ManifestPending { .. } => ProblemCode::ManifestUnavailable,
            FeatureNotSupported { .. } => ProblemCode::FeatureNotSupported,
            ConnectionRequired { .. } => ProblemCode::ConnectionRequired,
            NotAProjectMember(_) => ProblemCode::NotAProjectMember,
            AgreementRequired { .. } => ProblemCode::AgreementRequired,
            AssuranceRequired { .. } => ProblemCode::AssuranceRequired,
            AccountInvalid { .. } => ProblemCode::AccountInvalid,
            ProviderUnreachable { .. } => ProblemCode::ProviderUnreachable,
            ProviderTimeout { .. } => ProblemCode::ProviderTimeout,
            SessionRequired(_) => ProblemCode::SessionRequired,
            InvalidAttempt(_) => ProblemCode::InvalidAttempt,
            RemapRequiresDisconnect(_) => ProblemCode::RemapRequiresDisconnect,
            LastWayIn(_) => ProblemCode::LastWayIn,
            MergeRefused(_) => ProblemCode::MergeRefused,
            Internal(_) => ProblemCode::InternalError,
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, code, title) = self.code().parts();
        let detail = match self {
            Self::Internal(_) | Self::AccountInactive(AccountState::Active) => {
                "the gateway failed to handle this request; the cause is in its log".to_owned()
            }
            other => other.to_string(),
        };
        let problem = Problem::new(status, code, title, detail);
        match self {
            Self::InsufficientFunds {
                balance, duplicate, ..
            } => problem
                .with("balance", *balance)
                .with("duplicate", *duplicate),
            Self::AccountInactive(AccountState::Suspended { until: Some(end) }) => {
                problem.with("until", rfc3339(*end))
            }
            Self::TooManyAttempts(locked) => problem.with("retryAfter", locked.retry_after_secs),
            Self::ManifestPending { provider, .. }
            | Self::ProviderUnreachable { provider, .. }
            | Self::ProviderTimeout { provider, .. } => problem.with("provider", provider.clone()),
            Self::FeatureNotSupported {
                provider, feature, ..
            } => problem
                .with("provider", provider.clone())
                .with("feature", feature.clone()),
            Self::ConnectionRequired {
                provider,
                connect_url,
                ..
            } => problem
                .with("provider", provider.clone())
                .with("connectUrl", connect_url.clone()),
            Self::AgreementRequired {
                agreements_url,
                pending,
                ..
            } => problem
                .with("agreementsUrl", agreements_url.clone())
                .with("agreements", pending.clone()),
            Self::AssuranceRequired {
                provider,
                missing,
                sign_in_url,
                ..
            } => problem
                .with("provider", provider.clone())
                .with("missing", missing.clone())
                .with("signInUrl", sign_in_url.clone()),
            Self::AccountInvalid {
                missing,
                complete_url,
                ..
            } => problem
                .with("missing", missing.clone())
                .with("completeUrl", complete_url.clone()),
            _ => problem,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let problem = self.problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (
            status,
            [(header::CONTENT_TYPE, Problem::CONTENT_TYPE)],
            body,
        )
            .into_response();
        if let Self::TooManyAttempts(locked) = &self
            && let Ok(v) = header::HeaderValue::try_from(locked.retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// The detail of a body over an endpoint's limit.
pub fn too_large() -> String {
    "the body is larger than this endpoint accepts".into()
}

/// axum's own rejections (path, query, form, body), in one place: the status class they carry,
/// their text as the detail, never `text/plain`.
fn rejection(status: StatusCode, text: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(too_large()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::UnsupportedMediaType("this endpoint does not accept that Content-Type")
        }
        s if s.is_client_error() => ApiError::BadRequest(text),
        _ => ApiError::Internal(text),
    }
}

macro_rules! from_rejection {
    ($($rejection:ty),*) => {$(
        impl From<$rejection> for ApiError {
            fn from(e: $rejection) -> Self {
                rejection(e.status(), e.body_text())
            }
        }
    )*};
}

from_rejection!(
    axum::extract::rejection::PathRejection,
    axum::extract::rejection::QueryRejection,
    axum::extract::rejection::FormRejection,
    axum::extract::rejection::JsonRejection,
    axum::extract::rejection::BytesRejection
);

/// A store failure; text PostgreSQL refuses to hold (NUL) is the client's, not a 500.
fn store(e: impl std::fmt::Display, cause: &crate::store::StoreError) -> ApiError {
    if cause.is_refused_text() {
        ApiError::BadRequest("text must not contain NUL characters".into())
    } else {
        ApiError::Internal(e.to_string())
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(m) => Self::BadRequest(m),
            AccountError::UsernameTaken(_) => Self::Conflict(e.to_string()),
            AccountError::BadCredentials => Self::Unauthorized("wrong username or password"),
            AccountError::TooManyAttempts(locked) => Self::TooManyAttempts(locked),
            AccountError::NoSuchUser(_) | AccountError::NoSuchToken => {
                Self::NotFound(e.to_string())
            }
            AccountError::Inactive(state) => Self::AccountInactive(state),
            AccountError::InvalidTransition(m) => Self::InvalidTransition(m),
            AccountError::Store(ref cause) => store(&e, cause),
            AccountError::Hashing => Self::Internal(e.to_string()),
            AccountError::NoSuchIdentity => Self::NotFound(e.to_string()),
            AccountError::IdentityLinkedElsewhere => Self::Conflict(e.to_string()),
            AccountError::LastWayIn => Self::LastWayIn(e.to_string()),
            AccountError::MergeRefused(_) => Self::MergeRefused(e.to_string()),
        }
    }
}

impl From<AccountingError> for ApiError {
    fn from(e: AccountingError) -> Self {
        match e {
            AccountingError::Invalid(m) => Self::BadRequest(m),
            AccountingError::NoSuchUser(_)
            | AccountingError::NoSuchProject(_)
            | AccountingError::NoSuchProvider(_) => Self::NotFound(e.to_string()),
            AccountingError::InsufficientFunds {
                units,
                balance,
                duplicate,
            } => Self::InsufficientFunds {
                units,
                balance,
                duplicate,
            },
            AccountingError::ChargeIdReused(_) | AccountingError::BalanceLimit => {
                Self::Conflict(e.to_string())
            }
            AccountingError::Store(ref cause) => store(&e, cause),
        }
    }
}

impl From<ProjectError> for ApiError {
    fn from(e: ProjectError) -> Self {
        match e {
            ProjectError::Invalid(m) => Self::BadRequest(m),
            ProjectError::NotFound(_)
            | ProjectError::NoSuchUser(_)
            | ProjectError::NotAMember(_) => Self::NotFound(e.to_string()),
            ProjectError::Forbidden(m) => Self::Forbidden(m),
            ProjectError::Store(ref cause) => store(&e, cause),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Duplicate(_) => Self::Conflict(e.to_string()),
            RegistryError::NotFound(_) => Self::NotFound(e.to_string()),
            RegistryError::InvalidTransition { .. } => Self::InvalidTransition(e.to_string()),
            RegistryError::TestRegistrationRestricted => {
                Self::TestRegistrationRestricted(e.to_string())
            }
            RegistryError::Store(ref cause) => store(&e, cause),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::InvalidGrant => Self::Unauthorized(
                "the refresh token is invalid, revoked, or its provider is suspended",
            ),
            TokenError::InvalidAccessToken(why) => Self::Unauthorized(why),
            TokenError::Store(ref cause) => store(&e, cause),
            TokenError::Sign(_) => Self::Internal(e.to_string()),
        }
    }
}

impl From<crate::keys::RevokeError> for ApiError {
    fn from(e: crate::keys::RevokeError) -> Self {
        match e {
            crate::keys::RevokeError::NoSuchKey(_) => Self::NotFound(e.to_string()),
            crate::keys::RevokeError::Ring(_) => Self::Internal(e.to_string()),
        }
    }
}

impl From<BrokerError> for ApiError {
    fn from(e: BrokerError) -> Self {
        use BrokerError::*;
        let detail = e.to_string();
        match e {
            InvalidPath(_) => Self::InvalidPath(detail),
            Refused { refusal, issuer } => Self::refused(&refusal, &issuer),
            NotFound(_) => Self::NotFound(detail),
            FeatureNotSupported { provider, feature } => Self::FeatureNotSupported {
                detail,
                provider,
                feature: feature.to_owned(),
            },
            Proxy(ProxyError::Unreachable { provider, cause }) => {
                tracing::warn!(%provider, %cause, "provider unreachable");
                Self::ProviderUnreachable { detail, provider }
            }
            Proxy(ProxyError::Timeout { provider, .. }) => {
                Self::ProviderTimeout { detail, provider }
            }
            Proxy(ProxyError::BodyTooLarge { .. }) => Self::PayloadTooLarge(detail),
            Proxy(ProxyError::BadUri(cause)) | Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<ConnectionError> for ApiError {
    fn from(e: ConnectionError) -> Self {
        use ConnectionError::*;
        let detail = e.to_string();
        match e {
            NoSuchProvider(_) | NotConnected(_) => Self::NotFound(detail),
            ProviderInactive(_) => Self::ProviderInactive(detail),
            AlreadyConnected(_) => Self::Conflict(detail),
            SessionRequired => Self::SessionRequired(detail),
            InvalidReport(m) => Self::BadRequest(m),
            NoSuchConnection => Self::NoSuchConnection,
            Completion(_) => Self::InvalidAttempt(detail),
            Remap { .. } => Self::RemapRequiresDisconnect(detail),
            Store(_) | Token(_) => Self::Internal(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_a_problem_with_a_stable_code() {
        let cases = [
            (ApiError::BadRequest("id: bad".into()), 400, "invalidInput"),
            (ApiError::Unauthorized("no"), 401, "unauthenticated"),
            (ApiError::Forbidden("no"), 403, "forbidden"),
            (ApiError::NotFound("x".into()), 404, "notFound"),
            (ApiError::Conflict("x".into()), 409, "conflict"),
            (ApiError::Immutable("x"), 405, "metadataImmutable"),
            (ApiError::MethodNotAllowed, 405, "methodNotAllowed"),
            (
                ApiError::InvalidTransition("x".into()),
                409,
                "invalidTransition",
            ),
            (
                ApiError::PayloadTooLarge(too_large()),
                413,
                "payloadTooLarge",
            ),
            (ApiError::NoSuchConnection, 404, "noSuchConnection"),
            (
                ApiError::UnsupportedMediaType("x"),
                415,
                "unsupportedMediaType",
            ),
            (
                ApiError::InsufficientFunds {
                    units: 5,
                    balance: 3,
                    duplicate: false,
                },
                402,
                "insufficientFunds",
            ),
            (
                ApiError::AccountInactive(AccountState::Suspended { until: None }),
                403,
                "accountSuspended",
            ),
            (
                ApiError::AccountInactive(AccountState::Expired { since: 0 }),
                403,
                "accountExpired",
            ),
            (
                ApiError::AccountInactive(AccountState::Disabled),
                403,
                "accountDisabled",
            ),
            (
                ApiError::InvalidManifest("x".into()),
                422,
                "invalidManifest",
            ),
            (
                ApiError::ManifestUnavailable("x".into()),
                502,
                "providerUnreachable",
            ),
            (
                ApiError::TooManyAttempts(Locked {
                    retry_after_secs: 60,
                }),
                429,
                "tooManyAttempts",
            ),
            (ApiError::CrossOriginRequest, 403, "crossOriginRequest"),
            (ApiError::NotReady("x"), 503, "notReady"),
            (
                ApiError::ProviderNotApproved("x".into()),
                409,
                "providerNotApproved",
            ),
            (
                ApiError::TestRegistrationRestricted("x".into()),
                403,
                "testRegistrationRestricted",
            ),
            (ApiError::Internal("x".into()), 500, "internalError"),
        ];
        for (error, status, code) in cases {
            let p = error.problem();
            assert_eq!((p.status, p.code.as_str()), (status, code));
            assert!(p.type_.ends_with(code));
        }
    }

    #[test]
    fn a_refused_charge_carries_the_balance_and_a_suspension_its_end() {
        let p = ApiError::InsufficientFunds {
            units: 5,
            balance: 3,
            duplicate: true,
        }
        .problem();
        assert_eq!(
            (p.extra["balance"].clone(), p.extra["duplicate"].clone()),
            (3.into(), true.into())
        );
        let p = ApiError::AccountInactive(AccountState::Suspended { until: Some(0) }).problem();
        assert_eq!(p.extra["until"], "1970-01-01T00:00:00Z");
    }

    #[test]
    fn a_failed_forward_is_counted_with_the_status_it_is_answered_with() {
        let failures = [
            ProxyError::Unreachable {
                provider: "p".into(),
                cause: "refused".into(),
            },
            ProxyError::Timeout {
                provider: "p".into(),
                ms: 5,
            },
            ProxyError::BodyTooLarge { limit: 1 },
            ProxyError::BadUri("x".into()),
        ];
        for failure in failures {
            let counted = failure.code();
            let answered = ApiError::from(BrokerError::Proxy(failure)).problem();
            assert_eq!(answered.status, counted.parts().0);
            assert_eq!(answered.code, counted.code());
        }
    }

    #[test]
    fn broker_and_connection_refusals_carry_their_codes_and_members() {
        use crate::policy::Refusal;
        let refused = |refusal| {
            ApiError::from(BrokerError::Refused {
                refusal,
                issuer: "https://gw".into(),
            })
            .problem()
        };
        let p = refused(Refusal::ConnectionRequired {
            provider: "hpc".into(),
        });
        assert_eq!((p.status, p.code.as_str()), (403, "connectionRequired"));
        assert_eq!(
            p.extra["connectUrl"],
            "https://gw/connections/new?provider=hpc"
        );
        let p = refused(Refusal::TwoFactorRequired {
            provider: "hpc".into(),
        });
        assert_eq!((p.status, p.code.as_str()), (403, "assuranceRequired"));
        assert_eq!(
            p.extra["missing"],
            serde_json::json!(["twoFactorAuthentication"])
        );
        let p = refused(Refusal::AccountInvalid {
            missing: vec!["email"],
        });
        assert_eq!((p.status, p.code.as_str()), (403, "accountInvalid"));
        assert_eq!(p.extra["completeUrl"], "https://gw/account");
        let p = refused(Refusal::AgreementRequired(vec![crate::policy::Pending {
            subject: crate::policy::Subject::Provider("hpc".into()),
            version: "1".into(),
            title: "Terms".into(),
            url: Some("https://hpc.example/terms".into()),
        }]));
        assert_eq!((p.status, p.code.as_str()), (403, "agreementRequired"));
        assert_eq!(
            p.extra["agreementsUrl"],
            "https://gw/agreements?provider=hpc"
        );
        assert_eq!(p.extra["agreements"][0]["provider"], "hpc");
        let p = ApiError::from(ConnectionError::SessionRequired).problem();
        assert_eq!((p.status, p.code.as_str()), (400, "sessionRequired"));
    }

    #[test]
    fn internal_causes_never_reach_the_body() {
        let p = ApiError::Internal("password=hunter2 at db.rs:42".into()).problem();
        assert!(!p.detail.contains("hunter2"));
    }

    #[tokio::test]
    async fn responses_carry_the_problem_content_type() {
        let r = ApiError::Unauthorized("no").into_response();
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
