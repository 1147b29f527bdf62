//! The pooled HTTP client the broker forwards with: the outbound policy's clients (SPEC §1:
//! HTTP/1.1 and HTTP/2 over rustls, extra roots, HTTPS only and public addresses checked at connect
//! time for production providers), built with the broker's connect timeout.

use crate::config::ManifestConfig;
use crate::outbound::{HttpClient, OutboundConfig, ProviderClients};
use std::time::Duration;

pub use crate::outbound::{Body, BoxError};

/// One client per kind of provider; both pool connections per host.
#[derive(Clone)]
pub struct Upstreams {
    pub production: HttpClient,
    pub test: HttpClient,
}

impl Upstreams {
    /// The manifest section's roots and private-address exceptions, the broker's connect timeout.
    pub fn new(config: &ManifestConfig, connect_timeout: Duration) -> Result<Self, String> {
        let ProviderClients { production, test } = ProviderClients::new(&OutboundConfig {
            extra_roots: config.extra_roots.clone(),
            allow_private: config.allow_private.clone(),
            connect_timeout,
        })?;
        Ok(Self { production, test })
    }
}
