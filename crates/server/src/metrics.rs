//! `GET /metrics` (Prometheus text) on its own address, `--metrics-listen`: off unless set, and
//! never on the public listener, so on a hosted service only what can reach that address (a
//! private network, the scraper) reads the counters.

use std::net::SocketAddr;

use anyhow::Context;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Binds `addr` and serves `/metrics` until `stop` turns true; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics address {addr}"))?;
    let bound = listener.local_addr()?;
    let app = Router::new().route("/metrics", get(metrics));
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::warn!(error = %e, "the metrics listener stopped");
        }
    });
    tracing::info!(%bound, "metrics at http://{bound}/metrics");
    Ok(bound)
}

async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, hookvault_metrics::CONTENT_TYPE)],
        hookvault_metrics::render(),
    )
}
