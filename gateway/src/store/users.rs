//! Users, sign-in sessions and personal API tokens. Secrets arrive here already hashed.

use super::{Store, StoreResult, conflict, with_pool};
use crate::model::{ApiToken, FederatedClaims, NewUser, Role, User};

pub(super) type UserRow = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    String,
    bool,
    Option<String>,
    Option<String>,
);

pub(super) const USER_COLUMNS: &str = "u.id, u.username, u.email, u.first_name, u.last_name, u.organization, u.role, u.created_at, \
     u.assurance, u.two_factor, u.identity_provider, u.site_username";

pub(super) fn user(row: UserRow) -> User {
    let (
        id,
        username,
        email,
        first_name,
        last_name,
        organization,
        role,
        created_at,
        assurance,
        two_factor,
        identity_provider,
        site_username,
    ) = row;
    User {
        federated: FederatedClaims {
            assurance: serde_json::from_str(&assurance).unwrap_or_default(),
            two_factor,
            identity_provider,
            site_username,
        },
        id,
        username,
        email,
        first_name,
        last_name,
        organization,
        role: Role::parse(&role),
        created_at,
    }
}

impl Store {
    pub async fn insert_user(&self, new: &NewUser, now: i64) -> StoreResult<User> {
        let sql = format!(
            "INSERT INTO users (username, email, first_name, last_name, organization, role, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {}",
            USER_COLUMNS.replace("u.", "")
        );
        let row: UserRow = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&new.username)
            .bind(&new.email)
            .bind(&new.first_name)
            .bind(&new.last_name)
            .bind(&new.organization)
            .bind(new.role.as_str())
            .bind(&new.password_hash)
            .bind(now)
            .fetch_one(pool)
            .await
            .map_err(conflict("a user with this username"))?);
        Ok(user(row))
    }

    pub async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1");
        let row: Option<UserRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(username)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(user))
    }

    /// Every user, by username.
    pub async fn list_users(&self) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.username");
        let rows: Vec<UserRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(user).collect())
    }

    /// The user holding the API token `id`, if any.
    pub async fn api_token_owner(&self, id: &str) -> StoreResult<Option<i64>> {
        Ok(
            with_pool!(self, pool => sqlx::query_scalar("SELECT user_id FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?),
        )
    }

    pub async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
        let row: Option<UserRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(user))
    }

    /// The stored password hash of a user, for sign-in.
    pub async fn password_hash(
        &self,
        username: &str,
    ) -> StoreResult<Option<(User, Option<String>)>> {
        let sql =
            format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.username = $1");
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            i64,
            String,
            bool,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(username)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(|(a, b, c, d, e, f, g, h, i, j, k, l, hash)| {
            (user((a, b, c, d, e, f, g, h, i, j, k, l)), hash)
        }))
    }

    pub async fn set_password_hash(&self, user_id: i64, hash: &str) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn insert_session(
        &self,
        token_hash: &str,
        user_id: i64,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The user a live session belongs to.
    pub async fn session_user(&self, token_hash: &str, now: i64) -> StoreResult<Option<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2"
        );
        let row: Option<UserRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(user))
    }

    pub async fn delete_session(&self, token_hash: &str) -> StoreResult<bool> {
        let n = with_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    pub async fn delete_expired_sessions(&self, now: i64) -> StoreResult<u64> {
        let n = with_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n)
    }

    pub async fn insert_api_token(&self, token: &ApiToken, token_hash: &str) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&token.id)
            .bind(token.user_id)
            .bind(&token.name)
            .bind(token_hash)
            .bind(token.created_at)
            .execute(pool)
            .await
            .map_err(conflict("an API token with this id"))?;
        });
        Ok(())
    }

    pub async fn api_token_user(&self, token_hash: &str) -> StoreResult<Option<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
        );
        let row: Option<UserRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(user))
    }

    pub async fn list_api_tokens(&self, user_id: i64) -> StoreResult<Vec<ApiToken>> {
        let rows: Vec<(String, i64, String, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, user_id, name, created_at FROM api_tokens WHERE user_id = $1 ORDER BY created_at, id")
            .bind(user_id)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(id, user_id, name, created_at)| ApiToken {
                id,
                user_id,
                name,
                created_at,
            })
            .collect())
    }

    /// Deletes one of the user's own tokens; false when the user has no such token.
    pub async fn delete_api_token(&self, user_id: i64, id: &str) -> StoreResult<bool> {
        let n = with_pool!(self, pool => sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n > 0)
    }
}
