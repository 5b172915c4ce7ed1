//! The connection loop for the whole HTTP server. Each accepted connection's bytes pass through
//! [`RecordingIo`], which records every request head verbatim; the service attaches the
//! recorded head and the peer address to each request before the router sees it. On shutdown
//! the loop stops accepting and waits for requests in flight (captures included) to finish.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use ipnet::IpNet;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::rawhead::{HeadQueue, RecordingIo};

/// How many connections the server holds open at once.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// In all.
    pub total: usize,
    /// From one client address (the peer; trusted proxies are exempt, since every client
    /// behind them shares their address).
    pub per_address: usize,
    pub exempt: Vec<IpNet>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            total: 8192,
            per_address: 256,
            exempt: Vec::new(),
        }
    }
}

/// Counts open connections; a [`Slot`] is one of them, given back when dropped.
#[derive(Clone)]
struct OpenConnections {
    limits: Arc<ConnectionLimits>,
    counts: Arc<Mutex<(usize, HashMap<IpAddr, usize>)>>,
}

struct Slot {
    open: OpenConnections,
    ip: Option<IpAddr>,
}

impl OpenConnections {
    fn admit(&self, ip: IpAddr) -> Option<Slot> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.0 >= self.limits.total {
            return None;
        }
        let exempt = self.limits.exempt.iter().any(|n| n.contains(&ip));
        if !exempt {
            let n = counts.1.entry(ip).or_insert(0);
            if *n >= self.limits.per_address {
                return None;
            }
            *n += 1;
        }
        counts.0 += 1;
        Some(Slot {
            open: self.clone(),
            ip: (!exempt).then_some(ip),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self
            .open
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.0 -= 1;
        if let Some(ip) = self.ip {
            if let Some(n) = counts.1.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    counts.1.remove(&ip);
                }
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains in-flight requests for at
/// most `drain` before returning. Connections over `limits` are closed as soon as accepted.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let open = OpenConnections {
        limits: Arc::new(limits),
        counts: Arc::default(),
    };
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
        let Some(slot) = open.admit(peer.ip()) else {
            tracing::debug!(peer = %peer.ip(), "connection refused: too many open connections");
            drop(stream);
            continue;
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
            drop(slot);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_capped_per_address_and_in_all_and_slots_come_back() {
        let open = OpenConnections {
            limits: Arc::new(ConnectionLimits {
                total: 3,
                per_address: 2,
                exempt: vec!["10.0.0.0/8".parse().unwrap()],
            }),
            counts: Arc::default(),
        };
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let proxy: IpAddr = "10.1.1.1".parse().unwrap();
        let first = open.admit(a).unwrap();
        let _second = open.admit(a).unwrap();
        assert!(open.admit(a).is_none(), "a third from one address");
        let _via_proxy = open.admit(proxy).unwrap();
        assert!(open.admit(proxy).is_none(), "the total is reached");
        drop(first);
        assert!(
            open.admit(a).is_some(),
            "a closed connection frees its slot"
        );
    }
}
