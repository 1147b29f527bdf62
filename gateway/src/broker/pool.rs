//! The broker's upstream connections: an HTTP/1.1 pool where the request's own task drives its
//! connection (as pingora's does), speaking the wire format of `h1` itself. A request takes an idle
//! connection of its provider (the most recently used one, after checking the provider has not
//! closed it) or dials one through the outbound policy's connector (address rule, TLS roots,
//! connect timeout); writes its head (and its body, while it also reads) and reads the response
//! head in its own task; and hands the connection on to the response body, which goes on sending
//! what is left of the request body, reads the response body, and gives the connection back to
//! the pool once both have ended on a connection that can take another request. No channel, no
//! dispatcher task, no per-request read buffer: one buffer per connection. A connection is never
//! shared by two requests at once, and never kept when its response was not read to the end, its
//! request body was not sent to the end, the provider said `Connection: close`, it sent bytes
//! after its response, or anything failed.
//!
//! A request is retried on another connection only when not one byte of it was written to the
//! kept-alive connection it took (the provider had closed it): nothing of it reached the
//! provider, so sending it again is safe whatever its method.
//!
//! WebSocket handshakes get a connection of their own through hyper's client, driven by a task of
//! its own with upgrades enabled, and never pooled.

use super::h1::{self, ChunkedDecoder, Decoded, Framing, RequestFraming, WireError};
use crate::hashing::FastMap;
use crate::outbound::{Body, BoxError, Connector};
use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Method, Request, Response, Uri, header};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::rt::{Read, Write};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};
use tower_service::Service;

type Io = hyper_rustls::MaybeHttpsStream<hyper_util::rt::TokioIo<tokio::net::TcpStream>>;

/// How long an idle connection is kept.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Idle connections kept per provider address.
pub const MAX_IDLE_PER_HOST: usize = 256;
/// A connection's read buffer, and the most it grows to (a head of `h1::MAX_HEAD` and a read).
const READ_BUF: usize = 16 * 1024;
const MAX_READ_BUF: usize = h1::MAX_HEAD + READ_BUF;
/// A connection's write buffer to begin with: a request head with a service token fits.
const WRITE_BUF: usize = 4 * 1024;

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("connecting: {0}")]
    Connect(BoxError),
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A WebSocket handshake, which goes through hyper's client.
    #[error(transparent)]
    Upgrade(#[from] hyper::Error),
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

/// One connection to a provider: its stream, its write buffer (lent to the request being
/// written) and its read buffer (`start..end` unread).
struct Conn {
    io: Io,
    key: Key,
    out: Vec<u8>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// An idle connection, which nobody polls while it waits.
struct Idle {
    conn: Box<Conn>,
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
    /// the body streams from the connection, which the body itself drives. `websocket`: the
    /// request is a WebSocket handshake (as `request_headers::prepare` found).
    pub async fn send(
        &self,
        mut request: Request<Body>,
        websocket: bool,
    ) -> Result<Response<UpstreamBody>, PoolError> {
        let key = key(request.uri()).ok_or(PoolError::NoAuthority)?;
        let host = self.inner.host_value(&key);
        request.headers_mut().insert(header::HOST, host);
        if websocket {
            return self.send_upgrade(request).await;
        }
        let (parts, body) = request.into_parts();
        let framing = if parts.headers.contains_key(header::CONTENT_LENGTH) {
            RequestFraming::Length
        } else if http_body::Body::is_end_stream(&body) {
            RequestFraming::None
        } else {
            RequestFraming::Chunked
        };
        let target = match parts.uri.path_and_query().map(|pq| pq.as_str()) {
            Some(pq) if !pq.is_empty() => pq,
            _ => "/",
        };
        let mut body = (framing != RequestFraming::None).then_some(body);
        // Encoded into the first connection's write buffer, and kept for a retry.
        let mut encoded: Option<Sending> = None;
        loop {
            let (mut conn, reused) = match self.inner.checkout(&key).await {
                Some(conn) => (conn, true),
                None => (self.dial(&parts.uri, &key).await?, false),
            };
            let sending = encoded.get_or_insert_with(|| {
                let mut out = std::mem::take(&mut conn.out);
                h1::encode_head(&parts.method, target, &parts.headers, framing, &mut out);
                Sending {
                    out,
                    written: 0,
                    wrote_any: false,
                    unflushed: false,
                    body: body.take(),
                    chunked: framing == RequestFraming::Chunked,
                }
            });
            let method = &parts.method;
            let mut sent = false;
            let head = poll_fn(|cx| {
                if !sent {
                    match sending.poll(&mut conn, cx) {
                        Poll::Ready(Ok(())) => sent = true,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => {}
                    }
                }
                conn.poll_head(method, cx)
            })
            .await;
            match head {
                Ok(head) => {
                    let exchange = Exchange {
                        conn,
                        pool: self.inner.clone(),
                        sending: encoded.take().filter(|_| !sent),
                        keep_alive: head.keep_alive,
                    };
                    let mut response = Response::new(UpstreamBody::own(exchange, head.framing));
                    *response.status_mut() = head.status;
                    *response.version_mut() = head.version;
                    *response.headers_mut() = head.headers;
                    return Ok(response);
                }
                // Not a byte written: a kept-alive connection the provider had closed.
                Err(e) if reused && !sending.wrote_any => {
                    tracing::debug!(error = %e, "kept-alive connection was closed; retrying");
                }
                Err(e) => return Err(PoolError::Wire(e)),
            }
        }
    }

    /// A WebSocket handshake: a connection of its own, driven by its own task so that the
    /// upgraded stream outlives the response.
    async fn send_upgrade(
        &self,
        mut request: Request<Body>,
    ) -> Result<Response<UpstreamBody>, PoolError> {
        let io = self.connect(request.uri()).await?;
        *request.uri_mut() = origin_form(request.uri());
        *request.version_mut() = http::Version::HTTP_11;
        let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(io)
            .await?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "upstream upgrade connection ended");
            }
        });
        let response = sender.send_request(request).await?;
        Ok(response.map(|body| UpstreamBody(Kind::Upgrade(body))))
    }

    /// A new connection to `uri`'s address through the outbound policy's connector.
    async fn connect(&self, uri: &Uri) -> Result<Io, PoolError> {
        let mut connector = self.inner.connector.clone();
        poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(PoolError::Connect)?;
        connector
            .call(uri.clone())
            .await
            .map_err(PoolError::Connect)
    }

    async fn dial(&self, uri: &Uri, key: &Key) -> Result<Box<Conn>, PoolError> {
        Ok(Box::new(Conn {
            io: self.connect(uri).await?,
            key: key.clone(),
            out: Vec::with_capacity(WRITE_BUF),
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
        }))
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, FastMap<Key, Host>> {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `Host` header for `key`: the port only when it is not the scheme's default. Made once
    /// per address.
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
    async fn checkout(&self, key: &Key) -> Option<Box<Conn>> {
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
            // One read tells whether the provider closed it while it was idle (EOF, or bytes it
            // should not have sent).
            let open = tokio::task::unconstrained(poll_fn(|cx| {
                Poll::Ready(idle.conn.poll_fill(cx).is_pending())
            }))
            .await;
            if open {
                return Some(idle.conn);
            }
        }
    }

    /// Keeps a connection whose exchange is complete.
    fn checkin(&self, conn: Box<Conn>) {
        let now = Instant::now();
        let mut hosts = self.lock();
        let Some(host) = hosts.get_mut(&conn.key) else {
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
            host.idle.push_back(Idle { conn, since: now });
        }
    }
}

impl Conn {
    fn unread(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
    }

    /// Reads more into the buffer; `Ok(0)` at EOF.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            } else if self.buf.len() < MAX_READ_BUF {
                let grown = (self.buf.len() * 2).min(MAX_READ_BUF);
                self.buf.resize(grown, 0);
            } else {
                // Only a head can fill it, and `h1` refuses one this long before it does.
                return Poll::Ready(Err(io::Error::other("the read buffer is full")));
            }
        }
        let mut read = hyper::rt::ReadBuf::new(&mut self.buf[self.end..]);
        ready!(Pin::new(&mut self.io).poll_read(cx, read.unfilled()))?;
        let n = read.filled().len();
        self.end += n;
        Poll::Ready(Ok(n))
    }

    /// Reads until a whole response head (interim responses skipped) is in.
    fn poll_head(
        &mut self,
        method: &Method,
        cx: &mut Context<'_>,
    ) -> Poll<Result<h1::ResponseHead, WireError>> {
        loop {
            if let Some((head, n)) = h1::parse_head(self.unread(), method)? {
                self.consume(n);
                return Poll::Ready(Ok(head));
            }
            if ready!(self.poll_fill(cx))? == 0 {
                return Poll::Ready(Err(WireError::ClosedBeforeResponse));
            }
        }
    }
}

/// What is left of a request to write: encoded bytes, then the body's frames.
struct Sending {
    out: Vec<u8>,
    written: usize,
    /// Whether any byte reached the connection (then the request is never sent again).
    wrote_any: bool,
    unflushed: bool,
    body: Option<Body>,
    chunked: bool,
}

impl Sending {
    /// Writes what it can; `Ready(Ok)` once all of the request is written and flushed.
    fn poll(&mut self, conn: &mut Conn, cx: &mut Context<'_>) -> Poll<Result<(), WireError>> {
        loop {
            while self.written < self.out.len() {
                let n = ready!(Pin::new(&mut conn.io).poll_write(cx, &self.out[self.written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()));
                }
                self.written += n;
                self.wrote_any = true;
                self.unflushed = true;
            }
            self.out.clear();
            self.written = 0;
            let Some(body) = self.body.as_mut() else {
                break;
            };
            match http_body::Body::poll_frame(Pin::new(body), cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    // Trailers of a request body are not forwarded.
                    if let Ok(data) = frame.into_data() {
                        if self.chunked {
                            h1::encode_chunk(&data, &mut self.out);
                        } else {
                            self.out.extend_from_slice(&data);
                        }
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(WireError::RequestBody(e))),
                Poll::Ready(None) => {
                    if self.chunked {
                        self.out.extend_from_slice(h1::LAST_CHUNK);
                    }
                    self.body = None;
                }
                Poll::Pending => {
                    // What was written reaches the provider while the body waits.
                    if let Poll::Ready(Err(e)) = self.poll_flush(conn, cx) {
                        return Poll::Ready(Err(e.into()));
                    }
                    return Poll::Pending;
                }
            }
        }
        ready!(self.poll_flush(conn, cx))?;
        // The buffer goes back to the connection for its next request.
        conn.out = std::mem::take(&mut self.out);
        Poll::Ready(Ok(()))
    }

    fn poll_flush(&mut self, conn: &mut Conn, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.unflushed {
            ready!(Pin::new(&mut conn.io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }
}

/// A connection lent to one exchange whose response head has arrived.
struct Exchange {
    conn: Box<Conn>,
    pool: Arc<Inner>,
    /// What is left of the request body, when the provider answered before it was all sent.
    sending: Option<Sending>,
    keep_alive: bool,
}

/// Where a response body stands.
enum Reading {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
    Done,
}

/// A provider's response body, read from the connection it arrives on; the connection goes back
/// to the pool when the body has ended.
pub struct UpstreamBody(Kind);

enum Kind {
    Own {
        exchange: Option<Exchange>,
        reading: Reading,
    },
    /// A WebSocket handshake's answer, from hyper's client.
    Upgrade(Incoming),
}

impl UpstreamBody {
    fn own(exchange: Exchange, framing: Framing) -> Self {
        let reading = match framing {
            Framing::Empty => Reading::Done,
            Framing::Length(n) => Reading::Length(n),
            Framing::Chunked => Reading::Chunked(ChunkedDecoder::default()),
            Framing::UntilClose => Reading::UntilClose,
        };
        let mut body = Self(Kind::Own {
            exchange: Some(exchange),
            reading,
        });
        // No body at all (204, HEAD, `Content-Length: 0`): the server may never poll it.
        if let Kind::Own {
            exchange,
            reading: Reading::Done,
        } = &mut body.0
        {
            end(exchange);
        }
        body
    }
}

/// The response body has ended: the connection goes back to the pool if it can take another
/// request (the request all sent, keep-alive, nothing unread), else it closes.
fn end(exchange: &mut Option<Exchange>) {
    let Some(Exchange {
        mut conn,
        pool,
        sending,
        keep_alive,
    }) = exchange.take()
    else {
        return;
    };
    // A request body still in flight is finished only if that needs no waiting.
    let sent = match sending {
        None => true,
        Some(mut s) => {
            let mut cx = Context::from_waker(std::task::Waker::noop());
            matches!(s.poll(&mut conn, &mut cx), Poll::Ready(Ok(())))
        }
    };
    if sent && keep_alive && conn.unread().is_empty() {
        pool.checkin(conn);
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        // A body dropped before its end leaves the connection mid-response: it closes. One whose
        // end is already buffered (a chunked body's last chunk) can still be reused.
        if let Kind::Own {
            exchange,
            reading: Reading::Chunked(decoder),
        } = &mut self.0
        {
            let ended =
                exchange
                    .as_mut()
                    .is_some_and(|ex| match decoder.decode(ex.conn.unread()) {
                        Ok(Decoded::Done(n)) => {
                            ex.conn.consume(n);
                            true
                        }
                        _ => false,
                    });
            if ended {
                end(exchange);
            }
        }
    }
}

impl http_body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.0 {
            Kind::Upgrade(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Kind::Own { exchange, reading } => {
                let frame = poll_own(exchange, reading, cx);
                if let Poll::Ready(Some(Err(_))) = &frame {
                    // Failed mid-body: the connection closes.
                    *exchange = None;
                    *reading = Reading::Done;
                }
                frame.map_err(Into::into)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Upgrade(body) => body.is_end_stream(),
            Kind::Own { reading, .. } => matches!(reading, Reading::Done),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Upgrade(body) => body.size_hint(),
            Kind::Own { reading, .. } => match reading {
                Reading::Done => SizeHint::with_exact(0),
                Reading::Length(n) => SizeHint::with_exact(*n),
                Reading::Chunked(_) | Reading::UntilClose => SizeHint::default(),
            },
        }
    }
}

/// The next frame of a response body read by the pool: what is buffered first, then reads.
fn poll_own(
    exchange: &mut Option<Exchange>,
    reading: &mut Reading,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Frame<Bytes>, WireError>>> {
    let Some(ex) = exchange.as_mut() else {
        return Poll::Ready(None);
    };
    // The rest of the request body goes on while the response arrives. A provider that stopped
    // reading it has answered anyway; the connection just cannot be reused.
    if let Some(sending) = ex.sending.as_mut() {
        match sending.poll(&mut ex.conn, cx) {
            Poll::Ready(Ok(())) => ex.sending = None,
            Poll::Ready(Err(e)) => {
                tracing::debug!(error = %e, "the rest of the request body was not sent");
                ex.sending = None;
                ex.keep_alive = false;
            }
            Poll::Pending => {}
        }
    }
    loop {
        match reading {
            Reading::Done => return Poll::Ready(None),
            Reading::Length(left) => {
                if ex.conn.unread().is_empty() && ready!(ex.conn.poll_fill(cx))? == 0 {
                    return Poll::Ready(Some(Err(WireError::IncompleteBody)));
                }
                let unread = ex.conn.unread();
                let n = usize::try_from(*left).map_or(unread.len(), |l| l.min(unread.len()));
                let data = Bytes::copy_from_slice(&unread[..n]);
                ex.conn.consume(n);
                *left -= n as u64;
                if *left == 0 {
                    *reading = Reading::Done;
                    end(exchange);
                }
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            Reading::Chunked(decoder) => match decoder.decode(ex.conn.unread())? {
                Decoded::Data { start, end } => {
                    let data = Bytes::copy_from_slice(&ex.conn.unread()[start..end]);
                    ex.conn.consume(end);
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Decoded::Done(n) => {
                    ex.conn.consume(n);
                    *reading = Reading::Done;
                    end(exchange);
                    return Poll::Ready(None);
                }
                Decoded::NeedMore(n) => {
                    ex.conn.consume(n);
                    if ready!(ex.conn.poll_fill(cx))? == 0 {
                        return Poll::Ready(Some(Err(WireError::IncompleteBody)));
                    }
                }
            },
            Reading::UntilClose => {
                if ex.conn.unread().is_empty() && ready!(ex.conn.poll_fill(cx))? == 0 {
                    // The end of the body, and of the connection.
                    *reading = Reading::Done;
                    *exchange = None;
                    return Poll::Ready(None);
                }
                let data = Bytes::copy_from_slice(ex.conn.unread());
                let n = data.len();
                ex.conn.consume(n);
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
        }
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
            let response = pool.send(get(&url), false).await.unwrap();
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
            let response = pool.send(get(&url), false).await.unwrap();
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
            let response = pool.send(get(&url), false).await.unwrap();
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
        assert_eq!(
            text(pool.send(get(&url), false).await.unwrap()).await,
            "first"
        );
        let refused = pool
            .send(Request::post(&url).body(Body::default()).unwrap(), false)
            .await;
        assert!(
            matches!(
                refused,
                Err(PoolError::Wire(WireError::ClosedBeforeResponse))
            ),
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
    async fn a_response_that_could_be_read_two_ways_is_refused_and_its_connection_closed() {
        // Content-Length and Transfer-Encoding both: two readers could disagree where it ends.
        let up = scripted(|_, head| {
            if head.starts_with("GET /x ") {
                (
                    "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n".to_owned(),
                    false,
                )
            } else {
                (ok("second"), false)
            }
        })
        .await;
        let pool = pool();
        let url = format!("{}/x", up.url);
        let refused = pool.send(get(&url), false).await;
        assert!(
            matches!(refused, Err(PoolError::Wire(WireError::BadResponse(_)))),
            "{:?}",
            refused.err()
        );
        assert_eq!(pool.idle(&url.parse().unwrap()), 0);
        let next = format!("{}/y", up.url);
        assert_eq!(
            text(pool.send(get(&next), false).await.unwrap()).await,
            "second"
        );
        assert_eq!(up.connections.load(Ordering::SeqCst), 2, "a new connection");
    }

    #[tokio::test]
    async fn bytes_a_provider_sends_after_its_response_never_answer_the_next_request() {
        // A response, then a second one nobody asked for, in the same write.
        let up = scripted(|n, _| {
            let injected = "HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\ninjected";
            (format!("{}{injected}", ok(&format!("answer {n}"))), false)
        })
        .await;
        let pool = pool();
        let url = format!("{}/x", up.url);
        assert_eq!(
            text(pool.send(get(&url), false).await.unwrap()).await,
            "answer 0"
        );
        assert_eq!(pool.idle(&url.parse().unwrap()), 0, "not kept");
        assert_eq!(
            text(pool.send(get(&url), false).await.unwrap()).await,
            "answer 0"
        );
        assert_eq!(up.connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_body_cut_short_is_an_error_not_an_end() {
        let up = scripted(|_, _| {
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort".to_owned(),
                true,
            )
        })
        .await;
        let pool = pool();
        let url = format!("{}/x", up.url);
        let body = pool.send(get(&url), false).await.unwrap().into_body();
        assert!(body.collect().await.is_err(), "5 of 10 bytes, then EOF");
        let chunked = scripted(|_, _| {
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel".to_owned(),
                true,
            )
        })
        .await;
        let body = pool
            .send(get(&format!("{}/x", chunked.url)), false)
            .await
            .unwrap()
            .into_body();
        assert!(body.collect().await.is_err(), "a chunk cut short");
    }

    #[tokio::test]
    async fn chunked_and_until_close_bodies_arrive_whole() {
        let up = scripted(|n, _| {
            if n == 0 {
                (
                    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nx-t: 1\r\n\r\n".to_owned(),
                    false,
                )
            } else {
                ("HTTP/1.1 200 OK\r\n\r\nuntil the end".to_owned(), true)
            }
        })
        .await;
        let pool = pool();
        let url = format!("{}/x", up.url);
        assert_eq!(
            text(pool.send(get(&url), false).await.unwrap()).await,
            "abcde"
        );
        assert_eq!(
            pool.idle(&url.parse().unwrap()),
            1,
            "a chunked body ends cleanly"
        );
        assert_eq!(
            text(pool.send(get(&url), false).await.unwrap()).await,
            "until the end"
        );
        assert_eq!(pool.idle(&url.parse().unwrap()), 0, "closed with its body");
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
        let response = pool.send(get(&url), false).await.unwrap();
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

        echo_twice(&pool(), &url).await;
    }

    /// Two requests to an echo at `url`, each body sent in two chunks: the first chunk comes back
    /// before the request body has ended (both directions stream), and the connection is kept.
    async fn echo_twice(pool: &Pool, url: &str) {
        for round in 0..2 {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(1);
            let body = http_body_util::StreamBody::new(tokio_stream(rx));
            let request = Request::post(url).body(body.boxed_unsync()).unwrap();
            tx.send(Ok(Frame::data(Bytes::from("ping "))))
                .await
                .unwrap();
            let response = pool.send(request, false).await.unwrap();
            let mut body = response.into_body();
            let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
            assert_eq!(first, "ping ", "round {round}");
            tx.send(Ok(Frame::data(Bytes::from("pong")))).await.unwrap();
            drop(tx);
            let rest = body.collect().await.unwrap().to_bytes();
            assert_eq!(rest, "pong", "round {round}");
            assert_eq!(pool.idle(&url.parse().unwrap()), 1, "round {round}: kept");
        }
    }

    #[tokio::test]
    async fn over_tls_bodies_stream_both_ways_and_the_connection_is_kept() {
        // The dev CA and a server certificate for 127.0.0.1, as `gateway certs dev` makes them.
        let dir = std::env::temp_dir().join(format!("pool-tls-{}", crate::secrets::random_id()));
        let certs = crate::tls::devcerts::generate(&dir, &[]).unwrap();
        let config =
            crate::tls::server::server_config(&certs.server_cert, &certs.server_key).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "https://127.0.0.1:{}/echo",
            listener.local_addr().unwrap().port()
        );
        // An HTTPS echo: hyper's server over rustls, answering each request with its own body.
        tokio::spawn(async move {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let echo = hyper::service::service_fn(|request: Request<Incoming>| async {
                        Ok::<_, std::convert::Infallible>(Response::new(request.into_body()))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), echo)
                        .await;
                });
            }
        });
        let tls = crate::outbound::client_tls(std::slice::from_ref(&certs.ca_cert)).unwrap();
        let connector =
            crate::outbound::connector(tls, AddressRule::Any, Duration::from_secs(2), false, true);
        echo_twice(&Pool::new(connector), &url).await;
        let _ = std::fs::remove_dir_all(&dir);
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
        let refused = pool().send(get(&url), false).await;
        assert!(matches!(refused, Err(PoolError::Connect(_))));
    }
}
