//! The handler audit's transport on the server: probes go through the [`GuardedClient`], so the
//! dashboard's audit obeys every SSRF rule a replay does (public targets only unless the server
//! allows private ones, checked at send time on the resolved address, no redirects, no proxy,
//! capped answers), and only ever to the one URL it was made for.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hookvault_core::audit::{ProbeError, ProbeRequest, ProbeResponse, Transport};
use url::Url;

use crate::guard::{GuardedClient, OutboundRequest};

/// Sends audit probes to `target` through the guarded client.
pub struct GuardedTransport {
    client: GuardedClient,
    target: Url,
}

impl GuardedTransport {
    /// A transport for one (already checked) URL.
    pub fn new(client: GuardedClient, target: Url) -> Self {
        GuardedTransport { client, target }
    }
}

impl Transport for GuardedTransport {
    async fn send(&self, request: ProbeRequest) -> Result<ProbeResponse, ProbeError> {
        let started = std::time::Instant::now();
        let elapsed = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let method =
            http::Method::from_bytes(request.method.as_bytes()).unwrap_or(http::Method::POST);
        let outbound = OutboundRequest {
            method,
            url: self.target.clone(),
            headers: request
                .headers
                .into_iter()
                .map(|h| (h.name, h.value))
                .collect(),
            body: Bytes::from(request.body),
        };
        match self.client.send(outbound).await {
            Ok(resp) => Ok(ProbeResponse {
                status: resp.status,
                latency_ms: u64::try_from(resp.duration.as_millis()).unwrap_or(u64::MAX),
                body_excerpt: String::from_utf8_lossy(&resp.body[..resp.body.len().min(1024)])
                    .into_owned(),
            }),
            Err(e) => Err(ProbeError {
                message: e.to_string(),
                latency_ms: elapsed(),
            }),
        }
    }

    async fn pause(&self, pause: Duration) {
        tokio::time::sleep(pause).await;
    }

    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}
