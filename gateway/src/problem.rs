//! Every problem code the gateway answers (SPEC §6), one variant each with its HTTP status and
//! title. `http::errors::ApiError` says which code a failure is; the broker's metrics take the
//! status of a failed forward from here too, so a counted status is the answered one.

use axum::http::StatusCode;

macro_rules! problem_codes {
    ($($variant:ident = $status:literal, $code:literal, $title:literal;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum ProblemCode {
            $($variant,)*
        }

        impl ProblemCode {
            /// Every code, for tests and documents.
            pub const ALL: &[ProblemCode] = &[$(ProblemCode::$variant,)*];

            /// `(status, code, title)`.
            pub const fn parts(self) -> (u16, &'static str, &'static str) {
                match self {
                    $(ProblemCode::$variant => ($status, $code, $title),)*
                }
            }
        }
    };
}

problem_codes! {
    InvalidInput = 400, "invalidInput", "Invalid input";
    InvalidPath = 400, "invalidPath", "Invalid path";
    FeatureNotSupported = 400, "featureNotSupported", "Feature not supported";
    SessionRequired = 400, "sessionRequired", "Session required";
    InvalidAttempt = 400, "invalidAttempt", "Connection not completed";
    Unauthenticated = 401, "unauthenticated", "Authentication required";
    InsufficientFunds = 402, "insufficientFunds", "Insufficient funds";
    Forbidden = 403, "forbidden", "Forbidden";
    TestRegistrationRestricted = 403, "testRegistrationRestricted", "Test provider registration restricted";
    AccountSuspended = 403, "accountSuspended", "Account not active";
    AccountExpired = 403, "accountExpired", "Account not active";
    AccountDisabled = 403, "accountDisabled", "Account not active";
    AccountPendingApproval = 403, "accountPendingApproval", "Account awaiting approval";
    CrossOriginRequest = 403, "crossOriginRequest", "Cross-origin request refused";
    ProviderInactive = 403, "providerInactive", "Provider not active";
    ConnectionRequired = 403, "connectionRequired", "Connection required";
    NotAProjectMember = 403, "notAProjectMember", "Not a project member";
    AgreementRequired = 403, "agreementRequired", "Agreement required";
    AssuranceRequired = 403, "assuranceRequired", "Assurance required";
    AccountInvalid = 403, "accountInvalid", "Account incomplete";
    NotFound = 404, "notFound", "Not found";
    NoSuchConnection = 404, "noSuchConnection", "No such connection";
    MetadataImmutable = 405, "metadataImmutable", "Metadata is immutable";
    MethodNotAllowed = 405, "methodNotAllowed", "Method not allowed";
    Conflict = 409, "conflict", "Conflict";
    InvalidTransition = 409, "invalidTransition", "Invalid state change";
    ProviderNotApproved = 409, "providerNotApproved", "Provider not approved";
    RemapRequiresDisconnect = 409, "remapRequiresDisconnect", "Already mapped";
    LastWayIn = 409, "lastWayIn", "Last way to sign in";
    MergeRefused = 409, "mergeRefused", "Merge refused";
    PayloadTooLarge = 413, "payloadTooLarge", "Payload too large";
    UnsupportedMediaType = 415, "unsupportedMediaType", "Unsupported media type";
    InvalidManifest = 422, "invalidManifest", "Invalid manifest";
    TooManyAttempts = 429, "tooManyAttempts", "Too many attempts";
    InternalError = 500, "internalError", "Internal error";
    ProviderUnreachable = 502, "providerUnreachable", "Provider unreachable";
    NotReady = 503, "notReady", "Not ready";
    ManifestUnavailable = 503, "manifestUnavailable", "Manifest unavailable";
    ProviderTimeout = 504, "providerTimeout", "Provider timeout";
}

impl ProblemCode {
    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(self.parts().0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub const fn code(self) -> &'static str {
        self.parts().1
    }

    pub const fn title(self) -> &'static str {
        self.parts().2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_named_once_and_its_status_is_an_error() {
        let mut codes: Vec<_> = ProblemCode::ALL.iter().map(|c| c.code()).collect();
        codes.sort_unstable();
        let before = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), before, "a code is declared twice");
        for code in ProblemCode::ALL {
            assert!(
                code.status().is_client_error() || code.status().is_server_error(),
                "{code:?}"
            );
        }
    }
}
