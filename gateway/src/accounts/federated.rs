//! Accounts of federated identities (SPEC §8): the identity `(issuer, sub)` decides the account;
//! an unknown one gets a new account named `GivenFamily#NNNN` (unique: the database's constraint
//! decides, and a taken name is drawn again), active or `pendingApproval` as the operator chose.
//! An unknown identity whose IdP vouches for its email (`email_verified`) takes the account an
//! operator invited for that email instead. Every sign-in replaces the principal's claims with what
//! the IdP said this time.

use super::{AccountError, AccountState, Accounts};
use crate::audit::{Actor, AuditAction, event};
use crate::metrics::SignInOutcome;
use crate::model::{FederatedClaims, Identity, NewUser, Role, User, VerifiedIdentity};
use crate::secrets::{Secret, random_bytes, random_id};
use crate::store::CreateFederatedError;
use serde_json::json;

/// Draws of `#NNNN` before giving up on a name (10 000 per base name).
const USERNAME_DRAWS: usize = 40;

/// What a federated sign-in led to.
#[derive(Debug)]
pub enum FederatedOutcome {
    /// A session for the cookie.
    SignedIn(User, Secret),
    /// The account exists but an admin has not approved it: nobody is signed in.
    PendingApproval(User),
}

impl Accounts {
    /// Signs in whoever the IdP vouched for, creating their account on first sight.
    pub async fn sign_in_federated(
        &self,
        id: &VerifiedIdentity,
        auto_activate: bool,
    ) -> Result<FederatedOutcome, AccountError> {
        let result = self.federated(id, auto_activate).await;
        self.sign_ins.record(match &result {
            Ok(FederatedOutcome::SignedIn(..)) => SignInOutcome::Oidc,
            Ok(FederatedOutcome::PendingApproval(_)) => SignInOutcome::PendingApproval,
            Err(AccountError::Inactive(_)) => SignInOutcome::Inactive,
            Err(AccountError::Store(_)) => SignInOutcome::Error,
            Err(_) => SignInOutcome::OidcRefused,
        });
        result
    }

    async fn federated(
        &self,
        id: &VerifiedIdentity,
        auto_activate: bool,
    ) -> Result<FederatedOutcome, AccountError> {
        if id.subject.is_empty() {
            return Err(AccountError::Invalid(
                "the identity provider sent no subject".into(),
            ));
        }
        let profile = profile(id);
        let claims = claims(id);
        let now = self.clock.now_ms();
        let user = match self.store.identity_user(&id.issuer, &id.subject).await? {
            Some((identity, user)) => {
                self.store
                    .refresh_federated_user(user.id, &profile, &claims, &identity.id, now)
                    .await?;
                self.credentials.forget_user(user.id);
                self.store.user_by_id(user.id).await?.unwrap_or(user)
            }
            None => match self.claim_invitation(id, &profile, &claims).await? {
                Some(user) => user,
                None => {
                    self.create_federated(id, profile, &claims, !auto_activate)
                        .await?
                }
            },
        };
        match self.state_of(&user).await? {
            AccountState::Active => {}
            AccountState::PendingApproval => return Ok(FederatedOutcome::PendingApproval(user)),
            other => return Err(AccountError::Inactive(other)),
        }
        let session = self.open_session(&user).await?;
        tracing::info!(user = %user.username, idp = %id.idp_id, "signed in through an identity provider");
        Ok(FederatedOutcome::SignedIn(user, session))
    }

    /// An unknown identity whose IdP vouches for its email takes the account invited for it.
    async fn claim_invitation(
        &self,
        id: &VerifiedIdentity,
        profile: &NewUser,
        claims: &FederatedClaims,
    ) -> Result<Option<User>, AccountError> {
        let (Some(email), true) = (&id.email, id.email_verified) else {
            return Ok(None);
        };
        let identity = new_identity(id);
        let now = self.clock.now_ms();
        let user_id = match self.store.claim_invitation(email, &identity, now).await {
            Ok(Some(user_id)) => user_id,
            Ok(None)
            | Err(CreateFederatedError::IdentityTaken)
            | Err(CreateFederatedError::UsernameTaken) => return Ok(None),
            Err(CreateFederatedError::Store(e)) => return Err(e.into()),
        };
        self.store
            .refresh_federated_user(user_id, profile, claims, &identity.id, now)
            .await?;
        self.credentials.forget_user(user_id);
        let user = self.store.user_by_id(user_id).await?;
        if let Some(u) = &user {
            tracing::info!(user = %u.username, idp = %id.idp_id, "identity linked to an invited account");
        }
        Ok(user)
    }

    /// `gateway users invite EMAIL`: an account the first identity with this verified email takes.
    pub async fn invite(&self, email: &str, admin: bool) -> Result<User, AccountError> {
        let email = email.trim();
        if email.len() > 254 || email.split('@').filter(|p| !p.is_empty()).count() != 2 {
            return Err(AccountError::Invalid(format!(
                "email: {email:?} is not an address"
            )));
        }
        let local = email.split('@').next().unwrap_or("");
        let base = username_base(Some(local), None);
        for _ in 0..USERNAME_DRAWS {
            let [a, b] = random_bytes::<2>();
            let username = format!("{base}#{:04}", u16::from_be_bytes([a, b]) % 10_000);
            let new = NewUser {
                username: username.clone(),
                email: email.to_owned(),
                first_name: String::new(),
                last_name: String::new(),
                organization: None,
                role: if admin { Role::Admin } else { Role::User },
                password_hash: None,
            };
            let now = self.clock.now_ms();
            let audit = event(
                now,
                &Actor::Operator,
                AuditAction::UserInvited,
                &username,
                json!({ "admin": admin }),
            );
            match self.store.create_invited_user(&new, now, &audit).await {
                Ok(user) => return Ok(user),
                Err(CreateFederatedError::UsernameTaken) => continue,
                Err(CreateFederatedError::IdentityTaken) => continue,
                Err(CreateFederatedError::Store(e)) => return Err(e.into()),
            }
        }
        Err(AccountError::UsernameTaken(format!("{base}#NNNN")))
    }

    async fn create_federated(
        &self,
        id: &VerifiedIdentity,
        mut profile: NewUser,
        claims: &FederatedClaims,
        pending: bool,
    ) -> Result<User, AccountError> {
        let base = username_base(id.given_name.as_deref(), id.family_name.as_deref());
        let identity = new_identity(id);
        for _ in 0..USERNAME_DRAWS {
            let [a, b] = random_bytes::<2>();
            profile.username = format!("{base}#{:04}", u16::from_be_bytes([a, b]) % 10_000);
            let now = self.clock.now_ms();
            let audit = event(
                now,
                &Actor::User(profile.username.clone()),
                AuditAction::UserCreatedByIdentityProvider,
                &profile.username,
                json!({ "identityProvider": id.idp_id, "pendingApproval": pending }),
            );
            match self
                .store
                .create_federated_user(&profile, claims, &identity, pending, now, &audit)
                .await
            {
                Ok(user) => {
                    tracing::info!(user = %user.username, idp = %id.idp_id, pending, "account created for a new identity");
                    return Ok(user);
                }
                Err(CreateFederatedError::UsernameTaken) => continue,
                // A concurrent first sign-in of the same identity won: use its account.
                Err(CreateFederatedError::IdentityTaken) => {
                    if let Some((_, user)) =
                        self.store.identity_user(&id.issuer, &id.subject).await?
                    {
                        return Ok(user);
                    }
                }
                Err(CreateFederatedError::Store(e)) => return Err(e.into()),
            }
        }
        Err(AccountError::UsernameTaken(format!("{base}#NNNN")))
    }
}

pub(super) fn new_identity(id: &VerifiedIdentity) -> Identity {
    Identity {
        id: random_id(),
        user_id: 0,
        idp_id: id.idp_id.clone(),
        issuer: id.issuer.clone(),
        subject: id.subject.clone(),
        email: id.email.clone(),
        linked_at: 0,
    }
}

pub(super) fn profile(id: &VerifiedIdentity) -> NewUser {
    NewUser {
        username: String::new(),
        email: id.email.clone().unwrap_or_default(),
        first_name: id.given_name.clone().unwrap_or_default(),
        last_name: id.family_name.clone().unwrap_or_default(),
        organization: id.organization.clone(),
        role: Role::User,
        password_hash: None,
    }
}

pub(super) fn claims(id: &VerifiedIdentity) -> FederatedClaims {
    FederatedClaims {
        assurance: id.assurance.clone(),
        two_factor: id.two_factor,
        identity_provider: Some(id.idp_id.clone()),
        site_username: id.site_username.clone(),
    }
}

/// `GivenFamily` from the names, in the letters and digits a username may hold (common accented
/// letters spelt out), at most 40 characters; `User` when nothing is left.
pub fn username_base(given: Option<&str>, family: Option<&str>) -> String {
    let mut out = String::new();
    for c in given
        .unwrap_or("")
        .chars()
        .chain(family.unwrap_or("").chars())
    {
        let spelt = match c {
            'æ' => "ae",
            'Æ' => "Ae",
            'ø' | 'ö' | 'ó' | 'ò' | 'ô' => "o",
            'Ø' | 'Ö' | 'Ó' => "O",
            'å' | 'ä' | 'á' | 'à' | 'â' => "a",
            'Å' | 'Ä' | 'Á' => "A",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'É' => "E",
            'ü' | 'ú' => "u",
            'Ü' => "U",
            'í' | 'ï' => "i",
            'ñ' => "n",
            'ç' => "c",
            'ß' => "ss",
            c if c.is_ascii_alphanumeric() => {
                out.push(c);
                continue;
            }
            _ => continue,
        };
        out.push_str(spelt);
    }
    out.truncate(40);
    if out.is_empty() || !out.as_bytes()[0].is_ascii_alphanumeric() {
        "User".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::username_base;

    #[test]
    fn usernames_are_given_and_family_name_in_plain_letters() {
        assert_eq!(
            username_base(Some("Dan Sebastian"), Some("Thrane")),
            "DanSebastianThrane"
        );
        assert_eq!(username_base(Some("Søren"), Some("Ærø")), "SorenAero");
        assert_eq!(username_base(None, None), "User");
        assert_eq!(username_base(Some("李"), Some("!!")), "User");
        assert_eq!(username_base(Some(&"a".repeat(100)), None).len(), 40);
        let name = format!("{}#0042", username_base(Some("Ada"), Some("Lovelace")));
        assert!(crate::accounts::Username::parse(&name).is_ok());
    }
}
