//! The gateway's own HTTPS: a rustls server configuration from PEM files (`tls.cert`, `tls.key`)
//! offering HTTP/2 and HTTP/1.1, whose certificate is reloaded without a restart on SIGHUP and when
//! the files change. The reload policy is provider-kit's `tls` module, the same for providers and
//! the gateway; this module only ties it to the gateway's shutdown.

use std::path::Path;
use std::sync::Arc;
use tokio::sync::watch;

pub use provider_kit::tls::{ReloadingCert, TlsError};

/// The public listener's certificate: what handshakes ask, and the configuration that asks it.
pub struct ServerTls {
    pub cert: Arc<ReloadingCert>,
    pub config: Arc<rustls::ServerConfig>,
}

/// Loads the pair now (unusable files are an error before anything listens).
pub fn reloading(cert: &Path, key: &Path) -> Result<ServerTls, TlsError> {
    let cert = ReloadingCert::load(cert, key)?;
    let config = cert.server_config()?;
    Ok(ServerTls { cert, config })
}

/// A server configuration from the pair, reloaded only by [`ReloadingCert::reload`] (test doubles).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    reloading(cert, key).map(|tls| tls.config)
}

/// Reloads `cert` on SIGHUP and when its files change until `stop` turns true.
pub async fn watch_until(cert: Arc<ReloadingCert>, mut stop: watch::Receiver<bool>) {
    tokio::select! {
        _ = stop.wait_for(|stop| *stop) => {}
        () = provider_kit::tls::watch(cert, provider_kit::tls::DEFAULT_POLL_INTERVAL) => {}
    }
}
