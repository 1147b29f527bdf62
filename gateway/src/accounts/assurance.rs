//! What a local account carries for the access gate (SPEC §9): `gateway users set-assurance`. A
//! federated sign-in replaces both values with what its identity provider vouches for. And how an
//! `invalid` local account completes itself: it fills in its missing email on `/account`.

use super::{AccountError, Accounts};
use crate::audit::{Actor, event};
use crate::model::User;

/// Most assurance URIs an account carries, and their longest.
pub const MAX_URIS: usize = 16;
pub const MAX_URI_CHARS: usize = 256;

impl Accounts {
    /// Replaces the account's assurance URIs and, when given, its two-factor flag. Audited as
    /// `user.assuranceSet`.
    pub async fn set_assurance(
        &self,
        actor: &Actor,
        username: &str,
        uris: &[String],
        two_factor: Option<bool>,
    ) -> Result<User, AccountError> {
        if uris.len() > MAX_URIS {
            return Err(AccountError::Invalid(format!(
                "at most {MAX_URIS} assurance URIs"
            )));
        }
        for uri in uris {
            let scheme_ok = uri.split_once(':').is_some_and(|(s, rest)| {
                !rest.is_empty()
                    && s.starts_with(|c: char| c.is_ascii_alphabetic())
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            });
            if !scheme_ok
                || uri.chars().count() > MAX_URI_CHARS
                || uri.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                return Err(AccountError::Invalid(format!(
                    "{uri:?} is not an assurance URI (such as https://refeds.org/assurance/IAP/medium)"
                )));
            }
        }
        let user = self.user(username).await?;
        self.store.set_assurance(user.id, uris, two_factor).await?;
        self.forget_user_credentials(user.id);
        let detail = serde_json::json!({ "assurance": uris, "twoFactor": two_factor });
        let audit = event(
            self.clock.now_ms(),
            actor,
            crate::audit::AuditAction::UserAssuranceSet,
            &user.username,
            detail,
        );
        crate::audit::record(&self.store, &audit).await;
        self.user(username).await
    }
}

impl Accounts {
    /// An `invalid` local account (no email) completes itself. A federated account cannot: its
    /// identity provider must release the email at the next sign-in. Audited as
    /// `user.emailCompleted`.
    pub async fn complete_email(&self, user: &User, email: &str) -> Result<(), AccountError> {
        let email = email.trim();
        if user.federated.identity_provider.is_some() {
            return Err(AccountError::Invalid(
                "your identity provider supplies your email: sign in again with one that releases it".into(),
            ));
        }
        if email.len() > 254
            || email.split('@').filter(|p| !p.is_empty()).count() != 2
            || email.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(AccountError::Invalid(format!(
                "email: {email:?} is not an address"
            )));
        }
        if !self.store.complete_email(user.id, email).await? {
            return Err(AccountError::Invalid(
                "your account already has an email; an operator changes it".into(),
            ));
        }
        self.forget_user_credentials(user.id);
        let audit = event(
            self.clock.now_ms(),
            &Actor::user(user),
            crate::audit::AuditAction::UserEmailCompleted,
            &user.username,
            serde_json::json!({}),
        );
        crate::audit::record(&self.store, &audit).await;
        Ok(())
    }
}
