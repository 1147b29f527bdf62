//! The broker's upstream connections: one HTTP/1.1 pool (`pool`) per kind of provider, dialling
//! through the outbound policy's connectors (SPEC §1: rustls with the extra roots, HTTPS only and
//! public addresses checked at connect time for production providers), built with the broker's
//! connect timeout.

use super::pool::Pool;
use crate::config::ManifestConfig;
use crate::outbound::{OutboundConfig, ProviderConnectors};
use std::time::Duration;

pub use crate::outbound::{Body, BoxError};

/// One pool per kind of provider; both keep connections per provider address.
#[derive(Clone)]
pub struct Upstreams {
    pub production: Pool,
    pub test: Pool,
}

impl Upstreams {
    /// The manifest section's roots and private-address exceptions, the broker's connect timeout.
    pub fn new(config: &ManifestConfig, connect_timeout: Duration) -> Result<Self, String> {
        let ProviderConnectors { production, test } = ProviderConnectors::new(&OutboundConfig {
            extra_roots: config.extra_roots.clone(),
            allow_private: config.allow_private.clone(),
            connect_timeout,
        })?;
        Ok(Self {
            production: Pool::new(production),
            test: Pool::new(test),
        })
    }
}
