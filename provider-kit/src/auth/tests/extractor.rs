//! The `ServiceRequest` extractor in a real axum server, called over HTTP like the gateway would.

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use super::kit::*;
use crate::auth::{ServiceRequest, Verifier};

async fn whoami(request: ServiceRequest) -> axum::Json<Value> {
    axum::Json(json!({
        "username": request.principal().map(|p| p.username.clone()),
        "project": request.project(),
    }))
}

struct Provider {
    url: String,
    http: reqwest::Client,
    _task: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn provider(verifier: Verifier) -> Provider {
    let router = Router::new()
        .route("/ucloud/myprovider/whoami", get(whoami))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/ucloud/myprovider/whoami",
        listener.local_addr().expect("addr")
    );
    let task = tokio::spawn(async move { axum::serve(listener, router).await.expect("provider") });
    Provider {
        url,
        http: reqwest::Client::new(),
        _task: AbortOnDrop(task),
    }
}

impl Provider {
    async fn call(
        &self,
        authorization: Option<&str>,
    ) -> (u16, Option<String>, Option<String>, Value) {
        let mut request = self.http.get(&self.url);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("provider answers");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().expect("ASCII").to_owned())
        };
        let (content_type, challenge) = (header("content-type"), header("www-authenticate"));
        let status = response.status().as_u16();
        let body = response.json().await.expect("a JSON body");
        (status, content_type, challenge, body)
    }
}

#[tokio::test]
async fn a_gateway_call_reaches_the_handler_with_its_principal() {
    let h = harness().await;
    let provider = provider(h.verifier.clone()).await;
    let bearer = format!("Bearer {}", service_token("jti-1"));
    let (status, _, _, body) = provider.call(Some(&bearer)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"username": "DanSebastianThrane#1234", "project": "project-42"})
    );
    let lower = format!("bearer {}", service_token("jti-2"));
    assert_eq!(
        provider.call(Some(&lower)).await.0,
        200,
        "the scheme is case-insensitive"
    );
}

#[tokio::test]
async fn a_call_without_a_bearer_token_is_a_401_problem() {
    let h = harness().await;
    let provider = provider(h.verifier.clone()).await;
    for authorization in [None, Some("Basic dXNlcjpwYXNz"), Some("Bearer ")] {
        let (status, content_type, challenge, body) = provider.call(authorization).await;
        assert_eq!(status, 401);
        assert_eq!(content_type.as_deref(), Some("application/problem+json"));
        assert_eq!(challenge.as_deref(), Some("Bearer"));
        assert_eq!(body["code"], "invalidToken");
    }
}

#[tokio::test]
async fn a_refused_token_is_a_401_naming_the_reason_and_not_the_token() {
    let h = harness().await;
    let provider = provider(h.verifier.clone()).await;
    let expired = gateway_key().sign(
        &header(crate::protocol::TYP_SERVICE, "gw-1"),
        &with(service_claims(), "exp", json!(NOW - 600)),
    );
    let (status, content_type, challenge, body) =
        provider.call(Some(&format!("Bearer {expired}"))).await;
    assert_eq!(status, 401);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer error="invalid_token""#)
    );
    assert_eq!(body["code"], "invalidToken");
    assert_eq!(body["status"], 401);
    assert_eq!(body["detail"], "token has expired");
    for part in expired.split('.') {
        assert!(
            !body.to_string().contains(part),
            "the body echoes part of the token"
        );
    }
}

#[tokio::test]
async fn an_unreachable_key_set_is_a_503_not_a_bad_token() {
    let h = harness().await;
    h.server.fail(true);
    let provider = provider(h.verifier.clone()).await;
    let (status, _, challenge, body) = provider
        .call(Some(&format!("Bearer {}", service_token("t"))))
        .await;
    assert_eq!(status, 503);
    assert_eq!(challenge, None);
    assert_eq!(body["code"], "jwksUnavailable");
}
