//! TLS material: development certificates made by the project itself, and the rustls configuration
//! the gateway uses when it talks to providers.

pub mod devcerts;
pub mod server;
