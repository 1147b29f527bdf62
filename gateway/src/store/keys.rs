//! The key ring's rows: which keys exist, which is current, which are retired, which are revoked,
//! and each key's private half sealed under the key-encryption key (opaque bytes here: the store
//! never sees a private key in the clear).

use super::{Store, StoreResult, conflict, with_pool};
use crate::model::SigningKeyRecord;

type KeyRow = (String, String, String, i64, Option<i64>);

impl Store {
    /// Adds `new`, signing from `new.created_at`, and retires every other key at that instant, atomically.
    pub async fn rotate_signing_key(
        &self,
        new: &SigningKeyRecord,
        sealed_private: &[u8],
    ) -> StoreResult<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL OR retired_at > $1")
                .bind(new.created_at)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO signing_keys (kid, n, e, created_at, retired_at, private_key) VALUES ($1, $2, $3, $4, NULL, $5)")
                .bind(&new.kid)
                .bind(&new.n)
                .bind(&new.e)
                .bind(new.created_at)
                .bind(sealed_private)
                .execute(&mut *tx)
                .await
                .map_err(conflict("a signing key with this kid"))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Keys still published: live ones, and retired ones retired after `retired_after`; never a
    /// revoked one.
    pub async fn published_signing_keys(
        &self,
        retired_after: i64,
    ) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows: Vec<KeyRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT kid, n, e, created_at, retired_at FROM signing_keys \
             WHERE revoked_at IS NULL AND (retired_at IS NULL OR retired_at > $1) \
             ORDER BY CASE WHEN retired_at IS NULL THEN 0 ELSE 1 END, created_at DESC, kid")
            .bind(retired_after)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(kid, n, e, created_at, retired_at)| SigningKeyRecord {
                kid,
                n,
                e,
                created_at,
                retired_at,
            })
            .collect())
    }
}

impl Store {
    /// The key `kid` if it exists and is not revoked, published or not.
    pub async fn unrevoked_signing_key(&self, kid: &str) -> StoreResult<Option<SigningKeyRecord>> {
        let row: Option<KeyRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT kid, n, e, created_at, retired_at FROM signing_keys \
             WHERE kid = $1 AND revoked_at IS NULL")
            .bind(kid)
            .fetch_optional(pool)
            .await?);
        Ok(
            row.map(|(kid, n, e, created_at, retired_at)| SigningKeyRecord {
                kid,
                n,
                e,
                created_at,
                retired_at,
            }),
        )
    }

    /// Revokes `kid` at `at`: it is no longer published and no longer signs (its sealed private
    /// half is erased). False when there is
    /// no such key or it was revoked already.
    pub async fn revoke_signing_key(&self, kid: &str, at: i64) -> StoreResult<bool> {
        let done = with_pool!(self, pool => sqlx::query(
            "UPDATE signing_keys SET revoked_at = $2, private_key = NULL, \
             retired_at = CASE WHEN retired_at IS NULL OR retired_at > $2 THEN $2 ELSE retired_at END \
             WHERE kid = $1 AND revoked_at IS NULL")
            .bind(kid)
            .bind(at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done > 0)
    }
}

/// What the database holds of a key's private half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealedKey {
    /// No such key, or it is revoked.
    Unknown,
    /// Known, its private half not imported yet (a legacy key file).
    Missing,
    Sealed(Vec<u8>),
}

impl Store {
    /// The sealed private half of the unrevoked key `kid`.
    pub async fn sealed_signing_key(&self, kid: &str) -> StoreResult<SealedKey> {
        let row: Option<(Option<Vec<u8>>,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT private_key FROM signing_keys WHERE kid = $1 AND revoked_at IS NULL")
            .bind(kid)
            .fetch_optional(pool)
            .await?);
        Ok(match row {
            None => SealedKey::Unknown,
            Some((None,)) => SealedKey::Missing,
            Some((Some(sealed),)) => SealedKey::Sealed(sealed),
        })
    }

    /// Stores the sealed private half of `kid` when the row has none yet (a legacy import).
    /// False when there is no such unrevoked key or it has its private half already.
    pub async fn import_sealed_signing_key(&self, kid: &str, sealed: &[u8]) -> StoreResult<bool> {
        let done = with_pool!(self, pool => sqlx::query(
            "UPDATE signing_keys SET private_key = $2 \
             WHERE kid = $1 AND revoked_at IS NULL AND private_key IS NULL")
            .bind(kid)
            .bind(sealed)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done > 0)
    }
}
