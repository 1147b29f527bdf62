//! What every operator command starts from: the `App`, built from the configuration as `serve`
//! builds it (migrated database, key ring), so a command calls the same domain code as the API.

use crate::app::{App, AppState};
use crate::clock::SystemClock;
use crate::config::Config;
use std::sync::Arc;

pub(super) async fn app(config: Config) -> anyhow::Result<AppState> {
    let issuer = config.issuer(None);
    App::build(config, issuer, Arc::new(SystemClock)).await
}
