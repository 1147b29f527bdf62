//! Attacks: raw_path. Feature-gate bypass by encoding: a path the gate reads one way and the
//! provider's router another. Requests go over a raw socket so the bytes of the path are exactly the
//! attacker's (an HTTP client library would normalise some of them away).

use crate::broker::recorded_federation;
use crate::on_both_backends;
use crate::support::Backend;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `compute.docker` is on, each of its sub-features off; storage on.
const MANIFEST: &str = "features:\n  compute:\n    docker: { enabled: true, batch: false, web: false, logs: false }\n  storage: { enabled: true }\n";

/// Sends `METHOD path HTTP/1.1` byte for byte; returns status, content type and body.
pub async fn raw_request(
    base: &str,
    method: &str,
    path: &str,
    token: &str,
) -> (u16, String, String) {
    let addr = base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// Every encoding trick from the attack report: each is a 400 `invalidPath` problem and never
/// reaches the provider.
async fn encoded_paths_are_refused_before_the_provider_sees_them(backend: Backend) {
    let (app, provider, owner) = recorded_federation(backend, MANIFEST).await;
    let attacks = [
        "/ucloud/dev/compute/docker/batch%3F",
        "/ucloud/dev/compute/docker/batch%3Fx=1",
        "/ucloud/dev/compute/docker/batch%23",
        "/ucloud/dev/compute/docker/Batch",
        "/ucloud/dev/compute/docker/BATCH/1",
        "/ucloud/dev/compute/docker/jobs/..;/batch",
        "/ucloud/dev/compute/docker/jobs%5C..%5Cbatch",
        "/ucloud/dev/compute/docker/%2577eb",
        "/ucloud/dev/compute/docker/b%2561tch",
        "/ucloud/dev/compute/docker/jobs/%2e%2e/batch",
        "/ucloud/dev/compute/docker/jobs%2F..%2Fbatch",
        "/ucloud/dev/compute/docker//batch",
        "/ucloud//storage/x",
        "/ucloud/dev/USERMAP",
        "/ucloud/dev/Storage/x",
        "/ucloud/dev/storage/a%00",
        "/ucloud/dev/storage/a%20b",
        "/ucloud/dev/storage/a%0d%0aX-Injected:%201",
        "/ucloud/dev/storage/a%09b",
        "/ucloud/dev/storage/%FF",
        "/ucloud/dev/storage/%zz",
    ];
    for path in attacks {
        for method in ["GET", "POST"] {
            let (status, content_type, body) = raw_request(&app.url, method, path, &owner).await;
            let problem: Value = serde_json::from_str(&body).unwrap_or_default();
            assert_eq!(
                (status, content_type.as_str(), problem["code"].as_str()),
                (400, "application/problem+json", Some("invalidPath")),
                "{method} {path}: {body}"
            );
        }
    }
    assert!(
        provider.requests().is_empty(),
        "reached the provider: {:?}",
        provider
            .requests()
            .iter()
            .map(|s| s.uri.clone())
            .collect::<Vec<_>>()
    );
}
on_both_backends!(
    encoded_paths_are_refused_before_the_provider_sees_them,
    encoded_paths_are_refused_before_the_provider_sees_them
);

/// What passed the gate is what the provider receives: the raw path and query, not a decoded copy.
async fn the_path_forwarded_is_byte_for_byte_the_path_the_gate_checked(backend: Backend) {
    let (app, provider, owner) = recorded_federation(backend, MANIFEST).await;
    let path = "/ucloud/dev/storage/caf%C3%A9/a%2Bb?q=%2F%3F&x=%20";
    let (status, _, body) = raw_request(&app.url, "GET", path, &owner).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(provider.requests()[0].uri, path);

    // An encoded feature name is gated as the name it decodes to.
    let (status, _, body) = raw_request(
        &app.url,
        "POST",
        "/ucloud/dev/compute/docker/b%61tch",
        &owner,
    )
    .await;
    let problem: Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(
        (
            status,
            problem["code"].as_str(),
            problem["feature"].as_str()
        ),
        (
            400,
            Some("featureNotSupported"),
            Some("compute.docker.batch")
        ),
        "{body}"
    );
    assert_eq!(provider.requests().len(), 1);
}
crate::on_both_backends!(the_path_forwarded_is_byte_for_byte_the_path_the_gate_checked);
