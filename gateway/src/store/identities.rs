//! Identities at OpenID Providers and the sign-ins under way (SPEC §8). A first sign-in creates
//! the user, its identity, its account state and the audit row in one transaction, so two
//! concurrent first sign-ins of one identity end in one account.

use super::audit::insert_audit;
use super::users::{USER_COLUMNS, UserRow, user};
use super::{Store, StoreError, StoreResult, with_pool};
use crate::model::{AuditEvent, FederatedClaims, Identity, NewUser, OidcAttempt, User};

/// Why a first sign-in's insert did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CreateFederatedError {
    #[error("the username is taken")]
    UsernameTaken,
    /// Another sign-in of this identity created its account first.
    #[error("the identity is already linked")]
    IdentityTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CreateFederatedError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

type IdentityRow = (String, i64, String, String, String, Option<String>, i64);

fn identity(row: IdentityRow) -> Identity {
    let (id, user_id, idp_id, issuer, subject, email, linked_at) = row;
    Identity {
        id,
        user_id,
        idp_id,
        issuer,
        subject,
        email,
        linked_at,
    }
}

pub(super) const INSERT_IDENTITY: &str = "INSERT INTO identities (id, user_id, idp_id, issuer, subject, email, linked_at, last_used_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)";

/// Links `identity` to `user_id` on `conn`; a taken `(issuer, subject)` is `IdentityTaken`.
macro_rules! insert_identity {
    ($conn:expr, $identity:expr, $user_id:expr, $now:expr) => {{
        let identity: &$crate::model::Identity = $identity;
        sqlx::query($crate::store::identities::INSERT_IDENTITY)
            .bind(&identity.id)
            .bind($user_id)
            .bind(&identity.idp_id)
            .bind(&identity.issuer)
            .bind(&identity.subject)
            .bind(&identity.email)
            .bind($now)
            .execute($conn)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    $crate::store::CreateFederatedError::IdentityTaken
                }
                _ => $crate::store::CreateFederatedError::Store(e.into()),
            })
    }};
}
pub(super) use insert_identity;

impl Store {
    pub async fn insert_oidc_attempt(&self, a: &OidcAttempt) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO oidc_attempts (state_hash, browser_hash, idp_id, nonce, pkce_verifier, next_path, expires_at, link_user) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(&a.state_hash)
                .bind(&a.browser_hash)
                .bind(&a.idp_id)
                .bind(&a.nonce)
                .bind(&a.pkce_verifier)
                .bind(&a.next_path)
                .bind(a.expires_at)
                .bind(a.link_user)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// How many attempts have not expired: the bound on what anonymous `start`s may store.
    pub async fn live_oidc_attempts(&self, now: i64) -> StoreResult<i64> {
        let (n,): (i64,) = with_pool!(self, pool => sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM oidc_attempts WHERE expires_at > $1")
            .bind(now)
            .fetch_one(pool)
            .await?);
        Ok(n)
    }

    /// Removes and returns the attempt: a state is used at most once, whatever happens next.
    pub async fn take_oidc_attempt(&self, state_hash: &str) -> StoreResult<Option<OidcAttempt>> {
        type Row = (
            String,
            String,
            String,
            String,
            String,
            String,
            i64,
            Option<i64>,
        );
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(
            "DELETE FROM oidc_attempts WHERE state_hash = $1 \
             RETURNING state_hash, browser_hash, idp_id, nonce, pkce_verifier, next_path, expires_at, link_user")
            .bind(state_hash)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(
            |(
                state_hash,
                browser_hash,
                idp_id,
                nonce,
                pkce_verifier,
                next_path,
                expires_at,
                link_user,
            )| {
                OidcAttempt {
                    state_hash,
                    browser_hash,
                    idp_id,
                    nonce,
                    pkce_verifier,
                    next_path,
                    expires_at,
                    link_user,
                }
            },
        ))
    }

    pub async fn delete_expired_oidc_attempts(&self, now: i64) -> StoreResult<u64> {
        let n = with_pool!(self, pool => sqlx::query("DELETE FROM oidc_attempts WHERE expires_at <= $1")
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n)
    }

    /// The account an identity signs into.
    pub async fn identity_user(
        &self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<(Identity, User)>> {
        let row: Option<IdentityRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, user_id, idp_id, issuer, subject, email, linked_at FROM identities \
             WHERE issuer = $1 AND subject = $2")
            .bind(issuer)
            .bind(subject)
            .fetch_optional(pool)
            .await?);
        let Some(found) = row.map(identity) else {
            return Ok(None);
        };
        Ok(self.user_by_id(found.user_id).await?.map(|u| (found, u)))
    }

    pub async fn identities_of(&self, user_id: i64) -> StoreResult<Vec<Identity>> {
        let rows: Vec<IdentityRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, user_id, idp_id, issuer, subject, email, linked_at FROM identities \
             WHERE user_id = $1 ORDER BY linked_at, id")
            .bind(user_id)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(identity).collect())
    }

    /// A new user signed in through `new_identity`, `pending` until approved, audited, all or
    /// nothing.
    pub async fn create_federated_user(
        &self,
        new: &NewUser,
        claims: &FederatedClaims,
        new_identity: &Identity,
        pending: bool,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<User, CreateFederatedError> {
        let sql = format!(
            "INSERT INTO users (username, email, first_name, last_name, organization, role, password_hash, created_at, \
             assurance, two_factor, identity_provider, site_username) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9, $10, $11) RETURNING {}",
            USER_COLUMNS.replace("u.", "")
        );
        let assurance = serde_json::to_string(&claims.assurance).unwrap_or_else(|_| "[]".into());
        let unique = |e: sqlx::Error, taken: CreateFederatedError| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => taken,
            _ => CreateFederatedError::Store(e.into()),
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let row: UserRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(&new.username)
                .bind(&new.email)
                .bind(&new.first_name)
                .bind(&new.last_name)
                .bind(&new.organization)
                .bind(new.role.as_str())
                .bind(now)
                .bind(&assurance)
                .bind(claims.two_factor)
                .bind(&claims.identity_provider)
                .bind(&claims.site_username)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| unique(e, CreateFederatedError::UsernameTaken))?;
            let created = user(row);
            insert_identity!(&mut *tx, new_identity, created.id, now)?;
            if pending {
                sqlx::query(
                    "INSERT INTO account_states (user_id, status, suspended_until, expires_at, updated_at) \
                     VALUES ($1, 'pendingApproval', NULL, NULL, $2)")
                    .bind(created.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            insert_audit!(&mut *tx, audit);
            tx.commit().await?;
            Ok(created)
        })
    }

    /// What the IdP said at this sign-in replaces what it said before (SPEC §8).
    pub async fn refresh_federated_user(
        &self,
        user_id: i64,
        profile: &NewUser,
        claims: &FederatedClaims,
        identity_id: &str,
        now: i64,
    ) -> StoreResult<()> {
        let assurance = serde_json::to_string(&claims.assurance).unwrap_or_else(|_| "[]".into());
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE users SET email = $1, first_name = $2, last_name = $3, organization = $4, \
                 assurance = $5, two_factor = $6, identity_provider = $7, site_username = $8 WHERE id = $9")
                .bind(&profile.email)
                .bind(&profile.first_name)
                .bind(&profile.last_name)
                .bind(&profile.organization)
                .bind(&assurance)
                .bind(claims.two_factor)
                .bind(&claims.identity_provider)
                .bind(&claims.site_username)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE identities SET last_used_at = $1, email = $2 WHERE id = $3")
                .bind(now)
                .bind(Some(&profile.email).filter(|e| !e.is_empty()))
                .bind(identity_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// A user pre-created for `email` (stored lower-case), audited.
    pub async fn create_invited_user(
        &self,
        new: &NewUser,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<User, CreateFederatedError> {
        let sql = format!(
            "INSERT INTO users (username, email, first_name, last_name, organization, role, password_hash, created_at) \
             VALUES ($1, $2, '', '', NULL, $3, NULL, $4) RETURNING {}",
            USER_COLUMNS.replace("u.", "")
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let row: UserRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(&new.username)
                .bind(&new.email)
                .bind(new.role.as_str())
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_unique_violation() => CreateFederatedError::UsernameTaken,
                    _ => CreateFederatedError::Store(e.into()),
                })?;
            let created = user(row);
            sqlx::query("INSERT INTO invitations (user_id, email, created_at) VALUES ($1, $2, $3)")
                .bind(created.id)
                .bind(new.email.to_lowercase())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            insert_audit!(&mut *tx, audit);
            tx.commit().await?;
            Ok(created)
        })
    }

    /// Links `identity` to the oldest account invited for its (verified) email, using the
    /// invitation up; `None` when there is none.
    pub async fn claim_invitation(
        &self,
        email: &str,
        identity: &Identity,
        now: i64,
    ) -> Result<Option<i64>, CreateFederatedError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let found: Option<(i64,)> = sqlx::query_as(
                "SELECT user_id FROM invitations WHERE email = $1 ORDER BY created_at, user_id LIMIT 1")
                .bind(email.to_lowercase())
                .fetch_optional(&mut *tx)
                .await?;
            let Some((user_id,)) = found else { return Ok(None) };
            let gone = sqlx::query("DELETE FROM invitations WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if gone == 0 {
                return Ok(None);
            }
            insert_identity!(&mut *tx, identity, user_id, now)?;
            tx.commit().await?;
            Ok(Some(user_id))
        })
    }

    /// Users waiting for an admin's approval, oldest first.
    pub async fn pending_users(&self) -> StoreResult<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN account_states s ON s.user_id = u.id \
             WHERE s.status = 'pendingApproval' ORDER BY u.created_at, u.id"
        );
        let rows: Vec<UserRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(user).collect())
    }
}
