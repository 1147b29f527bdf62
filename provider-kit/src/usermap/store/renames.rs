//! Policy changes in the store: the principal an automatic account was named from, renames of an
//! account (with its mapping) and the aliases its old names stay for a grace period.

use super::accounts::AccountTx;
use super::{MappingStore, StoreError, StoreResult, id};
use crate::usermap::model::Alias;

type AliasRow = (String, String, i64, i64, i64);

fn alias(row: AliasRow) -> StoreResult<Alias> {
    let (alias, account, uid, renamed_at, until) = row;
    Ok(Alias {
        alias,
        account,
        uid: id(uid)?,
        renamed_at,
        until,
    })
}

impl AccountTx {
    /// Records what `name` was made from (the principal as JSON).
    pub(crate) async fn set_principal(&mut self, name: &str, principal: &str) -> StoreResult<()> {
        sqlx::query("UPDATE local_accounts SET principal = ? WHERE name = ?")
            .bind(principal)
            .bind(name)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Every account's name with the principal JSON it was made from (if recorded).
    pub(crate) async fn principals(&mut self) -> StoreResult<Vec<(String, Option<String>)>> {
        Ok(
            sqlx::query_as("SELECT name, principal FROM local_accounts ORDER BY uid")
                .fetch_all(self.conn())
                .await?,
        )
    }

    /// Renames the account `from` to `to` with its mapping; `false` when `to` is taken. The
    /// mapping must point at the new name before the commit, so the foreign key is deferred.
    pub(crate) async fn rename_account(&mut self, from: &str, to: &str) -> StoreResult<bool> {
        sqlx::query("PRAGMA defer_foreign_keys = ON")
            .execute(self.conn())
            .await?;
        let done = sqlx::query("UPDATE OR IGNORE local_accounts SET name = ? WHERE name = ?")
            .bind(to)
            .bind(from)
            .execute(self.conn())
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE mappings SET local_account = ?, reported_at = NULL WHERE local_account = ?",
        )
        .bind(to)
        .bind(from)
        .execute(self.conn())
        .await?;
        Ok(true)
    }

    /// Keeps `alias` (an old name of `account`) until `until`.
    pub(crate) async fn insert_alias(&mut self, alias: &Alias) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO aliases (alias, account, uid, renamed_at, until) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (alias) DO UPDATE SET account = excluded.account, uid = excluded.uid, \
             renamed_at = excluded.renamed_at, until = excluded.until",
        )
        .bind(&alias.alias)
        .bind(&alias.account)
        .bind(i64::from(alias.uid))
        .bind(alias.renamed_at)
        .bind(alias.until)
        .execute(self.conn())
        .await
        .map_err(super::conflict("alias"))?;
        Ok(())
    }

    /// The aliases holding at `now`.
    pub(crate) async fn aliases(&mut self, now: i64) -> StoreResult<Vec<Alias>> {
        let rows: Vec<AliasRow> = sqlx::query_as(
            "SELECT alias, account, uid, renamed_at, until FROM aliases WHERE until > ? ORDER BY alias",
        )
        .bind(now)
        .fetch_all(self.conn())
        .await?;
        rows.into_iter().map(alias).collect()
    }

    /// Whether an alias holds `name` at `now`.
    pub(crate) async fn alias_held(&mut self, name: &str, now: i64) -> StoreResult<bool> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM aliases WHERE alias = ? AND until > ?")
                .bind(name)
                .bind(now)
                .fetch_optional(self.conn())
                .await?;
        Ok(row.is_some())
    }
}

impl MappingStore {
    /// The aliases of renamed accounts holding at `now`.
    pub async fn aliases(&self, now: i64) -> StoreResult<Vec<Alias>> {
        let mut tx = AccountTx::new(self.pool().begin().await.map_err(StoreError::from)?);
        tx.aliases(now).await
    }

    /// The name `account` had before its latest rename, while that alias holds: what a report of
    /// the renamed account names as `renamedFrom`.
    pub async fn renamed_from(&self, account: &str, now: i64) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT alias FROM aliases WHERE account = ? AND until > ? ORDER BY renamed_at DESC LIMIT 1",
        )
        .bind(account)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(alias,)| alias))
    }
}

/// What renaming a gateway user (SPEC §4, an account merge at the gateway) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayRename {
    /// The mapping of `from` now names `to`; the local account is the same.
    Renamed,
    /// `from` has no mapping and `to` has one: a retry of a rename already done.
    AlreadyDone,
    /// Neither is mapped: nothing to rename.
    NothingMapped,
    /// Both are mapped (to different local accounts): nothing changed.
    BothMapped,
}

impl AccountTx {
    /// Moves what the provider keeps under the gateway username `from` to `to`: the mapping (the
    /// local account stays), the automatic account made for `from` and a pending connection.
    pub(crate) async fn rename_gateway_user(
        &mut self,
        from: &str,
        to: &str,
    ) -> StoreResult<GatewayRename> {
        let outcome = match (self.mapping(from).await?, self.mapping(to).await?) {
            (Some(_), Some(_)) => return Ok(GatewayRename::BothMapped),
            (None, Some(_)) => GatewayRename::AlreadyDone,
            (None, None) => GatewayRename::NothingMapped,
            (Some(_), None) => {
                sqlx::query("UPDATE mappings SET gateway_username = ? WHERE gateway_username = ?")
                    .bind(to)
                    .bind(from)
                    .execute(self.conn())
                    .await?;
                GatewayRename::Renamed
            }
        };
        // An automatic account made for `from` comes back to `to` after an unlink; one made for
        // `to` already keeps its claim.
        for sql in [
            "UPDATE OR IGNORE local_accounts SET created_for = ? WHERE created_for = ?",
            "UPDATE OR IGNORE pending SET gateway_username = ? WHERE gateway_username = ?",
        ] {
            sqlx::query(sql)
                .bind(to)
                .bind(from)
                .execute(self.conn())
                .await?;
        }
        Ok(outcome)
    }
}
