//! Gateway integration tests: the real server on port 0, spoken to over HTTP.

mod accounts;
mod keys;
mod providers;
mod store;
mod support;
mod tokens;
