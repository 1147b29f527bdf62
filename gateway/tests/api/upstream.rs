//! A provider for the broker tests, built on provider-kit: it verifies every service token with
//! `provider_kit::auth` against the gateway's JWKS and reports what it received.

use axum::Router;
use axum::body::Body;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{OriginalUri, Query, Request};

use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use futures_util::StreamExt;
use provider_kit::auth::{ManualClock, ServiceRequest, Verifier, VerifierConfig};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct Upstream {
    pub port: u16,
    /// The provider's own clock, to move along with the gateway's.
    pub clock: Arc<ManualClock>,
    /// Gateway usernames the gateway said to unlink (`POST usermap/unlink`).
    pub unlinked: Arc<std::sync::Mutex<Vec<String>>>,
    /// Renames the gateway sent (`POST usermap/rename`): (the token's principal, from, to).
    pub renames: Renames,
    _stop: Arc<tokio::sync::oneshot::Sender<()>>,
}

pub const MANIFEST: &str = "features:\n  compute:\n    docker: { enabled: true, logs: true }\n  storage: { enabled: true }\n";

impl Upstream {
    /// Serves provider `id` on a free port, trusting the gateway at `gateway_url`.
    pub async fn start(id: &str, gateway_url: &str, now_unix: i64, manifest: &'static str) -> Self {
        let config = VerifierConfig::new(
            gateway_url,
            format!("{gateway_url}/.well-known/jwks.json"),
            id,
        );
        let clock = Arc::new(ManualClock::new(now_unix));
        let unlinked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let renames = Renames::default();
        let verifier = Verifier::new(config, clock.clone()).unwrap();
        let routes = Router::new()
            .route(
                "/manifest",
                get(move || async move { ([("content-type", "application/yaml")], manifest) }),
            )
            .route("/compute/docker/echo", any(echo))
            .route("/storage/slow", get(slow))
            .route("/storage/ws", get(ws))
            .route("/storage/upload", any(upload))
            .route("/storage/download", get(download))
            .route("/usermap/unlink", axum::routing::post(unlink))
            .route("/usermap/rename", axum::routing::post(rename))
            .layer(axum::Extension(unlinked.clone()))
            .layer(axum::Extension(renames.clone()))
            .with_state(verifier);
        let router = Router::new().nest(&format!("/ucloud/{id}"), routes);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Self {
            port,
            clock,
            unlinked,
            renames,
            _stop: Arc::new(tx),
        }
    }
}

/// Everything the provider received, as JSON, after verifying the service token.
async fn echo(
    service: ServiceRequest,
    OriginalUri(original): OriginalUri,
    request: Request,
) -> Response {
    let mut headers = Map::new();
    for (name, value) in request.headers() {
        headers.insert(
            name.as_str().to_owned(),
            json!(value.to_str().unwrap_or("<binary>")),
        );
    }
    let method = request.method().to_string();
    let uri = original.to_string();
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap();
    axum::Json(json!({
        "principal": service.principal(),
        "project": service.project(),
        "method": method,
        "uri": uri,
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    }))
    .into_response()
}

async fn slow(_service: ServiceRequest) -> &'static str {
    tokio::time::sleep(Duration::from_secs(5)).await;
    "too late"
}

async fn ws(_service: ServiceRequest, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|mut socket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            if let Message::Text(text) = message
                && socket
                    .send(Message::Text(format!("echo: {text}").into()))
                    .await
                    .is_err()
            {
                break;
            }
        }
    })
}

/// Counts the bytes of a streamed upload without keeping them.
async fn upload(_service: ServiceRequest, request: Request) -> Response {
    let mut stream = request.into_body().into_data_stream();
    let mut total: u64 = 0;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => total += chunk.len() as u64,
            Err(_) => {
                return (axum::http::StatusCode::BAD_REQUEST, "upload cut short").into_response();
            }
        }
    }
    axum::Json(json!({ "received": total })).into_response()
}

/// Streams `bytes` bytes, generated as it goes.
async fn download(_service: ServiceRequest, Query(q): Query<HashMap<String, u64>>) -> Response {
    let total = q.get("bytes").copied().unwrap_or(0);
    let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
    let chunks = total.div_ceil(64 * 1024);
    let stream = futures_util::stream::iter((0..chunks).map(move |i| {
        let len = if i + 1 == chunks {
            (total - i * 64 * 1024) as usize
        } else {
            chunk.len()
        };
        Ok::<_, std::io::Error>(chunk.slice(..len))
    }));
    Response::new(Body::from_stream(stream))
}

pub fn header_names(value: &Value) -> Vec<String> {
    value["headers"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

async fn unlink(
    service: ServiceRequest,
    axum::Extension(unlinked): axum::Extension<Arc<std::sync::Mutex<Vec<String>>>>,
) -> &'static str {
    if let Some(p) = service.principal() {
        unlinked.lock().unwrap().push(p.username.clone());
    }
    "ok"
}

/// What the provider was told of merges, and whether it answers them (`refusing`: 503).
#[derive(Clone, Default)]
pub struct Renames {
    pub seen: Arc<std::sync::Mutex<Vec<(String, String, String)>>>,
    pub refusing: Arc<std::sync::atomic::AtomicBool>,
}

async fn rename(
    service: ServiceRequest,
    axum::Extension(renames): axum::Extension<Renames>,
    axum::Json(body): axum::Json<Value>,
) -> axum::http::StatusCode {
    if renames.refusing.load(std::sync::atomic::Ordering::SeqCst) {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
    }
    let principal = service
        .principal()
        .map(|p| p.username.clone())
        .unwrap_or_default();
    let field = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    renames
        .seen
        .lock()
        .unwrap()
        .push((principal, field("from"), field("to")));
    axum::http::StatusCode::NO_CONTENT
}
