//! From an IdP's claims (ID token, then userinfo) to the identity and principal fields of SPEC §8,
//! with the claim names the operator configured. Every value is bounded; what does not fit is
//! dropped, never stored.

use super::config::IdentityProviderConfig;
use crate::model::VerifiedIdentity;
use serde_json::{Map, Value};

const MFA_AMR: [&str; 3] = ["mfa", "otp", "hwk"];
const REFEDS_MFA: &str = "https://refeds.org/profile/mfa";
const MAX_ASSURANCE: usize = 32;

/// A string claim of at most `max` characters, without control characters.
fn text(claims: &Map<String, Value>, name: &str, max: usize) -> Option<String> {
    let v = claims.get(name)?.as_str()?.trim();
    (!v.is_empty() && v.chars().count() <= max && !v.chars().any(char::is_control))
        .then(|| v.to_owned())
}

/// `amr` holds mfa, otp or hwk, or `acr` is the REFEDS MFA profile.
pub fn two_factor(id_token: &Map<String, Value>) -> bool {
    let amr = id_token
        .get("amr")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter()
                .any(|m| m.as_str().is_some_and(|m| MFA_AMR.contains(&m)))
        });
    amr || id_token.get("acr").and_then(Value::as_str) == Some(REFEDS_MFA)
}

/// The identity the IdP vouched for. `two_factor` comes from the ID token only; the other claims
/// from userinfo where it has them, else from the ID token.
pub fn identity(
    idp: &IdentityProviderConfig,
    id_token: &Map<String, Value>,
    userinfo: &Map<String, Value>,
) -> VerifiedIdentity {
    let mut merged = id_token.clone();
    for (k, v) in userinfo {
        merged.insert(k.clone(), v.clone());
    }
    let assurance = match merged.get(&idp.assurance_claim) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|a| !a.is_empty() && a.len() <= 256 && !a.chars().any(char::is_control))
    .take(MAX_ASSURANCE)
    .collect();
    let email_verified = match merged.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        // Some IdPs send it as a string.
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    let mut given = text(&merged, "given_name", 100);
    let mut family = text(&merged, "family_name", 100);
    if given.is_none()
        && family.is_none()
        && let Some(name) = text(&merged, "name", 200)
    {
        let mut parts = name.rsplitn(2, ' ');
        family = parts.next().map(str::to_owned);
        given = parts.next().map(str::to_owned);
    }
    VerifiedIdentity {
        idp_id: idp.id.clone(),
        issuer: idp.issuer.clone(),
        subject: text(id_token, "sub", 255).unwrap_or_default(),
        email: text(&merged, "email", 254)
            .filter(|e| e.split('@').filter(|p| !p.is_empty()).count() == 2),
        email_verified,
        given_name: given,
        family_name: family,
        organization: text(&merged, &idp.organization_claim, 200),
        assurance,
        two_factor: two_factor(id_token),
        site_username: idp
            .username_claim
            .as_deref()
            .and_then(|c| text(&merged, c, 64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn idp() -> IdentityProviderConfig {
        serde_yaml::from_str(
            "{id: wayf, display_name: WAYF, issuer: 'https://wayf.example', client_id: gw, username_claim: uid}",
        )
        .unwrap()
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn claims_map_to_the_principal_fields_with_the_configured_names() {
        let id = map(
            json!({"sub":"s1","amr":["pwd","mfa"],"given_name":"Dan Sebastian","family_name":"Thrane"}),
        );
        let info = map(
            json!({"sub":"s1","email":"dan@sdu.dk","email_verified":true,
            "schac_home_organization":"sdu.dk","eduperson_assurance":["https://refeds.org/assurance/IAP/medium"],
            "uid":"dthrane"}),
        );
        let v = identity(&idp(), &id, &info);
        assert_eq!(v.subject, "s1");
        assert_eq!(v.organization.as_deref(), Some("sdu.dk"));
        assert_eq!(v.assurance, ["https://refeds.org/assurance/IAP/medium"]);
        assert!(v.two_factor && v.email_verified);
        assert_eq!(v.site_username.as_deref(), Some("dthrane"));
        assert_eq!(v.given_name.as_deref(), Some("Dan Sebastian"));
    }

    #[test]
    fn two_factor_needs_mfa_in_the_id_token_and_nothing_else_counts() {
        assert!(two_factor(&map(
            json!({"acr":"https://refeds.org/profile/mfa"})
        )));
        assert!(two_factor(&map(json!({"amr":["hwk"]}))));
        assert!(!two_factor(&map(json!({"amr":["pwd"]}))));
        assert!(!two_factor(&map(json!({"amr":"mfa"}))));
        // userinfo cannot claim a second factor the ID token did not.
        let v = identity(
            &idp(),
            &map(json!({"sub":"s"})),
            &map(json!({"amr":["mfa"]})),
        );
        assert!(!v.two_factor);
    }

    #[test]
    fn oversized_or_odd_values_are_dropped() {
        let info = map(
            json!({"email":"x".repeat(300),"schac_home_organization":"a\u{0}b",
            "eduperson_assurance": (0..100).map(|i| format!("u{i}")).collect::<Vec<_>>()}),
        );
        let v = identity(&idp(), &map(json!({"sub":"s"})), &info);
        assert_eq!(v.email, None);
        assert_eq!(v.organization, None);
        assert_eq!(v.assurance.len(), MAX_ASSURANCE);
        assert!(!v.email_verified);
    }
}
