//! Serving a `Router` over TLS: [`TlsListener`] is an `axum::serve::Listener` whose `accept` runs
//! each handshake in its own task under a deadline, so a slow client holds up nobody else.

use super::{ReloadingCert, TlsError};
use axum::Router;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after an accept error that is not about one connection (EMFILE, ENFILE…).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

type Handshake = (
    Result<io::Result<TlsStream<TcpStream>>, tokio::time::error::Elapsed>,
    SocketAddr,
);

/// A TCP listener whose connections come out TLS-terminated.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Handshake>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, cert: &Arc<ReloadingCert>) -> Result<Self, TlsError> {
        Ok(Self {
            tcp,
            acceptor: TlsAcceptor::from(cert.server_config()?),
            handshakes: JoinSet::new(),
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let acceptor = self.acceptor.clone();
                        self.handshakes.spawn(async move {
                            (tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await, peer)
                        });
                    }
                    Err(e) if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) => {}
                    Err(error) => {
                        tracing::error!(%error, "accept failed; pausing");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
                Some(done) = self.handshakes.join_next() => match done {
                    Ok((Ok(Ok(stream)), peer)) => return (stream, peer),
                    Ok((Ok(Err(error)), peer)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                    Ok((Err(_), peer)) => tracing::debug!(%peer, "TLS handshake timed out"),
                    Err(error) => tracing::debug!(%error, "TLS handshake task ended"),
                },
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Serves `router` over TLS with `cert` (h2 and http/1.1) until `shutdown` resolves, then
/// finishes the requests in flight. Reloading is the caller's: run [`super::watch`] beside it,
/// or call [`ReloadingCert::reload`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    cert: Arc<ReloadingCert>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let listener = TlsListener::new(listener, &cert).map_err(io::Error::other)?;
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
