//! Provider registrations: immutable metadata, status, owner and the hash of the refresh token.

use super::{Store, StoreError, StoreResult, conflict, with_pool};
use crate::model::{Provider, ProviderStatus};
use provider_kit::protocol::ProviderMetadata;

type ProviderRow = (
    String,
    String,
    bool,
    i64,
    String,
    String,
    i64,
    bool,
    i64,
    i64,
);

const PROVIDER_COLUMNS: &str = "id, domain, https, port, env, status, owner_id, \
     refresh_token_hash IS NOT NULL, created_at, updated_at";

fn provider(row: ProviderRow) -> StoreResult<Provider> {
    let (id, domain, https, port, env, status, owner_id, has_refresh_token, created_at, updated_at) =
        row;
    let corrupt = |what: String| StoreError::Corrupt(format!("provider {id}: {what}"));
    let port = u16::try_from(port).map_err(|_| corrupt(format!("port {port}")))?;
    let env = env.parse().map_err(corrupt)?;
    let metadata = ProviderMetadata::new(&id, &domain, https, Some(port), env)
        .map_err(|e| corrupt(e.to_string()))?;
    let upstream = crate::model::UpstreamBase::of(&metadata)
        .ok_or_else(|| corrupt(format!("no URI in {}", metadata.namespace_url())))?;
    let status =
        ProviderStatus::parse(&status).ok_or_else(|| corrupt(format!("status {status}")))?;
    Ok(Provider {
        metadata,
        upstream,
        status,
        owner_id,
        has_refresh_token,
        created_at,
        updated_at,
    })
}

impl Store {
    pub async fn insert_provider(
        &self,
        metadata: &ProviderMetadata,
        status: ProviderStatus,
        owner_id: i64,
        refresh_token_hash: &str,
        now: i64,
    ) -> StoreResult<Provider> {
        let sql = format!(
            "INSERT INTO providers (id, domain, https, port, env, status, owner_id, refresh_token_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {PROVIDER_COLUMNS}"
        );
        let row: ProviderRow = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(metadata.id.as_str())
            .bind(&metadata.domain)
            .bind(metadata.https)
            .bind(i64::from(metadata.port()))
            .bind(metadata.env.as_str())
            .bind(status.as_str())
            .bind(owner_id)
            .bind(refresh_token_hash)
            .bind(now)
            .fetch_one(pool)
            .await
            .map_err(conflict("a provider with this id"))?);
        provider(row)
    }

    pub async fn provider(&self, id: &str) -> StoreResult<Option<Provider>> {
        let sql = format!("SELECT {PROVIDER_COLUMNS} FROM providers WHERE id = $1");
        let row: Option<ProviderRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(pool)
            .await?);
        row.map(provider).transpose()
    }

    pub async fn list_providers(&self) -> StoreResult<Vec<Provider>> {
        let sql = format!("SELECT {PROVIDER_COLUMNS} FROM providers ORDER BY id");
        let rows: Vec<ProviderRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(provider).collect()
    }

    /// Moves a provider from one of `from` to `to`; `None` when it is not in any of `from` (or absent).
    pub async fn transition_provider(
        &self,
        id: &str,
        from: &[ProviderStatus],
        to: ProviderStatus,
        now: i64,
    ) -> StoreResult<Option<Provider>> {
        let Some(current) = self.provider(id).await? else {
            return Ok(None);
        };
        if !from.contains(&current.status) {
            return Ok(None);
        }
        // The WHERE on the old status makes a concurrent transition lose cleanly instead of overwriting.
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE providers SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
            .bind(to.as_str())
            .bind(now)
            .bind(id)
            .bind(current.status.as_str())
            .execute(pool)
            .await?
            .rows_affected());
        if n == 0 {
            return Ok(None);
        }
        self.provider(id).await
    }

    /// Replaces (or with `None`, removes) the provider's refresh token hash; false if no such provider.
    pub async fn set_refresh_token_hash(
        &self,
        id: &str,
        hash: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE providers SET refresh_token_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await
            .map_err(conflict("a refresh token with this hash"))?
            .rows_affected());
        Ok(n > 0)
    }

    /// The provider a refresh token hash belongs to.
    pub async fn provider_by_refresh_hash(&self, hash: &str) -> StoreResult<Option<Provider>> {
        let sql = format!("SELECT {PROVIDER_COLUMNS} FROM providers WHERE refresh_token_hash = $1");
        let row: Option<ProviderRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(hash)
            .fetch_optional(pool)
            .await?);
        row.map(provider).transpose()
    }
}
