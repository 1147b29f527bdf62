//! The broker's upstream connections: an HTTP/1.1 pool where the request's own task drives its
//! connection (as pingora's does), instead of a per-connection dispatcher task reached through a
//! channel. A request takes an idle connection of its provider (the most recently used one, after
//! checking the provider has not closed it) or dials one through the outbound policy's connector
//! (address rule, TLS roots, connect timeout); polls that connection itself while it waits for the
//! response head; and hands it on to the response body, which polls it while the body streams and
//! gives it back to the pool once the body has ended on a connection that is ready for another
//! request. A connection is never shared by two requests at once, and never kept when its
//! response was not read to the end, the provider said `Connection: close`, or it failed.
//!
//! A request is retried on another connection only when hyper reports it was never written to
//! the kept-alive connection (the provider closed it while idle): nothing of it reached the
//! provider, so sending it again is safe whatever its method.
//!
//! WebSocket handshakes get a connection of their own, driven by a task of its own with upgrades
//! enabled, and never pooled.

use crate::hashing::FastMap;
use crate::outbound::{Body, BoxError, Connector};
use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Request, Response, Uri, header};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower_service::Service;

type Io = hyper_rustls::MaybeHttpsStream<hyper_util::rt::TokioIo<tokio::net::TcpStream>>;
type Conn = http1::Connection<Io, Body>;
type Sender = http1::SendRequest<Body>;

/// How long an idle connection is kept.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Idle connections kept per provider address.
pub const MAX_IDLE_PER_HOST: usize = 256;

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("connecting: {0}")]
    Connect(BoxError),
    #[error(transparent)]
    Http(#[from] hyper::Error),
    #[error("the upstream URI has no scheme or host")]
    NoAuthority,
}

/// One provider address: scheme and authority, compared and hashed as the exact text the
/// provider's metadata gives (`Authority`'s own `Hash` lowercases byte by byte, which cost more
/// than the rest of a pool lookup; a provider's address is always spelled the same way).
#[derive(Clone)]
struct Key {
    https: bool,
    authority: Authority,
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.https == other.https && self.authority.as_str() == other.authority.as_str()
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.https.hash(state);
        self.authority.as_str().hash(state);
    }
}

/// What the pool keeps per address: its idle connections (oldest first) and its `Host` value.
struct Host {
    idle: VecDeque<Idle>,
    host: HeaderValue,
}

/// A connection: its sender and its future (boxed: moved between the pool and the requests).
struct Pair {
    sender: Sender,
    conn: Conn,
    key: Key,
}

/// An idle connection, which nobody polls while it waits.
struct Idle {
    pair: Box<Pair>,
    since: Instant,
}

struct Inner {
    connector: Connector,
    hosts: Mutex<FastMap<Key, Host>>,
}

/// The pool of one kind of provider (its connector holds the address rule).
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

impl Pool {
    pub fn new(connector: Connector) -> Self {
        Self {
            inner: Arc::new(Inner {
                connector,
                hosts: Mutex::new(FastMap::default()),
            }),
        }
    }

    /// Idle connections kept for `uri`'s address.
    #[cfg(test)]
    fn idle(&self, uri: &Uri) -> usize {
        key(uri).map_or(0, |k| self.inner.lock().get(&k).map_or(0, |h| h.idle.len()))
    }

    /// Sends `request` (absolute URI) as HTTP/1.1 and returns the response once its head arrived;
    /// the body streams from the connection, which the body itself drives.
    pub async fn send(
        &self,
        mut request: Request<Body>,
    ) -> Result<Response<UpstreamBody>, PoolError> {
        let key = key(request.uri()).ok_or(PoolError::NoAuthority)?;
        let host = self.inner.host_value(&key);
        let uri = request.uri().clone();
        *request.uri_mut() = origin_form(&uri);
        *request.version_mut() = http::Version::HTTP_11;
        request.headers_mut().insert(header::HOST, host);
        if super::request_headers::is_websocket_upgrade(request.headers()) {
            return self.send_upgrade(&uri, request).await;
        }
        loop {
            let (mut pair, reused) = match self.inner.checkout(&key).await {
                Some(pair) => (pair, true),
                None => (self.dial(&uri, &key).await?, false),
            };
            let mut sent = std::pin::pin!(pair.sender.try_send_request(request));
            let mut open = true;
            let response = poll_fn(|cx| {
                if open && Pin::new(&mut pair.conn).poll(cx).is_ready() {
                    // Done (closed or failed): a request still waiting on it gets its error.
                    open = false;
                }
                sent.as_mut().poll(cx)
            })
            .await;
            match response {
                Ok(response) => {
                    let lease = open.then(|| Lease {
                        pair,
                        pool: self.inner.clone(),
                    });
                    return Ok(response.map(|body| UpstreamBody::new(body, lease)));
                }
                Err(mut e) => match e.take_message() {
                    // Never written: a kept-alive connection the provider had closed.
                    Some(unsent) if reused => {
                        tracing::debug!(error = %e.error(), "kept-alive connection was closed; retrying");
                        request = unsent;
                    }
                    _ => return Err(PoolError::Http(e.into_error())),
                },
            }
        }
    }

    /// A WebSocket handshake: a connection of its own, driven by its own task so that the
    /// upgraded stream outlives the response.
    async fn send_upgrade(
        &self,
        uri: &Uri,
        request: Request<Body>,
    ) -> Result<Response<UpstreamBody>, PoolError> {
        let key = key(uri).ok_or(PoolError::NoAuthority)?;
        let Pair {
            mut sender, conn, ..
        } = *self.dial(uri, &key).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "upstream upgrade connection ended");
            }
        });
        let response = sender.send_request(request).await?;
        Ok(response.map(|body| UpstreamBody::new(body, None)))
    }

    async fn dial(&self, uri: &Uri, key: &Key) -> Result<Box<Pair>, PoolError> {
        let mut connector = self.inner.connector.clone();
        poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(PoolError::Connect)?;
        let io = connector
            .call(uri.clone())
            .await
            .map_err(PoolError::Connect)?;
        let (sender, conn) = http1::Builder::new().handshake(io).await?;
        Ok(Box::new(Pair {
            sender,
            conn,
            key: key.clone(),
        }))
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, FastMap<Key, Host>> {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `Host` header for `key`, as hyper's client writes it: the port only when it is not the
    /// scheme's default. Made once per address.
    fn host_value(&self, key: &Key) -> HeaderValue {
        if let Some(h) = self.lock().get(key) {
            return h.host.clone();
        }
        let default = if key.https { 443 } else { 80 };
        let text = match key.authority.port_u16() {
            Some(p) if p != default => format!("{}:{p}", key.authority.host()),
            _ => key.authority.host().to_owned(),
        };
        let host = HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""));
        self.lock()
            .entry(key.clone())
            .or_insert_with(|| Host {
                idle: VecDeque::new(),
                host: host.clone(),
            })
            .host
            .clone()
    }

    /// The most recently used idle connection of `key` that is still open.
    async fn checkout(&self, key: &Key) -> Option<Box<Pair>> {
        loop {
            let mut idle = {
                let mut hosts = self.lock();
                let host = hosts.get_mut(key)?;
                host.idle.pop_back()?
            };
            if idle.since.elapsed() >= IDLE_TIMEOUT {
                // Everything before it is older still.
                if let Some(host) = self.lock().get_mut(key) {
                    host.idle.clear();
                }
                return None;
            }
            // One poll tells whether the provider closed it while it was idle (EOF, or bytes it
            // should not have sent): then the connection future is done.
            let open = tokio::task::unconstrained(poll_fn(|cx| {
                Poll::Ready(Pin::new(&mut idle.pair.conn).poll(cx).is_pending())
            }))
            .await;
            if open && idle.pair.sender.is_ready() {
                return Some(idle.pair);
            }
        }
    }

    /// Keeps a connection whose exchange is complete, if it can take another request.
    fn checkin(&self, mut pair: Box<Pair>) {
        // The dispatcher notices the exchange ended (and asks for the next request) when polled.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if Pin::new(&mut pair.conn).poll(&mut cx).is_ready() || !pair.sender.is_ready() {
            return;
        }
        let now = Instant::now();
        let mut hosts = self.lock();
        let Some(host) = hosts.get_mut(&pair.key) else {
            return;
        };
        while host
            .idle
            .front()
            .is_some_and(|i| now.duration_since(i.since) >= IDLE_TIMEOUT)
        {
            host.idle.pop_front();
        }
        if host.idle.len() < MAX_IDLE_PER_HOST {
            host.idle.push_back(Idle { pair, since: now });
        }
    }
}

/// A connection lent to one exchange, back to the pool when its response body has ended.
struct Lease {
    pair: Box<Pair>,
    pool: Arc<Inner>,
}

/// A provider's response body: hyper's, plus the connection it arrives on, which polling the body
/// drives.
pub struct UpstreamBody {
    inner: Incoming,
    lease: Option<Lease>,
    ended: bool,
}

impl UpstreamBody {
    fn new(inner: Incoming, lease: Option<Lease>) -> Self {
        let mut body = Self {
            inner,
            lease,
            ended: false,
        };
        // No body at all (204, HEAD, `Content-Length: 0`): the server may never poll it.
        if http_body::Body::is_end_stream(&body.inner) {
            body.end();
        }
        body
    }

    fn end(&mut self) {
        self.ended = true;
        if let Some(Lease { pair, pool }) = self.lease.take() {
            pool.checkin(pair);
        }
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        // A body dropped before its end leaves the connection mid-response: it closes with the
        // lease. One dropped right at its end (its last frame read) can still be reused.
        if !self.ended && http_body::Body::is_end_stream(&self.inner) {
            self.end();
        }
    }
}

impl http_body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        if let Some(lease) = this.lease.as_mut()
            && Pin::new(&mut lease.pair.conn).poll(cx).is_ready()
        {
            // Closed (or failed): whatever the body still holds arrives, then it ends.
            this.lease = None;
        }
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        match &frame {
            Poll::Ready(None) => this.end(),
            Poll::Ready(Some(Err(_))) => this.lease = None,
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.end(),
            _ => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn key(uri: &Uri) -> Option<Key> {
    let https = match uri.scheme() {
        Some(s) if *s == Scheme::HTTPS => true,
        Some(s) if *s == Scheme::HTTP => false,
        _ => return None,
    };
    Some(Key {
        https,
        authority: uri.authority()?.clone(),
    })
}

/// `/path?query` of an absolute URI: what an HTTP/1.1 request line carries.
fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(pq) if pq.as_str() != "/" || uri.query().is_some() => Uri::from(pq.clone()),
        _ => Uri::from_static("/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::AddressRule;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    fn pool() -> Pool {
        let tls = crate::outbound::client_tls(&[]).unwrap();
        let connector =
            crate::outbound::connector(tls, AddressRule::Any, Duration::from_secs(2), true, true);
        Pool::new(connector)
    }

    fn get(url: &str) -> Request<Body> {
        Request::get(url).body(Body::default()).unwrap()
    }

    async fn text(response: Response<UpstreamBody>) -> String {
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    /// Reads one request head from `stream`; `None` at EOF.
    async fn read_head(stream: &mut TcpStream) -> Option<String> {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await.ok()? == 0 {
                return None;
            }
            head.push(byte[0]);
        }
        Some(String::from_utf8(head).unwrap())
    }

    /// A scripted HTTP/1.1 upstream: `answer(n, head)` is the raw response to the n-th request of a
    /// connection and whether to close after it. Counts connections and requests.
    struct Scripted {
        url: String,
        connections: Arc<AtomicUsize>,
        requests: Arc<AtomicUsize>,
    }

    async fn scripted(answer: fn(usize, &str) -> (String, bool)) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (c, r) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                c.fetch_add(1, Ordering::SeqCst);
                let r = r.clone();
                tokio::spawn(async move {
                    let mut n = 0;
                    while let Some(head) = read_head(&mut stream).await {
                        r.fetch_add(1, Ordering::SeqCst);
                        let (response, close) = answer(n, &head);
                        n += 1;
                        stream.write_all(response.as_bytes()).await.unwrap();
                        if close {
                            return;
                        }
                    }
                });
            }
        });
        Scripted {
            url,
            connections,
            requests,
        }
    }

    fn ok(body: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn a_kept_alive_connection_is_reused_with_the_host_and_origin_form_it_needs() {
        let up = scripted(|n, head| {
            assert!(head.starts_with("GET /a/b?c=d HTTP/1.1\r\n"), "{head}");
            assert!(
                head.to_ascii_lowercase().contains("\r\nhost: 127.0.0.1:"),
                "{head}"
            );
            (ok(&format!("answer {n}")), false)
        })
        .await;
        let pool = pool();
        let url = format!("{}/a/b?c=d", up.url);
        for n in 0..3 {
            let response = pool.send(get(&url)).await.unwrap();
            assert_eq!(text(response).await, format!("answer {n}"));
            assert_eq!(
                pool.idle(&url.parse().unwrap()),
                1,
                "kept after the body ended"
            );
        }
        assert_eq!(
            up.connections.load(Ordering::SeqCst),
            1,
            "one connection for all three"
        );
    }

    #[tokio::test]
    async fn a_connection_the_provider_closed_while_idle_is_not_reused() {
        // Answers with keep-alive, then closes anyway.
        let up = scripted(|_, _| (ok("once"), true)).await;
        let pool = pool();
        let url = format!("{}/x", up.url);
        for _ in 0..3 {
            let response = pool.send(get(&url)).await.unwrap();
            assert_eq!(text(response).await, "once");
            // Let the provider's FIN arrive before the next checkout.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(up.connections.load(Ordering::SeqCst), 3);
        assert_eq!(
            up.requests.load(Ordering::SeqCst),
            3,
            "each request sent once"
        );
    }

    #[tokio::test]
    async fn a_connection_close_answer_is_not_pooled() {
        let up = scripted(|_, _| {
            let body = "bye";
            (
                format!(
                    "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                ),
                true,
            )
        })
        .await;
        let pool = pool();
        let url = format!("{}/x", up.url);
        for _ in 0..2 {
            let response = pool.send(get(&url)).await.unwrap();
            assert_eq!(text(response).await, "bye");
            assert_eq!(pool.idle(&url.parse().unwrap()), 0);
        }
        assert_eq!(up.connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_request_the_provider_received_is_not_retried_when_it_hangs_up() {
        // The first request of every connection gets an answer; the second is read, then the
        // connection is closed without one.
        let up = scripted(|n, _| {
            if n == 0 {
                (ok("first"), false)
            } else {
                (String::new(), true)
            }
        })
        .await;
        let pool = pool();
        let url = format!("{}/x", up.url);
        assert_eq!(text(pool.send(get(&url)).await.unwrap()).await, "first");
        let refused = pool
            .send(Request::post(&url).body(Body::default()).unwrap())
            .await;
        assert!(
            matches!(refused, Err(PoolError::Http(_))),
            "an error, not a retry"
        );
        assert_eq!(
            up.requests.load(Ordering::SeqCst),
            2,
            "the POST reached the provider once"
        );
        assert_eq!(up.connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_closes_its_connection() {
        let up = scripted(|_, _| {
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\npartial".to_owned(),
                false,
            )
        })
        .await;
        let pool = pool();
        let url = format!("{}/x", up.url);
        let response = pool.send(get(&url)).await.unwrap();
        drop(response);
        assert_eq!(pool.idle(&url.parse().unwrap()), 0);
    }

    #[tokio::test]
    async fn bodies_stream_both_ways_on_a_connection_kept_for_the_next_request() {
        use axum::routing::post;
        // Echoes the request body back chunk by chunk, as it arrives.
        let app = axum::Router::new().route(
            "/echo",
            post(|body: axum::body::Body| async move { axum::body::Body::new(body) }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/echo", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let pool = pool();
        for round in 0..2 {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(1);
            let body = http_body_util::StreamBody::new(tokio_stream(rx));
            let request = Request::post(&url).body(body.boxed_unsync()).unwrap();
            tx.send(Ok(Frame::data(Bytes::from("ping "))))
                .await
                .unwrap();
            let response = pool.send(request).await.unwrap();
            let mut body = response.into_body();
            // The first chunk comes back before the request body has ended: both directions stream.
            let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
            assert_eq!(first, "ping ", "round {round}");
            tx.send(Ok(Frame::data(Bytes::from("pong")))).await.unwrap();
            drop(tx);
            let rest = body.collect().await.unwrap().to_bytes();
            assert_eq!(rest, "pong");
        }
        assert_eq!(pool.idle(&url.parse().unwrap()), 1);
    }

    /// An mpsc receiver as a stream (no tokio-stream dependency).
    fn tokio_stream<T>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> {
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }

    #[tokio::test]
    async fn an_upstream_that_cannot_be_reached_is_a_connect_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        drop(listener);
        let refused = pool().send(get(&url)).await;
        assert!(matches!(refused, Err(PoolError::Connect(_))));
    }
}
