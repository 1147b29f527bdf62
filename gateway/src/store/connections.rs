//! Connections and their attempts. Every state change is a conditional UPDATE, so a replayed or
//! concurrent request changes nothing instead of overwriting.

use super::{Store, StoreError, StoreResult, with_pool};
use crate::model::{Attempt, Connection, ConnectionState, Reported, parse_state, state_str};

type Row = (
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

const COLUMNS: &str = "c.id, c.user_id, c.provider_id, c.state, c.local_identity, c.comment, c.comment_url, c.created_at, c.updated_at";

fn connection(row: Row) -> StoreResult<Connection> {
    let (
        id,
        user_id,
        provider_id,
        state,
        local_identity,
        comment,
        comment_url,
        created_at,
        updated_at,
    ) = row;
    let state = parse_state(&state)
        .ok_or_else(|| StoreError::Corrupt(format!("connection {id}: state {state}")))?;
    Ok(Connection {
        id,
        user_id,
        provider_id,
        state,
        local_identity,
        comment,
        comment_url,
        created_at,
        updated_at,
    })
}

/// What starting an attempt records.
#[derive(Clone, Copy)]
pub struct NewAttempt<'a> {
    /// The id a new connection gets (an existing one keeps its own).
    pub new_id: &'a str,
    pub user_id: i64,
    pub provider_id: &'a str,
    pub nonce_hash: &'a str,
    pub session_hash: &'a str,
    pub expires_at: i64,
}

impl Store {
    pub async fn connection(
        &self,
        user_id: i64,
        provider_id: &str,
    ) -> StoreResult<Option<Connection>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM connections c WHERE c.user_id = $1 AND c.provider_id = $2"
        );
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id).bind(provider_id).fetch_optional(pool).await?);
        row.map(connection).transpose()
    }

    pub async fn connections_of(&self, user_id: i64) -> StoreResult<Vec<Connection>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM connections c WHERE c.user_id = $1 ORDER BY c.provider_id"
        );
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id).fetch_all(pool).await?);
        rows.into_iter().map(connection).collect()
    }

    /// Creates the connection (or resets a non-ok one) to `requested` and records a new attempt.
    /// None: the user is already connected.
    pub async fn start_attempt(
        &self,
        a: &NewAttempt<'_>,
        now: i64,
    ) -> StoreResult<Option<Connection>> {
        let NewAttempt {
            new_id,
            user_id,
            provider_id,
            nonce_hash,
            session_hash,
            expires_at,
        } = *a;
        let upsert = format!(
            "INSERT INTO connections AS c (id, user_id, provider_id, state, created_at, updated_at) \
             VALUES ($1, $2, $3, 'requested', $4, $4) \
             ON CONFLICT (user_id, provider_id) DO UPDATE SET state = 'requested', comment = NULL, comment_url = NULL, updated_at = $4 \
             WHERE c.state <> 'ok' RETURNING {}",
            COLUMNS.replace("c.", "")
        );
        let row: Option<Row> = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(upsert))
                .bind(new_id).bind(user_id).bind(provider_id).bind(now)
                .fetch_optional(&mut *tx).await?;
            if let Some(r) = &row {
                sqlx::query("INSERT INTO connection_attempts (nonce_hash, connection_id, session_hash, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(nonce_hash).bind(&r.0).bind(session_hash).bind(expires_at)
                    .execute(&mut *tx).await?;
                tx.commit().await?;
            }
            row
        });
        row.map(connection).transpose()
    }

    pub async fn attempt(&self, nonce_hash: &str) -> StoreResult<Option<(Attempt, Connection)>> {
        let sql = format!(
            "SELECT a.connection_id, a.session_hash, a.expires_at, a.reported_at, a.used_at, a.code_hash, {COLUMNS} \
             FROM connection_attempts a JOIN connections c ON c.id = a.connection_id WHERE a.nonce_hash = $1"
        );
        type AttemptRow = (
            String,
            String,
            i64,
            Option<i64>,
            Option<i64>,
            Option<String>,
            String,
            i64,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
            i64,
        );
        let row: Option<AttemptRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(nonce_hash).fetch_optional(pool).await?);
        let Some((
            connection_id,
            session_hash,
            expires_at,
            reported_at,
            used_at,
            code_hash,
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
            i,
        )) = row
        else {
            return Ok(None);
        };
        let attempt = Attempt {
            connection_id,
            session_hash,
            expires_at,
            reported_at,
            used_at,
            code_hash,
        };
        Ok(Some((attempt, connection((a, b, c, d, e, f, g, h, i))?)))
    }

    /// Records a provider's report for an attempt not yet reported, used or expired, with the hash
    /// of the completion code handed back to the provider; the connection moves to `creating`
    /// (report `ok`) or the reported pending state. False: nothing changed.
    pub async fn report_attempt(
        &self,
        nonce_hash: &str,
        connection_id: &str,
        reported: &Reported,
        code_hash: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let state = match reported.state {
            ConnectionState::Ok => ConnectionState::Creating,
            other => other,
        };
        let changed = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("UPDATE connection_attempts SET reported_at = $1, code_hash = $4 \
                 WHERE nonce_hash = $2 AND connection_id = $3 AND reported_at IS NULL AND used_at IS NULL AND expires_at > $1")
                .bind(now).bind(nonce_hash).bind(connection_id).bind(code_hash)
                .execute(&mut *tx).await?.rows_affected();
            if n == 1 {
                sqlx::query("UPDATE connections SET state = $1, local_identity = $2, comment = $3, comment_url = $4, updated_at = $5 \
                     WHERE id = $6 AND state IN ('requested', 'creating', 'pendingAccountLinking', 'pendingAdditionalValidation', 'failed', 'expired', 'disconnected')")
                    .bind(state_str(state)).bind(&reported.local_identity).bind(&reported.comment).bind(&reported.comment_url)
                    .bind(now).bind(connection_id)
                    .execute(&mut *tx).await?;
                tx.commit().await?;
            }
            n == 1
        });
        Ok(changed)
    }

    /// Uses a reported, unexpired attempt started by `session_hash` whose completion code hashes to
    /// `code_hash`; the connection becomes `ok` (or keeps the pending state the provider
    /// reported). None: nothing changed.
    pub async fn complete_attempt(
        &self,
        nonce_hash: &str,
        connection_id: &str,
        session_hash: &str,
        code_hash: &str,
        now: i64,
    ) -> StoreResult<Option<Connection>> {
        let done = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("UPDATE connection_attempts SET used_at = $1 \
                 WHERE nonce_hash = $2 AND connection_id = $3 AND session_hash = $4 AND code_hash = $5 \
                 AND reported_at IS NOT NULL AND used_at IS NULL AND expires_at > $1")
                .bind(now).bind(nonce_hash).bind(connection_id).bind(session_hash).bind(code_hash)
                .execute(&mut *tx).await?.rows_affected();
            if n == 1 {
                sqlx::query("UPDATE connections SET state = 'ok', updated_at = $1 WHERE id = $2 AND state = 'creating'")
                    .bind(now).bind(connection_id).execute(&mut *tx).await?;
                tx.commit().await?;
            }
            n == 1
        });
        if !done {
            return Ok(None);
        }
        let sql = format!("SELECT {COLUMNS} FROM connections c WHERE c.id = $1");
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(connection_id).fetch_optional(pool).await?);
        row.map(connection).transpose()
    }

    /// Ends an unused attempt so nobody can complete it: it is marked used and its connection, unless
    /// `ok`, becomes `failed` with `comment`. False: the attempt was already used or unknown.
    pub async fn end_attempt(
        &self,
        nonce_hash: &str,
        connection_id: &str,
        comment: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let ended = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("UPDATE connection_attempts SET used_at = $1 \
                 WHERE nonce_hash = $2 AND connection_id = $3 AND used_at IS NULL")
                .bind(now).bind(nonce_hash).bind(connection_id)
                .execute(&mut *tx).await?.rows_affected();
            if n == 1 {
                sqlx::query("UPDATE connections SET state = 'failed', comment = $1, comment_url = NULL, updated_at = $2 \
                     WHERE id = $3 AND state <> 'ok'")
                    .bind(comment).bind(now).bind(connection_id).execute(&mut *tx).await?;
                tx.commit().await?;
            }
            n == 1
        });
        Ok(ended)
    }

    /// Implicit flow: the provider created the account itself; the connection takes the reported state.
    pub async fn report_implicit(
        &self,
        new_id: &str,
        user_id: i64,
        provider_id: &str,
        reported: &Reported,
        now: i64,
    ) -> StoreResult<Connection> {
        let sql = format!(
            "INSERT INTO connections AS c (id, user_id, provider_id, state, local_identity, comment, comment_url, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             ON CONFLICT (user_id, provider_id) DO UPDATE SET state = $4, local_identity = $5, comment = $6, comment_url = $7, updated_at = $8 \
             RETURNING {}",
            COLUMNS.replace("c.", "")
        );
        let row: Row = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(new_id).bind(user_id).bind(provider_id).bind(state_str(reported.state))
            .bind(&reported.local_identity).bind(&reported.comment).bind(&reported.comment_url).bind(now)
            .fetch_one(pool).await?);
        connection(row)
    }

    /// A renamed local account (a provider's username policy change): the `ok` connection of
    /// `user_id` at `provider_id` that names `from` takes the name `to`. `None` when there is none.
    pub async fn rename_local_identity(
        &self,
        user_id: i64,
        provider_id: &str,
        from: &str,
        to: &str,
        now: i64,
    ) -> StoreResult<Option<Connection>> {
        let sql = format!(
            "UPDATE connections AS c SET local_identity = $1, updated_at = $2 \
             WHERE c.user_id = $3 AND c.provider_id = $4 AND c.state = 'ok' AND c.local_identity = $5 \
             RETURNING {}",
            COLUMNS.replace("c.", "")
        );
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(to).bind(now).bind(user_id).bind(provider_id).bind(from)
            .fetch_optional(pool).await?);
        row.map(connection).transpose()
    }

    /// Ends a connection (either side) and forgets that the user was brokered to the provider;
    /// false when there was none to end.
    pub async fn disconnect(&self, user_id: i64, provider_id: &str, now: i64) -> StoreResult<bool> {
        let ended = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE connections SET state = 'disconnected', updated_at = $1 WHERE user_id = $2 AND provider_id = $3 AND state <> 'disconnected'")
                .bind(now).bind(user_id).bind(provider_id).execute(&mut *tx).await?.rows_affected();
            if n > 0 {
                sqlx::query("DELETE FROM brokered_users WHERE provider_id = $1 AND user_id = $2")
                    .bind(provider_id).bind(user_id).execute(&mut *tx).await?;
                tx.commit().await?;
            }
            n > 0
        });
        Ok(ended)
    }

    /// Records that `user_id` made a brokered request to `provider_id`; a repeat changes nothing.
    pub async fn record_brokered(
        &self,
        provider_id: &str,
        user_id: i64,
        now: i64,
    ) -> StoreResult<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO brokered_users (provider_id, user_id, first_at) VALUES ($1, $2, $3) \
             ON CONFLICT (provider_id, user_id) DO NOTHING")
            .bind(provider_id).bind(user_id).bind(now).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Whether `user_id` made a brokered request to `provider_id` since their connection last ended.
    pub async fn has_brokered(&self, provider_id: &str, user_id: i64) -> StoreResult<bool> {
        let row: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT CAST(1 AS BIGINT) FROM brokered_users WHERE provider_id = $1 AND user_id = $2")
            .bind(provider_id).bind(user_id).fetch_optional(pool).await?);
        Ok(row.is_some())
    }

    pub async fn connection_is_ok(&self, user_id: i64, provider_id: &str) -> StoreResult<bool> {
        // `SELECT 1` is an INT4 on PostgreSQL and does not decode as i64: say BIGINT.
        let row: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT CAST(1 AS BIGINT) FROM connections WHERE user_id = $1 AND provider_id = $2 AND state = 'ok'")
            .bind(user_id).bind(provider_id).fetch_optional(pool).await?);
        Ok(row.is_some())
    }
}
