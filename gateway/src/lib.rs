//! The federation gateway: providers register, get tokens, publish manifests; users sign in and are
//! brokered to providers. See `docs/architecture.md` for the flow and how these modules line up on it.

pub mod accounting;
pub mod accounts;
pub mod app;
pub mod audit;
pub mod background;
pub mod broker;
pub mod changes;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connections;
pub mod hashing;
pub mod http;
pub mod keys;
pub mod manifests;
pub mod metrics;
pub mod model;
pub mod netaddr;
pub mod oidc;
pub mod outbound;
pub mod policy;
pub mod problem;
pub mod projects;
pub mod registry;
pub mod secrets;
pub mod serve;
pub mod store;
pub mod tls;
pub mod tokens;
