//! The broker's HTTP/1.1 client codec (RFC 9112), the pool's wire format: a request head written
//! in one buffer, a response head parsed with `httparse` and bounded, the response body's framing
//! decided once from its head, and a chunked-body decoder. No I/O here: the pool reads and writes.
//!
//! What a provider sends is data from a stranger, so the head is held to the strict reading: at
//! most `MAX_HEAD` bytes and `MAX_HEADERS` fields; `Content-Length` must be digits, and the same
//! in every field that carries it; a `Transfer-Encoding` other than `chunked` alone, or one beside
//! a `Content-Length` (the shape of a desynchronisation), is refused rather than guessed at; a
//! chunk's size line and its trailers are bounded too. A refused response is a `502` to the caller
//! and its connection is closed.

use super::header_rules::{has_token, members};
use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

/// The largest response head read (status line and fields).
pub const MAX_HEAD: usize = 64 * 1024;
/// The most fields a response head may have.
pub const MAX_HEADERS: usize = 100;
/// How many fields the gateway adds to a response it relays (an upper bound).
const ADDED_ON_THE_WAY_OUT: usize = 8;
/// The longest chunk-size line (size and extensions).
const MAX_CHUNK_LINE: usize = 4096;
/// The most trailer bytes read (and dropped) after the last chunk.
const MAX_TRAILERS: usize = 16 * 1024;

/// Why an exchange with a provider failed on the wire.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("the provider's response is malformed: {0}")]
    BadResponse(&'static str),
    #[error("the provider's response head is larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("the provider's chunked body is malformed: {0}")]
    BadChunk(&'static str),
    #[error("the provider closed the connection before its response")]
    ClosedBeforeResponse,
    #[error("the provider closed the connection inside its response body")]
    IncompleteBody,
    #[error("reading the request body")]
    RequestBody(#[source] crate::outbound::BoxError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// How a request's body goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFraming {
    /// No body, and no framing field.
    None,
    /// `Content-Length` as the caller gave it (hyper's server checked the body against it).
    Length,
    /// `Transfer-Encoding: chunked`: a streaming body of unknown length.
    Chunked,
}

/// Writes a request head into `out`: request line, the fields of `headers` (their own
/// `Transfer-Encoding` left out: the framing is `framing`'s), and the blank line.
pub fn encode_head(
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    framing: RequestFraming,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        if name == TRANSFER_ENCODING
            || (name == CONTENT_LENGTH && framing != RequestFraming::Length)
        {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if framing == RequestFraming::Chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends one chunk of a chunked request body.
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return; // an empty chunk would end the body
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The end of a chunked request body: the last chunk, no trailers.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// How a response's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: `HEAD`, `204`, `304`, or `Content-Length: 0`.
    Empty,
    Length(u64),
    Chunked,
    /// Until the provider closes the connection (no length given).
    UntilClose,
}

/// A parsed response head.
#[derive(Debug)]
pub struct ResponseHead {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub framing: Framing,
    /// Whether the connection can carry another request once this body has ended.
    pub keep_alive: bool,
}

/// Parses the response head at the start of `buf`, answering `method`. `Ok(None)`: incomplete,
/// read more; else the head and how many bytes it took. Interim (`1xx`) responses are skipped
/// and counted in the length; `101` is refused (upgrades do not come this way).
pub fn parse_head(buf: &[u8], method: &Method) -> Result<Option<(ResponseHead, usize)>, WireError> {
    let mut taken = 0;
    loop {
        let rest = &buf[taken..];
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut fields);
        let len = match response.parse(rest) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if rest.len() > MAX_HEAD => {
                return Err(WireError::HeadTooLarge);
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(WireError::BadResponse("more than 100 header fields"));
            }
            Err(_) => return Err(WireError::BadResponse("the head does not parse")),
        };
        if len > MAX_HEAD {
            return Err(WireError::HeadTooLarge);
        }
        let code = response.code.unwrap_or(0);
        let status = StatusCode::from_u16(code)
            .map_err(|_| WireError::BadResponse("the status code is out of range"))?;
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(WireError::BadResponse(
                "101 to a request that asked no upgrade",
            ));
        }
        if status.is_informational() {
            taken += len;
            continue;
        }
        let version = if response.version == Some(0) {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        // One copy of the head; the values are slices of it.
        let text = Bytes::copy_from_slice(&rest[..len]);
        let base = rest.as_ptr() as usize;
        // Room for the headers the gateway adds on the way out (the response policy's and the
        // front's), so the map is allocated once.
        let mut headers = HeaderMap::with_capacity(response.headers.len() + ADDED_ON_THE_WAY_OUT);
        for field in response.headers.iter() {
            let name = HeaderName::from_bytes(field.name.as_bytes())
                .map_err(|_| WireError::BadResponse("a field name is not a token"))?;
            let at = (field.value.as_ptr() as usize).wrapping_sub(base);
            let value = match at.checked_add(field.value.len()) {
                _ if field.value.is_empty() => HeaderValue::from_static(""),
                Some(end) if end <= len => HeaderValue::from_maybe_shared(text.slice(at..end))
                    .map_err(|_| WireError::BadResponse("a field value has control characters"))?,
                _ => return Err(WireError::BadResponse("the head does not parse")),
            };
            headers.append(name, value);
        }
        let framing = framing(method, status, &headers)?;
        let keep_alive = framing != Framing::UntilClose && keeps_alive(version, &headers);
        let head = ResponseHead {
            status,
            version,
            headers,
            framing,
            keep_alive,
        };
        return Ok(Some((head, taken + len)));
    }
}

/// RFC 9112 §6.3, strictly: what cannot be read one way only is refused.
fn framing(method: &Method, status: StatusCode, headers: &HeaderMap) -> Result<Framing, WireError> {
    if method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    let length = content_length(headers)?;
    if headers.contains_key(TRANSFER_ENCODING) {
        if length.is_some() {
            return Err(WireError::BadResponse(
                "both Content-Length and Transfer-Encoding",
            ));
        }
        let mut codings = members(headers, TRANSFER_ENCODING).filter(|c| !c.is_empty());
        return match (codings.next(), codings.next()) {
            (Some(c), None) if c.eq_ignore_ascii_case(b"chunked") => Ok(Framing::Chunked),
            _ => Err(WireError::BadResponse(
                "a transfer coding other than chunked alone",
            )),
        };
    }
    Ok(match length {
        Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
        None => Framing::UntilClose,
    })
}

/// The `Content-Length`, when given: every value (fields and comma-separated list members) the
/// same run of digits.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, WireError> {
    let mut length = None;
    for digits in members(headers, CONTENT_LENGTH) {
        let n =
            parse_digits(digits).ok_or(WireError::BadResponse("Content-Length is not a number"))?;
        if length.is_some_and(|l| l != n) {
            return Err(WireError::BadResponse("Content-Length values differ"));
        }
        length = Some(n);
    }
    Ok(length)
}

fn parse_digits(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
    )
}

/// HTTP/1.1 keeps the connection unless `Connection: close`; HTTP/1.0 only with `keep-alive`.
fn keeps_alive(version: Version, headers: &HeaderMap) -> bool {
    if version == Version::HTTP_10 {
        has_token(headers, CONNECTION, "keep-alive")
    } else {
        !has_token(headers, CONNECTION, "close")
    }
}

/// Where a chunked body's decoder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// After a chunk's data, expecting its CRLF.
    DataEnd,
    /// After the last chunk: trailer lines (dropped) until the blank line; bytes read so far.
    Trailers(usize),
    Done,
}

/// Decodes a chunked body from successive reads of the connection.
#[derive(Debug)]
pub struct ChunkedDecoder {
    state: Chunk,
}

/// What one step of the decoder found in the bytes it was given.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Read more, having consumed this many bytes.
    NeedMore(usize),
    /// Body data at `start..end` of the input; consumed up to `end`.
    Data { start: usize, end: usize },
    /// The body ended, consuming this many bytes.
    Done(usize),
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self { state: Chunk::Size }
    }
}

impl ChunkedDecoder {
    /// Decodes from `input` (the unread bytes) until it has data to give, the body ends, or the
    /// input runs out.
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded, WireError> {
        let mut at = 0;
        loop {
            let rest = &input[at..];
            match self.state {
                Chunk::Done => return Ok(Decoded::Done(at)),
                Chunk::Size => {
                    let Some(line) = line(rest, MAX_CHUNK_LINE)? else {
                        return Ok(Decoded::NeedMore(at));
                    };
                    let size_text = match line.iter().position(|&b| b == b';') {
                        Some(semi) => &line[..semi],
                        None => line,
                    };
                    let size = chunk_size(trim_end_blanks(size_text))?;
                    at += line.len() + 2;
                    self.state = if size == 0 {
                        Chunk::Trailers(0)
                    } else {
                        Chunk::Data(size)
                    };
                }
                Chunk::Data(left) => {
                    if rest.is_empty() {
                        return Ok(Decoded::NeedMore(at));
                    }
                    let n = usize::try_from(left).map_or(rest.len(), |l| l.min(rest.len()));
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    };
                    return Ok(Decoded::Data {
                        start: at,
                        end: at + n,
                    });
                }
                Chunk::DataEnd => {
                    if rest.len() < 2 {
                        return Ok(Decoded::NeedMore(at));
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(WireError::BadChunk("chunk data not followed by CRLF"));
                    }
                    at += 2;
                    self.state = Chunk::Size;
                }
                Chunk::Trailers(read) => {
                    let Some(line) = line(rest, MAX_TRAILERS.saturating_sub(read))? else {
                        return Ok(Decoded::NeedMore(at));
                    };
                    at += line.len() + 2;
                    self.state = if line.is_empty() {
                        Chunk::Done
                    } else {
                        Chunk::Trailers(read + line.len() + 2)
                    };
                }
            }
        }
    }
}

/// The line at the start of `input` without its CRLF; `None` when its end has not arrived.
fn line(input: &[u8], max: usize) -> Result<Option<&[u8]>, WireError> {
    match input.iter().take(max + 2).position(|&b| b == b'\n') {
        Some(lf) if lf > 0 && input[lf - 1] == b'\r' => Ok(Some(&input[..lf - 1])),
        Some(_) => Err(WireError::BadChunk("a line not ended by CRLF")),
        None if input.len() >= max + 2 => Err(WireError::BadChunk("a line too long")),
        None => Ok(None),
    }
}

/// Without trailing spaces and tabs (the BWS before a chunk extension's `;`).
fn trim_end_blanks(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn chunk_size(hex: &[u8]) -> Result<u64, WireError> {
    if hex.is_empty() || hex.len() > 15 {
        return Err(WireError::BadChunk("the chunk size is not 1-15 hex digits"));
    }
    hex.iter().try_fold(0u64, |n, &b| {
        let digit = char::from(b)
            .to_digit(16)
            .ok_or(WireError::BadChunk("the chunk size is not hex"))?;
        Ok(n * 16 + u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Option<(ResponseHead, usize)>, WireError> {
        parse_head(text.as_bytes(), &Method::GET)
    }

    fn framing_of(text: &str) -> Result<Framing, WireError> {
        head(text).map(|h| h.expect("complete").0.framing)
    }

    #[test]
    fn a_request_head_carries_its_fields_and_the_framing_the_pool_chose() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("p.example:8443"));
        headers.insert("x-a", HeaderValue::from_static("1"));
        headers.insert("content-length", HeaderValue::from_static("5"));
        headers.insert("transfer-encoding", HeaderValue::from_static("gzip"));
        let mut out = Vec::new();
        encode_head(
            &Method::POST,
            "/a?b=c",
            &headers,
            RequestFraming::Length,
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST /a?b=c HTTP/1.1\r\nhost: p.example:8443\r\nx-a: 1\r\ncontent-length: 5\r\n\r\n"
        );
        let mut out = Vec::new();
        encode_head(
            &Method::PUT,
            "/u",
            &headers,
            RequestFraming::Chunked,
            &mut out,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.ends_with("x-a: 1\r\ntransfer-encoding: chunked\r\n\r\n"),
            "{text}"
        );
        assert!(!text.contains("content-length"), "{text}");
        let mut out = Vec::new();
        encode_chunk(b"hello", &mut out);
        encode_chunk(b"", &mut out);
        out.extend_from_slice(LAST_CHUNK);
        assert_eq!(out, b"5\r\nhello\r\n0\r\n\r\n");
    }

    #[test]
    fn a_response_head_is_read_with_its_fields_and_length() {
        let text = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-A: 1\r\nX-A: 2\r\n\r\nhi";
        let (h, len) = head(text).unwrap().unwrap();
        assert_eq!(len, text.len() - 2);
        assert_eq!(h.status, StatusCode::CREATED);
        assert_eq!(h.framing, Framing::Length(2));
        assert!(h.keep_alive);
        let values: Vec<_> = h.headers.get_all("x-a").iter().collect();
        assert_eq!(values, ["1", "2"]);
        assert!(head("HTTP/1.1 200 OK\r\nContent-Le").unwrap().is_none());
    }

    #[test]
    fn interim_responses_are_skipped_and_101_refused() {
        let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let (h, len) = head(text).unwrap().unwrap();
        assert_eq!((h.status, len), (StatusCode::OK, text.len()));
        assert!(
            !h.headers.contains_key("link"),
            "the interim fields are not kept"
        );
        assert!(head("HTTP/1.1 100 Continue\r\n\r\n").unwrap().is_none());
        assert!(matches!(
            head("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"),
            Err(WireError::BadResponse(_))
        ));
    }

    #[test]
    fn framing_follows_rfc_9112_and_refuses_what_two_readers_could_read_apart() {
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap(),
            Framing::Chunked
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\nContent-Length: 7\r\n\r\n")
                .unwrap(),
            Framing::Length(7)
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\n\r\n").unwrap(),
            Framing::UntilClose
        );
        assert_eq!(
            framing_of("HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n").unwrap(),
            Framing::Empty
        );
        assert_eq!(
            framing_of("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap(),
            Framing::Empty
        );
        let (h, _) = parse_head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
            &Method::HEAD,
        )
        .unwrap()
        .unwrap();
        assert_eq!(h.framing, Framing::Empty, "a HEAD answer has no body");
        for refused in [
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        ] {
            assert!(
                matches!(framing_of(refused), Err(WireError::BadResponse(_))),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn malformed_oversized_and_crowded_heads_are_refused() {
        for bad in [
            "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/1.1 099 Low\r\n\r\n",
            "HTTP/2 200 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
        ] {
            assert!(head(bad).is_err(), "{bad:?}");
        }
        let crowded = format!(
            "HTTP/1.1 200 OK\r\n{}\r\n",
            "X: y\r\n".repeat(MAX_HEADERS + 1)
        );
        assert!(matches!(head(&crowded), Err(WireError::BadResponse(_))));
        let huge = format!("HTTP/1.1 200 OK\r\nX: {}", "y".repeat(MAX_HEAD));
        assert!(matches!(head(&huge), Err(WireError::HeadTooLarge)));
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection_field() {
        let alive = |t: &str| head(t).unwrap().unwrap().0.keep_alive;
        assert!(alive("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(!alive(
            "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(!alive(
            "HTTP/1.1 200 OK\r\nConnection: x, close\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(!alive("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(alive(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(!alive("HTTP/1.1 200 OK\r\n\r\n"), "read until close");
    }

    /// Runs the decoder over `input` given in pieces of `step` bytes, as reads would.
    fn dechunk(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), WireError> {
        let mut decoder = ChunkedDecoder::default();
        let mut body = Vec::new();
        let (mut buf, mut fed, mut consumed_total) = (Vec::new(), 0, 0);
        loop {
            match decoder.decode(&buf)? {
                Decoded::Data { start, end } => {
                    body.extend_from_slice(&buf[start..end]);
                    buf.drain(..end);
                    consumed_total += end;
                }
                Decoded::Done(n) => return Ok((body, consumed_total + n)),
                Decoded::NeedMore(n) => {
                    buf.drain(..n);
                    consumed_total += n;
                    if fed >= input.len() {
                        return Err(WireError::IncompleteBody);
                    }
                    let next = (fed + step).min(input.len());
                    buf.extend_from_slice(&input[fed..next]);
                    fed = next;
                }
            }
        }
    }

    #[test]
    fn chunked_bodies_decode_however_the_reads_split_them() {
        let wire = b"5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\n\r\nNEXT";
        for step in [1, 2, 3, 7, 100] {
            let (body, used) = dechunk(wire, step).unwrap();
            assert_eq!(body, b"helloabcdefghijklmnopqrstuvwxyz", "step {step}");
            assert_eq!(used, wire.len() - 4, "the next response's bytes are left");
        }
    }

    #[test]
    fn malformed_chunked_bodies_are_refused() {
        for bad in [
            &b"5\r\nhelloX\r\n0\r\n\r\n"[..],
            b"g\r\n",
            b"\r\n",
            b"5\nhello\r\n",
            b"1234567890abcdef0\r\n",
            b"-5\r\nhello\r\n",
            b"5\r\r\nhello\r\n",
        ] {
            assert!(
                matches!(dechunk(bad, 100), Err(WireError::BadChunk(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long_line = [b"5;".as_slice(), &[b'x'; MAX_CHUNK_LINE + 10]].concat();
        assert!(matches!(
            dechunk(&long_line, 1000),
            Err(WireError::BadChunk(_))
        ));
        let trailers = [
            b"0\r\n".as_slice(),
            &b"X: y\r\n".repeat(MAX_TRAILERS / 6 + 10),
        ]
        .concat();
        assert!(matches!(
            dechunk(&trailers, 1000),
            Err(WireError::BadChunk(_))
        ));
        assert!(matches!(
            dechunk(b"5\r\nhel", 100),
            Err(WireError::IncompleteBody)
        ));
    }
}
