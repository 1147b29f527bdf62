//! Serving: the public listener (and the metrics listener when configured) running the router
//! over `http::listener`, the background loops started beside them, and the drain on shutdown.
//! `serve` is the seam tests use, with a listener on port 0.

use crate::app::AppState;
use std::future::Future;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves `app` on `listener` until `shutdown` resolves, then drains in-flight requests and stops
/// the background tasks. No metrics listener: see `serve_with_metrics`.
pub async fn serve(
    app: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_metrics(app, listener, None, shutdown).await
}

/// `serve`, plus `GET /metrics` on `metrics` (its own listener, SPEC §7) when given. Every
/// listener runs `http::listener` with the `server:` limits.
pub async fn serve_with_metrics(
    app: AppState,
    listener: TcpListener,
    metrics: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use crate::http::listener::{self, Limits, Listener, ListenerStats};
    // Fail before anything starts if the TLS files are unusable.
    let tls = match &app.config.tls {
        Some(tls) => Some(
            crate::tls::server::reloading(&tls.cert, &tls.key)
                .map_err(|e| std::io::Error::other(e.to_string()))?,
        ),
        None => None,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = crate::background::start(&app, &stop_rx);
    // SIGHUP and changed files reload the certificate for new handshakes.
    if let Some(tls) = &tls {
        let watcher = crate::tls::server::watch_until(tls.cert.clone(), stop_rx.clone());
        tasks.push(tokio::spawn(watcher));
    }
    let limits = Limits::from_config(&app.config.server);
    let public = Listener {
        tcp: listener,
        tls: tls.map(|tls| crate::http::tls::acceptor(tls.config)),
        stats: ListenerStats::new("public"),
    };
    let mut stats = vec![public.stats.clone()];
    let metrics = metrics.map(|tcp| Listener {
        tcp,
        tls: None,
        stats: ListenerStats::new("metrics"),
    });
    if let Some(m) = &metrics {
        stats.push(m.stats.clone());
    }
    let (drain_tx, drain_rx) = watch::channel(false);
    let public = listener::serve(
        public,
        crate::http::front::Front::new(app.clone()),
        limits,
        drain_rx.clone(),
    );
    let metrics_router = crate::http::metrics::router(app.clone(), stats);
    let metrics = async {
        match metrics {
            Some(m) => listener::serve(m, metrics_router, limits, drain_rx).await,
            None => Ok(()),
        }
    };
    let signal = async move {
        shutdown.await;
        let _ = drain_tx.send(true);
    };
    let (result, metrics_result, ()) = tokio::join!(public, metrics, signal);
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    app.store.close().await;
    result.and(metrics_result)
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}
