//! The upstream for `scripts/bench-broker.sh`: a provider that answers as cheaply as it can, so the
//! benchmark measures the proxy in front of it. `bench_upstream ADDR PROVIDER_ID`.

use axum::Router;
use axum::routing::get;

const MANIFEST: &str = "features:\n  storage: { enabled: true }\n";

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9400".into());
    let id = args.next().unwrap_or_else(|| "bench".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let routes = Router::new()
            .route(
                "/manifest",
                get(|| async { ([("content-type", "application/yaml")], MANIFEST) }),
            )
            .route("/storage/ping", get(|| async { "pong\n" }));
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        axum::serve(
            listener,
            Router::new().nest(&format!("/ucloud/{id}"), routes),
        )
        .await
    })
}
