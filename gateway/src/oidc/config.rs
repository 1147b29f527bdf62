//! The operator's identity providers (`identity_providers:`) and how accounts of new identities
//! start (`accounts:`), SPEC §8. Parsed and checked at start: an `http://` issuer only on loopback.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

fn default_scopes() -> String {
    "openid profile email".into()
}
fn default_organization_claim() -> String {
    "schac_home_organization".into()
}
fn default_assurance_claim() -> String {
    "eduperson_assurance".into()
}

/// One OpenID Provider the gateway signs users in with.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IdentityProviderConfig {
    /// Short id, in URLs (`/auth/oidc/{id}/start`) and as the principal's `identityProvider`.
    pub id: String,
    /// What the sign-in page calls it: "Sign in with {display_name}".
    pub display_name: String,
    /// Its endpoints and keys come from `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// A file holding the client secret (first line). Never in the YAML itself.
    pub client_secret_file: Option<PathBuf>,
    #[serde(default = "default_scopes")]
    pub scopes: String,
    /// The claim naming the user's organization.
    #[serde(default = "default_organization_claim")]
    pub organization_claim: String,
    /// The claim listing assurance URIs (a string or an array of strings).
    #[serde(default = "default_assurance_claim")]
    pub assurance_claim: String,
    /// A claim holding a site username the IdP releases (the principal's `siteUsername`).
    #[serde(default)]
    pub username_claim: Option<String>,
    #[serde(default)]
    pub token_auth: TokenAuth,
}

/// How the gateway authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuth {
    #[default]
    ClientSecretBasic,
    ClientSecretPost,
}

impl TokenAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }
}

/// What happens to the account of an identity seen for the first time.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsConfig {
    /// `true`: new accounts are active at once; `false`: `pendingApproval` until an admin approves.
    pub auto_activate: bool,
}

/// Checks every configured IdP; the message names the one at fault.
pub fn validate(idps: &[IdentityProviderConfig]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for idp in idps {
        let id = &idp.id;
        let ok_id = !id.is_empty()
            && id.len() <= 32
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok_id {
            return Err(format!(
                "identity_providers: id {id:?} must be 1-32 characters of a-z, 0-9, - and _"
            ));
        }
        if !seen.insert(id.clone()) {
            return Err(format!("identity_providers: id {id:?} is listed twice"));
        }
        let at = |what: &str| format!("identity_providers[{id}]: {what}");
        if idp.display_name.trim().is_empty() || idp.display_name.chars().count() > 100 {
            return Err(at("display_name must have 1-100 characters"));
        }
        if idp.client_id.trim().is_empty() {
            return Err(at("client_id must not be empty"));
        }
        if !idp.scopes.split_whitespace().any(|s| s == "openid") {
            return Err(at("scopes must include openid"));
        }
        check_issuer(&idp.issuer).map_err(|e| at(&e))?;
    }
    Ok(())
}

/// An issuer is an https URL, or http on a loopback address (an IdP on the gateway's own machine).
pub fn check_issuer(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|e| format!("issuer {issuer:?}: {e}"))?;
    if url.query().is_some() || url.fragment().is_some() || url.username() != "" {
        return Err(format!(
            "issuer {issuer:?} must have no query, fragment or user"
        ));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if crate::outbound::is_loopback(&url) => Ok(()),
        "http" => Err(format!(
            "issuer {issuer:?}: http is accepted only on a loopback address; use https"
        )),
        _ => Err(format!("issuer {issuer:?} must be an https URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idp(id: &str, issuer: &str) -> IdentityProviderConfig {
        serde_yaml::from_str(&format!(
            "{{id: {id}, display_name: X, issuer: \"{issuer}\", client_id: gw}}"
        ))
        .unwrap()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let i = idp("wayf", "https://wayf.example");
        assert_eq!(i.scopes, "openid profile email");
        assert_eq!(i.organization_claim, "schac_home_organization");
        assert_eq!(i.assurance_claim, "eduperson_assurance");
        assert_eq!(i.token_auth, TokenAuth::ClientSecretBasic);
    }

    #[test]
    fn plain_http_issuers_are_refused_unless_on_loopback() {
        assert!(validate(&[idp("a", "https://idp.example/realms/x")]).is_ok());
        assert!(validate(&[idp("a", "http://127.0.0.1:4000")]).is_ok());
        assert!(validate(&[idp("a", "http://localhost:4000")]).is_ok());
        assert!(validate(&[idp("a", "http://[::1]:4000")]).is_ok());
        for bad in [
            "http://idp.example",
            "http://10.0.0.1",
            "ftp://idp.example",
            "https://idp.example/?x=1",
            "not a url",
        ] {
            let err = validate(&[idp("a", bad)]).unwrap_err();
            assert!(err.contains("identity_providers[a]"), "{bad}: {err}");
        }
    }

    #[test]
    fn ids_are_url_safe_and_unique() {
        assert!(validate(&[idp("Bad/Id", "https://a.example")]).is_err());
        let twice = [idp("a", "https://a.example"), idp("a", "https://b.example")];
        assert!(validate(&twice).unwrap_err().contains("twice"));
    }
}
