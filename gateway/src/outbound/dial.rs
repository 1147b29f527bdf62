//! The TCP dialer under every client that calls a provider (broker, manifest fetch, unlink,
//! rename). It resolves the host itself and asks the [`AddressRule`] about every address before it
//! connects to it and about the peer once connected, so neither an IP spelling nor a DNS answer
//! that changed since registration (rebinding) gets a connection to a forbidden address.

use super::address::{AddressRule, ForbiddenAddress};
use http::Uri;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// Why no connection was made. The raw causes are for the operator's log only.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error(transparent)]
    Forbidden(#[from] ForbiddenAddress),
    #[error("the URL has no host")]
    NoHost,
    #[error("resolving {host}: {cause}")]
    Resolve { host: String, cause: std::io::Error },
    #[error("connecting to {addr}: {cause}")]
    Connect {
        addr: SocketAddr,
        cause: std::io::Error,
    },
    #[error("connecting to {addr} took longer than {ms} ms")]
    ConnectTimeout { addr: SocketAddr, ms: u128 },
}

/// A `tower::Service<Uri>` yielding TCP streams, for hyper's connectors (TLS wraps it).
#[derive(Clone)]
pub struct Dialer {
    rule: Arc<AddressRule>,
    connect_timeout: Duration,
}

impl Dialer {
    pub fn new(rule: AddressRule, connect_timeout: Duration) -> Self {
        Self {
            rule: Arc::new(rule),
            connect_timeout,
        }
    }

    async fn dial(self, uri: Uri) -> Result<TokioIo<TcpStream>, DialError> {
        let host = uri.host().ok_or(DialError::NoHost)?;
        // `[::1]` in a URL is `::1` to the resolver.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let default_port = if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
            443
        } else {
            80
        };
        let port = uri.port_u16().unwrap_or(default_port);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|cause| DialError::Resolve {
                host: host.clone(),
                cause,
            })?
            .collect();
        // One forbidden answer refuses the name: a DNS answer mixing public and private addresses
        // is a rebinding attempt, not a provider.
        for addr in &addrs {
            self.rule.check(&host, *addr)?;
        }
        let mut last = DialError::Resolve {
            host: host.clone(),
            cause: std::io::Error::other("no addresses"),
        };
        for addr in addrs {
            self.rule.check(&host, addr)?;
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    let peer = stream
                        .peer_addr()
                        .map_err(|cause| DialError::Connect { addr, cause })?;
                    self.rule.check(&host, peer)?;
                    let _ = stream.set_nodelay(true);
                    return Ok(TokioIo::new(stream));
                }
                Ok(Err(cause)) => last = DialError::Connect { addr, cause },
                Err(_) => {
                    last = DialError::ConnectTimeout {
                        addr,
                        ms: self.connect_timeout.as_millis(),
                    }
                }
            }
        }
        Err(last)
    }
}

impl tower_service::Service<Uri> for Dialer {
    type Response = TokioIo<TcpStream>;
    type Error = DialError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, DialError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), DialError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(self.clone().dial(uri))
    }
}
