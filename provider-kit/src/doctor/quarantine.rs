//! The quarantine ledger as a doctor line: which removed accounts' names and ids are held, and
//! until when, so an operator who wonders why a name was not handed out sees why.

use std::path::Path;

use super::{Check, CheckName};
use crate::usermap::{MappingStore, quarantine_line};

/// The ledger of the mapping store at `path` as it holds at `now`.
pub async fn quarantine(path: &Path, now: i64) -> Check {
    let store = match MappingStore::open_existing(path).await {
        Ok(store) => store,
        Err(error) => {
            return Check::fail(
                CheckName::Quarantine,
                format!("cannot read the mapping store {}: {error}", path.display()),
                "pass the --data-dir the provider serves with",
            );
        }
    };
    let held = store.quarantine(now).await;
    store.close().await;
    match held {
        Ok(held) => {
            let summary = match held.len() {
                0 => "no removed account's name or ids are held".to_owned(),
                1 => "1 removed account's name and ids are held".to_owned(),
                n => format!("{n} removed accounts' names and ids are held"),
            };
            let notes = held.iter().map(quarantine_line).collect();
            let details = serde_json::json!({ "held": held });
            Check::pass(CheckName::Quarantine, summary)
                .with_notes(notes)
                .with_details(details)
        }
        Err(error) => Check::fail(
            CheckName::Quarantine,
            format!("cannot read the quarantine ledger: {error}"),
            "check the mapping store file's permissions",
        ),
    }
}
