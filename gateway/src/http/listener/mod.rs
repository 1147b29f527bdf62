//! The accept loop every HTTP listener runs (public plain or TLS, metrics; SPEC §7): a connection
//! limit, the TLS handshake and request headers under a deadline, an idle timeout for connections
//! with no request in flight, back-off on accept errors, `ConnectInfo<SocketAddr>` for handlers,
//! HTTP/1.1 and HTTP/2 with upgrades, and on shutdown a drain of the requests in flight.

mod activity;

use activity::{Activity, InFlight};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

/// How long open connections may take to finish once shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause after an accept error that is not about one connection (EMFILE, ENFILE, ENOBUFS…).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What a client may hold of one listener (`server:` in the config).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_read: Duration,
    pub idle: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(c: &crate::config::ServerConfig) -> Self {
        Self {
            header_read: Duration::from_millis(c.header_read_timeout_ms),
            idle: Duration::from_millis(c.idle_timeout_ms),
            max_connections: c.max_connections,
        }
    }
}

/// Counters of one listener, rendered on `/metrics`.
#[derive(Debug)]
pub struct ListenerStats {
    pub name: &'static str,
    pub open: AtomicUsize,
    pub refused: AtomicU64,
    pub accept_errors: AtomicU64,
}

impl ListenerStats {
    pub fn new(name: &'static str) -> Arc<Self> {
        Arc::new(Self {
            name,
            open: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            accept_errors: AtomicU64::new(0),
        })
    }

    /// Takes a connection slot unless `max` are taken.
    fn take_slot(self: &Arc<Self>, max: usize) -> Option<Slot> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(self.clone()))
    }
}

/// One taken connection slot; given back on drop.
struct Slot(Arc<ListenerStats>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a listener serves: one response per request, never an error (a failure is an answer).
/// `peer` is the connection's remote address.
pub trait Handler: Clone + Send + Sync + 'static {
    fn handle(
        &self,
        request: http::Request<Incoming>,
        peer: SocketAddr,
    ) -> impl Future<Output = Response> + Send;
}

/// A plain router (the metrics listener, and `front` for every path but the broker's), whose
/// extractors read the peer as axum's `ConnectInfo`.
impl Handler for Router {
    fn handle(
        &self,
        mut request: http::Request<Incoming>,
        peer: SocketAddr,
    ) -> impl Future<Output = Response> + Send {
        request.extensions_mut().insert(ConnectInfo(peer));
        let mut router = self.clone();
        async move {
            match router.call(request.map(Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    }
}

/// One listener: the socket, TLS or not, and its counters.
pub struct Listener {
    pub tcp: TcpListener,
    pub tls: Option<TlsAcceptor>,
    pub stats: Arc<ListenerStats>,
}

/// Serves `handler` on `listener` until `shutdown` turns true, then waits (bounded) for the
/// connections' requests in flight.
pub async fn serve<H: Handler>(
    listener: Listener,
    handler: H,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let Listener { tcp, tls, stats } = listener;
    let mut builder = Builder::new(TokioExecutor::new());
    // HTTP/1.1's header-read deadline is the connection's `Activity` (hyper's own would arm and
    // disarm a boxed timer on every request).
    builder.http1().header_read_timeout(None);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    // Each connection holds a receiver; the drain ends when all are gone.
    let (drain_tx, drain_rx) = watch::channel(false);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            accepted = tcp.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(listener = stats.name, error = %e, "accept failed; pausing");
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let Some(slot) = stats.take_slot(limits.max_connections) else {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(listener = stats.name, %peer, "connection limit reached; closed");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = Counted {
            slot: Some(slot),
            io: stream,
        };
        let connection = Connection {
            peer,
            handler: handler.clone(),
            builder: builder.clone(),
            limits,
            drain: drain_rx.clone(),
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => connection.run(io).await,
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_read, acceptor.accept(io)).await {
                        Ok(Ok(stream)) => connection.run(stream).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(tcp);
    drop(drain_rx);
    let _ = drain_tx.send(true);
    if tokio::time::timeout(DRAIN_TIMEOUT, drain_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            listener = stats.name,
            "some connections were still open after {DRAIN_TIMEOUT:?}; closing them"
        );
    }
    Ok(())
}

/// Errors about one connection that went away before it was accepted: nothing to wait for.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One accepted connection and what serving it needs.
struct Connection<H> {
    peer: SocketAddr,
    handler: H,
    builder: Arc<Builder<TokioExecutor>>,
    limits: Limits,
    drain: watch::Receiver<bool>,
}

impl<H: Handler> Connection<H> {
    async fn run<I>(mut self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let peer = self.peer;
        let activity = Activity::new();
        let handler = self.handler.clone();
        let tracker = activity.clone();
        let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let in_flight = tracker.begin(request.version());
            let handler = handler.clone();
            async move {
                let response = handler.handle(request, peer).await;
                Ok::<_, Infallible>(response.map(|body| Tracked { body, in_flight }))
            }
        });
        let connection = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(io), service);
        tokio::pin!(connection);
        let expired = activity.expired(self.limits.header_read, self.limits.idle);
        tokio::pin!(expired);
        let mut closing = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                // No request in flight: nothing is lost by closing.
                () = &mut expired => {
                    tracing::debug!(%peer, "connection idle or too slow to send a request; closed");
                    return;
                }
                _ = self.drain.changed(), if !closing => {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// A response body that keeps its request counted as in flight until it is sent or dropped.
struct Tracked {
    body: Body,
    in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let _ = &self.in_flight;
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The TCP stream with its connection slot. The slot is given back before the socket is shut
/// down or closed (field order, and `poll_shutdown`), so a client that sees the close can
/// connect again at once.
struct Counted {
    slot: Option<Slot>,
    io: TcpStream,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.slot = None;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
