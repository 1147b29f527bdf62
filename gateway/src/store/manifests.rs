//! The manifest cache's durable half: last valid manifest, ETag, last error and the backoff schedule,
//! one row per provider. Every replica reads it; whichever replica fetches writes it.

use super::{Store, StoreResult, with_pool};
use crate::model::ManifestRecord;

type Row = (
    Option<String>,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
    i64,
);

const COLUMNS: &str =
    "manifest, warnings, etag, fetched_at, checked_at, last_error, failures, next_fetch_at";

/// Creates the row on first write; later writes update it.
const UPSERT: &str = "INSERT INTO provider_manifests (provider_id, manifest, warnings, etag, fetched_at, checked_at, last_error, failures, next_fetch_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (provider_id) DO UPDATE SET manifest = $2, warnings = $3, etag = $4, fetched_at = $5, \
     checked_at = $6, last_error = $7, failures = $8, next_fetch_at = $9";

impl Store {
    pub async fn manifest_record(&self, provider_id: &str) -> StoreResult<Option<ManifestRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM provider_manifests WHERE provider_id = $1");
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(provider_id)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(record))
    }

    pub async fn all_manifest_records(&self) -> StoreResult<Vec<(String, ManifestRecord)>> {
        let sql = format!("SELECT provider_id, {COLUMNS} FROM provider_manifests");
        type IdRow = (
            String,
            Option<String>,
            String,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<String>,
            i64,
            i64,
        );
        let rows: Vec<IdRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(id, a, b, c, d, e, f, g, h)| (id, record((a, b, c, d, e, f, g, h))))
            .collect())
    }

    pub async fn save_manifest_record(
        &self,
        provider_id: &str,
        r: &ManifestRecord,
    ) -> StoreResult<()> {
        let warnings = serde_json::to_string(&r.warnings).unwrap_or_else(|_| "[]".into());
        with_pool!(self, pool => {
            sqlx::query(UPSERT)
                .bind(provider_id)
                .bind(&r.manifest_json)
                .bind(&warnings)
                .bind(&r.etag)
                .bind(r.fetched_at)
                .bind(r.checked_at)
                .bind(&r.last_error)
                .bind(r.failures)
                .bind(r.next_fetch_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Active providers (approved, not suspended) whose manifest is due: never fetched, or
    /// `next_fetch_at` passed.
    pub async fn providers_due_for_manifest(&self, now: i64) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT p.id FROM providers p LEFT JOIN provider_manifests m ON m.provider_id = p.id \
             WHERE p.status = 'active' AND (m.provider_id IS NULL OR m.next_fetch_at <= $1) ORDER BY p.id")
            .bind(now)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}

fn record(row: Row) -> ManifestRecord {
    let (
        manifest_json,
        warnings,
        etag,
        fetched_at,
        checked_at,
        last_error,
        failures,
        next_fetch_at,
    ) = row;
    ManifestRecord {
        manifest_json,
        warnings: serde_json::from_str(&warnings).unwrap_or_default(),
        etag,
        fetched_at,
        checked_at,
        last_error,
        failures,
        next_fetch_at,
    }
}
