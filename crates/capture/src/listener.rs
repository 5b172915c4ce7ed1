//! The connection loop for the whole HTTP server. Each accepted connection's bytes pass through
//! [`RecordingIo`], which records every request head verbatim; the service attaches the
//! recorded head and the peer address to each request before the router sees it. On shutdown
//! the loop stops accepting and waits for requests in flight (captures included) to finish.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::rawhead::{HeadQueue, RecordingIo};

/// Serves `app` on `listener` until `shutdown` resolves, then drains in-flight requests for at
/// most `drain` before returning.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let queue = HeadQueue::default();
        let io = TokioIo::new(RecordingIo::new(stream, queue.clone()));
        let app = app.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let app = app.clone();
            // Never pairs a request with another request's head: on any disagreement the
            // recorder stops and the request falls back to hyper's parsed headers.
            let head = queue.pop_for(req.method(), req.uri());
            async move { Ok::<_, Infallible>(call(app, req, head, peer).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30))
            .serve_connection(io, service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections finished"),
        () = tokio::time::sleep(drain) => tracing::warn!("gave up waiting for open connections"),
    }
}

async fn call(
    app: Router,
    req: Request<Incoming>,
    head: Option<crate::rawhead::RawHead>,
    peer: SocketAddr,
) -> axum::response::Response {
    let mut req = req.map(axum::body::Body::new);
    if let Some(head) = head {
        // The recorder and hyper parse the same bytes; if they ever disagree, fall back to
        // hyper's view rather than attach the wrong head.
        let uri = req.uri().to_string();
        if head.method == req.method().as_str()
            && (head.target == uri || uri.ends_with(&head.target))
        {
            req.extensions_mut().insert(head);
        } else {
            tracing::warn!("recorded request head does not match; using parsed headers");
        }
    }
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    match app.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}
