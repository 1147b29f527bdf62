//! JWT claims of SPEC §2: access tokens (provider → gateway) and service tokens (gateway → provider).
//! The `typ` header values keep the kinds apart: none is accepted where another is expected.

use serde::{Deserialize, Serialize};

/// Header `typ` of an access token a provider presents to the gateway.
pub const TYP_ACCESS: &str = "at+jwt";
/// Header `typ` of a token the gateway presents to a provider.
pub const TYP_SERVICE: &str = "ucloud-service+jwt";
/// Header `typ` of the token carried by the usermap redirect (SPEC §4).
pub const TYP_USERMAP: &str = "ucloud-usermap+jwt";

pub const ROLE_PROVIDER: &str = "PROVIDER";
pub const ROLE_SERVICE: &str = "SERVICE";
/// `sub` of every service token.
pub const SERVICE_SUBJECT: &str = "_UCloud";

/// Longest lifetime `exp − iat` of an access token (SPEC §2): verifiers refuse longer ones.
pub const MAX_ACCESS_LIFETIME_SECS: i64 = 600;
/// Longest lifetime `exp − iat` of a service or usermap token (SPEC §2).
pub const MAX_SERVICE_LIFETIME_SECS: i64 = 300;
/// Most clock leeway a verifier may add to those maxima and to `exp`, `nbf` and `iat` (SPEC §2).
pub const MAX_LEEWAY_SECS: i64 = 60;

/// `sub` of a provider's access token: `#P_<id>`.
pub fn provider_subject(provider_id: &str) -> String {
    format!("#P_{provider_id}")
}

/// Claims of an access token (SPEC §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub role: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// Who a user is, as the gateway tells providers (SPEC §2.2) and as `GET /api/me` shows it.
/// `uid` identifies the user at the gateway; it is never a safe Linux uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    pub username: String,
    pub role: String,
    pub first_name: String,
    pub last_name: String,
    pub uid: i64,
    pub email: String,
    pub two_factor_authentication: bool,
    pub organization: Option<String>,
    /// Assurance URIs the user's identity provider vouched for (SPEC §8); empty when unknown.
    #[serde(default)]
    pub assurance: Vec<String>,
    /// The gateway's id of the identity provider of the last sign-in; `None` for local accounts.
    #[serde(default)]
    pub identity_provider: Option<String>,
    /// A site username the identity provider released (`username_claim`), if any.
    #[serde(default)]
    pub site_username: Option<String>,
}

/// Claims of a service token (SPEC §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub role: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    #[serde(default)]
    pub project: Option<String>,
}

/// Claims of the usermap token (SPEC §4 step 2): a service token plus the attempt's nonce and the
/// gateway-chosen return URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsermapClaims {
    #[serde(flatten)]
    pub service: ServiceClaims,
    pub nonce: String,
    pub return_url: String,
}

#[cfg(test)]
mod principal_tests {
    use super::Principal;

    #[test]
    fn a_principal_without_the_federated_fields_still_parses() {
        let old = r#"{"username":"a#1","role":"USER","firstName":"A","lastName":"B","uid":1,
            "email":"a@b","twoFactorAuthentication":false,"organization":null}"#;
        let p: Principal = serde_json::from_str(old).expect("an older gateway's principal");
        assert!(p.assurance.is_empty());
        assert_eq!((p.identity_provider, p.site_username), (None, None));
        let new = r#"{"username":"a#1","role":"USER","firstName":"A","lastName":"B","uid":1,
            "email":"a@b","twoFactorAuthentication":true,"organization":"sdu.dk",
            "assurance":["https://refeds.org/assurance/IAP/medium"],"identityProvider":"wayf","siteUsername":"ab"}"#;
        let p: Principal = serde_json::from_str(new).expect("a §8 principal");
        assert_eq!(p.identity_provider.as_deref(), Some("wayf"));
        assert_eq!(p.site_username.as_deref(), Some("ab"));
    }
}
