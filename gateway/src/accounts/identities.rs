//! Linked identities (SPEC §8): the identities of an account, linking one more after the user
//! signed in at its IdP in the session that asked, and unlinking one that is not the last way in.
//! An account has a usable password exactly when it has a password hash (`users create
//! --password-stdin`); federated and invited accounts have none, and a merge removes it.

use super::federated::{claims, new_identity, profile};
use super::{AccountError, Accounts};
use crate::model::{Identity, VerifiedIdentity};
use crate::store::{CreateFederatedError, Unlinked};

/// What a finished link attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linked {
    /// The identity is now linked to the account.
    New,
    /// It was linked to this account before; the sign-in refreshed the claims.
    Already,
}

impl Accounts {
    pub async fn identities(&self, user_id: i64) -> Result<Vec<Identity>, AccountError> {
        Ok(self.store.identities_of(user_id).await?)
    }

    /// Links what the IdP vouched for to `user_id`'s account, refusing (changing nothing) when it
    /// belongs to another account. The principal's claims follow this identity, the one used last.
    pub async fn link_identity(
        &self,
        user_id: i64,
        id: &VerifiedIdentity,
    ) -> Result<Linked, AccountError> {
        if id.subject.is_empty() {
            return Err(AccountError::Invalid(
                "the identity provider sent no subject".into(),
            ));
        }
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .ok_or_else(|| AccountError::NoSuchUser(user_id.to_string()))?;
        self.ensure_active(&user).await?;
        let now = self.clock.now_ms();
        let (identity_id, outcome) = match self.store.identity_user(&id.issuer, &id.subject).await?
        {
            Some((identity, owner)) if owner.id == user_id => (identity.id, Linked::Already),
            Some(_) => return Err(AccountError::IdentityLinkedElsewhere),
            None => {
                let identity = new_identity(id);
                match self.store.link_identity(user_id, &identity, now).await {
                    Ok(()) => (identity.id, Linked::New),
                    Err(
                        CreateFederatedError::IdentityTaken | CreateFederatedError::UsernameTaken,
                    ) => {
                        return Err(AccountError::IdentityLinkedElsewhere);
                    }
                    Err(CreateFederatedError::Store(e)) => return Err(e.into()),
                }
            }
        };
        self.store
            .refresh_federated_user(user_id, &profile(id), &claims(id), &identity_id, now)
            .await?;
        self.credentials.forget_user(user_id);
        tracing::info!(user = %user.username, idp = %id.idp_id, ?outcome, "identity linked");
        Ok(outcome)
    }

    /// Whether the account has a usable password: a password hash (see the module's comment).
    pub async fn has_password(&self, user: &crate::model::User) -> Result<bool, AccountError> {
        Ok(matches!(
            self.store.password_hash(&user.username).await?,
            Some((_, Some(_)))
        ))
    }

    /// Unlinks the identity `identity_id` of `user_id`, never the last way in.
    pub async fn unlink_identity(
        &self,
        user_id: i64,
        identity_id: &str,
    ) -> Result<(), AccountError> {
        match self.store.unlink_identity(user_id, identity_id).await? {
            Unlinked::Unlinked => {
                tracing::info!(user_id, "identity unlinked");
                Ok(())
            }
            Unlinked::NotFound => Err(AccountError::NoSuchIdentity),
            Unlinked::LastWayIn => Err(AccountError::LastWayIn),
        }
    }
}
