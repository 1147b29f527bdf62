//! A provider endpoint for the gateway's manifest tests: a real HTTP(S) server (rustls with the
//! project's generated certificates) serving `/ucloud/<id>/manifest`, whose behaviour a test can
//! change, and which records what the gateway sent it.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Serve `body` with `content_type`, honouring `If-None-Match` when `etag` is set.
    Serve {
        body: String,
        content_type: &'static str,
        etag: Option<String>,
    },
    /// Answer with this status and no body.
    Status(u16),
    /// Send the headers, then one byte every 100 ms, forever.
    Dribble,
    /// Send `n` bytes without a Content-Length.
    Streamed(usize),
}

#[derive(Default)]
pub struct Seen {
    pub hits: usize,
    pub authorization: Vec<String>,
    pub if_none_match: Vec<Option<String>>,
}

#[derive(Clone)]
pub struct Double {
    pub port: u16,
    behaviour: Arc<Mutex<Behaviour>>,
    pub seen: Arc<Mutex<Seen>>,
    _stop: Arc<tokio::sync::oneshot::Sender<()>>,
}

pub const VALID: &str = "users:\n  requireExplicitMapping: true\nfeatures:\n  storage: { enabled: true, projects: true }\n";

impl Double {
    /// Serves plain HTTP on `port` (0: any free port).
    pub async fn http(id: &str, port: u16, behaviour: Behaviour) -> Self {
        Self::start(id, port, behaviour, None).await
    }

    /// Serves HTTPS with `dir/server.pem` and `dir/server-key.pem`.
    pub async fn https(id: &str, certs: &Path, behaviour: Behaviour) -> Self {
        let config = gateway::tls::server::server_config(
            &certs.join("server.pem"),
            &certs.join("server-key.pem"),
        )
        .unwrap();
        Self::start(id, 0, behaviour, Some(config)).await
    }

    async fn start(
        id: &str,
        port: u16,
        behaviour: Behaviour,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let behaviour = Arc::new(Mutex::new(behaviour));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let router = Router::new()
            .route(&format!("/ucloud/{id}/manifest"), get(manifest))
            .with_state((behaviour.clone(), seen.clone()));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async {
            let _ = rx.await;
        };
        match tls {
            Some(config) => {
                tokio::spawn(gateway::http::tls::serve_tls(
                    router, listener, config, shutdown,
                ));
            }
            None => {
                tokio::spawn(async move {
                    axum::serve(listener, router)
                        .with_graceful_shutdown(shutdown)
                        .await
                });
            }
        }
        Self {
            port,
            behaviour,
            seen,
            _stop: Arc::new(tx),
        }
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    pub fn hits(&self) -> usize {
        self.seen.lock().unwrap().hits
    }
}

type DoubleState = (Arc<Mutex<Behaviour>>, Arc<Mutex<Seen>>);

async fn manifest(State((behaviour, seen)): State<DoubleState>, headers: HeaderMap) -> Response {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let if_none_match = text(header::IF_NONE_MATCH);
    {
        let mut seen = seen.lock().unwrap();
        seen.hits += 1;
        seen.authorization
            .push(text(header::AUTHORIZATION).unwrap_or_default());
        seen.if_none_match.push(if_none_match.clone());
    }
    let behaviour = behaviour.lock().unwrap().clone();
    match behaviour {
        Behaviour::Serve {
            body,
            content_type,
            etag,
        } => {
            if etag.is_some() && etag == if_none_match {
                return StatusCode::NOT_MODIFIED.into_response();
            }
            let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
            if let Some(etag) = etag {
                response
                    .headers_mut()
                    .insert(header::ETAG, etag.parse().unwrap());
            }
            response
        }
        Behaviour::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Behaviour::Dribble => {
            let stream = futures_util::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from_static(b" ")), ()))
            });
            (
                [(header::CONTENT_TYPE, "application/yaml")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        Behaviour::Streamed(n) => {
            let chunk = bytes::Bytes::from(vec![b'#'; 4096]);
            let stream = futures_util::stream::iter(
                (0..n.div_ceil(4096)).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
            );
            (
                [(header::CONTENT_TYPE, "application/yaml")],
                Body::from_stream(stream),
            )
                .into_response()
        }
    }
}
