//! The gateway's own HTTPS: the rustls acceptor the listener runs each connection through (the
//! handshake is bounded by the listener's header-read timeout, `listener/mod.rs`).

use super::listener::{self, Limits, Listener, ListenerStats};
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub fn acceptor(config: Arc<rustls::ServerConfig>) -> TlsAcceptor {
    TlsAcceptor::from(config)
}

/// Serves `router` over TLS on `listener` with the default limits until `shutdown` resolves
/// (the gateway itself goes through `serve::serve`; test doubles use this).
pub async fn serve_tls(
    router: Router,
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let listener = Listener {
        tcp: listener,
        tls: Some(acceptor(config)),
        stats: ListenerStats::new("tls"),
    };
    let limits = Limits::from_config(&crate::config::ServerConfig::default());
    listener::serve(listener, router, limits, rx).await
}
