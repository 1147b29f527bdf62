//! Your first provider (the tutorial in provider-kit/README.md): it serves its manifest and one
//! feature route, `GET /ucloud/<id>/storage/whoami`, which answers who the gateway says is calling.
//!
//! cargo run -p provider-kit --example first_provider -- provider.json manifest.yaml 127.0.0.1:9000

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use provider_kit::auth::{ServiceRequest, SystemClock, Verifier};
use provider_kit::client::Credentials;
use provider_kit::router::{ManifestSource, ProviderRouter};
use serde_json::{Value, json};

/// A feature handler. It runs only for calls the gateway signed, and sees who the user is.
async fn whoami(request: ServiceRequest) -> Json<Value> {
    let username = request.principal().map(|p| p.username.as_str());
    Json(json!({ "username": username, "project": request.project() }))
}

/// Everything the provider serves under `/ucloud/<id>`: its manifest and its features.
pub fn app(verifier: Verifier, manifest: ManifestSource) -> Router {
    let features = Router::new().route("/storage/whoami", get(whoami));
    ProviderRouter::new(verifier, manifest).build(features)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, credentials, manifest, listen] = args.as_slice() else {
        return Err("usage: first_provider CREDENTIALS_FILE MANIFEST_FILE LISTEN_ADDRESS".into());
    };
    // Written by `provider-kit register`: the gateway, this provider's id and its refresh token.
    let credentials = Credentials::load(credentials)?;
    let verifier = Verifier::new(credentials.verifier_config(), Arc::new(SystemClock))?;
    // Fetch the gateway's keys now, so a wrong URL shows at start-up rather than on a request.
    verifier.refresh_keys().await?;
    let manifest = ManifestSource::file(manifest)?;
    let listener = tokio::net::TcpListener::bind(listen.as_str()).await?;
    println!(
        "serving {}/ucloud/{}",
        listener.local_addr()?,
        credentials.provider_id
    );
    axum::serve(listener, app(verifier, manifest)).await?;
    Ok(())
}
