//! 100 MB up and 100 MB down through the real gateway binary, with the gateway's peak memory
//! measured from /proc: the broker streams, it never holds a body.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected value"
)]

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request};
use axum::routing::{get, post};
use e2e::process::{Gateway, NewUser};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;

const MB: u64 = 1024 * 1024;
const MANIFEST: &str = "features:\n  storage: { enabled: true }\n";

/// A provider that sinks uploads and generates downloads, holding neither.
async fn start_provider() -> u16 {
    let routes = Router::new()
        .route(
            "/manifest",
            get(|| async { ([("content-type", "application/yaml")], MANIFEST) }),
        )
        .route(
            "/storage/upload",
            post(|request: Request| async move {
                let mut stream = request.into_body().into_data_stream();
                let mut total = 0u64;
                while let Some(chunk) = stream.next().await {
                    total += chunk.unwrap().len() as u64;
                }
                axum::Json(json!({ "received": total }))
            }),
        )
        .route(
            "/storage/download",
            get(|Query(q): Query<HashMap<String, u64>>| async move {
                let chunks = q["mb"] * 16;
                let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
                Body::from_stream(futures_util::stream::iter(
                    (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
                ))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(
        async move { axum::serve(listener, Router::new().nest("/ucloud/big", routes)).await },
    );
    port
}

/// Peak resident memory of a process, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[tokio::test]
async fn a_100_mb_upload_and_download_pass_through_with_flat_gateway_memory() {
    let port = start_provider().await;
    let gateway = Gateway::new(None);
    let token = gateway.create_user_with_token(&NewUser::new("alice", "a@example.org", "A", "L"));
    let server = gateway.serve().await;
    let http = reqwest::Client::new();
    let body =
        json!({ "id": "big", "domain": "127.0.0.1", "https": false, "port": port, "env": "test" });
    let r = http
        .post(gateway.url("/api/providers"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .post(gateway.url("/api/providers/big/manifest/reload"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Warm up the connection pool and the allocator, then take the baseline.
    let r = http
        .get(gateway.url("/ucloud/big/storage/download?mb=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().len() as u64, MB);
    let baseline = peak_rss(server.pid());

    let chunk = bytes::Bytes::from(vec![b'u'; 64 * 1024]);
    let upload = futures_util::stream::iter(
        (0..100 * 16).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    );
    let r = http
        .post(gateway.url("/ucloud/big/storage/upload"))
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(upload))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let received: Value = r.json().await.unwrap();
    assert_eq!(received["received"], 100 * MB);

    let r = http
        .get(gateway.url("/ucloud/big/storage/download?mb=100"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        total += chunk.unwrap().len() as u64;
    }
    assert_eq!(total, 100 * MB);

    let growth = peak_rss(server.pid()).saturating_sub(baseline);
    eprintln!(
        "gateway peak RSS: baseline {} MiB, growth {} KiB over 200 MiB streamed",
        baseline / MB,
        growth / 1024
    );
    assert!(
        growth < 16 * MB,
        "the gateway's peak memory grew by {} MiB while streaming 200 MiB",
        growth / MB
    );
    let (status, _) = server.terminate().await;
    assert!(status.success());
}
