//! `gateway migrate`: apply the database migrations and exit.

use crate::config::Config;
use crate::store::Store;
use anyhow::Context;

pub async fn migrate(config: Config) -> anyhow::Result<()> {
    let url = config.database_url();
    let store = Store::connect_without_migrating(&url)
        .await
        .context("while opening the database")?;
    let applied = store.migrate().await.context("while migrating")?;
    if applied.is_empty() {
        println!("database is up to date");
    } else {
        println!("applied migrations {applied:?}");
    }
    Ok(())
}
