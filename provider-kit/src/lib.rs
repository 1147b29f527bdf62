//! provider-kit: what a provider developer needs to join the federation.

pub mod auth;
pub mod protocol;
