//! Linked identities (SPEC §8): one more identity for a signed-in account, and unlinking one
//! without ever removing the account's last way in (another identity, or a password hash).

use super::identities::{CreateFederatedError, insert_identity};
use super::{Store, StoreResult, with_pool};
use crate::model::Identity;

/// What unlinking found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlinked {
    Unlinked,
    /// The user has no identity with that id.
    NotFound,
    /// It is the account's last identity and the account has no password: kept.
    LastWayIn,
}

impl Store {
    /// Links `identity` to `user_id`; `IdentityTaken` when an account (any) has it already.
    pub async fn link_identity(
        &self,
        user_id: i64,
        identity: &Identity,
        now: i64,
    ) -> Result<(), CreateFederatedError> {
        with_pool!(self, pool => insert_identity!(pool, identity, user_id, now).map(|_| ()))
    }

    /// Removes the identity `id` of `user_id` unless it is the last way in. The user's row is
    /// written first, so two unlinks of one account run one after the other and cannot both
    /// see "another identity is left".
    pub async fn unlink_identity(&self, user_id: i64, id: &str) -> StoreResult<Unlinked> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let password: Option<(Option<String>,)> =
                sqlx::query_as("UPDATE users SET password_hash = password_hash WHERE id = $1 RETURNING password_hash")
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let has_password = matches!(password, Some((Some(_),)));
            let ids: Vec<(String,)> = sqlx::query_as("SELECT id FROM identities WHERE user_id = $1")
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
            if !ids.iter().any(|(i,)| i == id) {
                return Ok(Unlinked::NotFound);
            }
            if ids.len() == 1 && !has_password {
                return Ok(Unlinked::LastWayIn);
            }
            sqlx::query("DELETE FROM identities WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Unlinked::Unlinked)
        })
    }
}
