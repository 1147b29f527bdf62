//! Plain records of federated sign-in (SPEC §8): an identity at an OpenID Provider, and a sign-in
//! under way between the redirect to the IdP and its callback.

/// `(issuer, subject)` at an IdP, linked to one gateway account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: String,
    pub user_id: i64,
    pub idp_id: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub linked_at: i64,
}

/// A redirect to an IdP waiting for its callback. Only hashes of `state` and of the browser's
/// cookie secret are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcAttempt {
    pub state_hash: String,
    pub browser_hash: String,
    pub idp_id: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next_path: String,
    pub expires_at: i64,
    /// A link attempt (SPEC §8): the user whose account the identity joins. Then `browser_hash`
    /// is the hash of the session that started it, and only that session can finish it.
    pub link_user: Option<i64>,
}

/// Whom an IdP vouched for at one sign-in, its claims already mapped and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The configured IdP's id (the principal's `identityProvider`).
    pub idp_id: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub organization: Option<String>,
    pub assurance: Vec<String>,
    pub two_factor: bool,
    pub site_username: Option<String>,
}
