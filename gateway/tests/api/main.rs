//! Gateway integration tests: the real server on port 0, spoken to over HTTP.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected value"
)]

mod access;
mod access_table;
mod accounting;
mod accounts;
mod attacks;
mod audit;
mod broker;
mod change_feed;
mod charge_input;
mod charge_race;
mod connections;
mod health;
mod keys;
mod lifecycle;
mod manifests;
mod merge;
mod migrations;
mod observability;
mod oidc;
mod openapi;
mod pages;
mod projects;
mod provider_double;
mod providers;
mod rejections;
mod store;
mod support;
mod tls;
mod tokens;
mod upstream;
