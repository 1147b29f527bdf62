//! Gateway integration tests: the real server on port 0, spoken to over HTTP.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected value"
)]

mod accounts;
mod keys;
mod providers;
mod store;
mod support;
mod tokens;
