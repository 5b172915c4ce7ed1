//! Runs an audit: the probes one after another, spaced, through a [`Transport`] that the
//! caller supplies (the CLI's plain client for `localhost`, the server's guarded client for the
//! dashboard). The transport is made for one URL, so no probe can go anywhere else.

use std::future::Future;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::report::{self, ProbeResult, Report};
use super::{Audit, Probe, ProbeRequest};

/// The handler's answer to one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResponse {
    pub status: u16,
    /// From the start of sending until the answer was read.
    pub latency_ms: u64,
    /// The start of the answer's body, as text.
    pub body_excerpt: String,
}

/// No answer to a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeError {
    /// In words: "timed out after 30 s", "connection refused", "refused: private address …".
    pub message: String,
    /// How long it took to fail.
    pub latency_ms: u64,
}

/// Sends probes to the one target URL it was made for, waits between them, and tells the time.
pub trait Transport: Sync {
    /// Sends one probe to the target URL without following redirects.
    fn send(
        &self,
        request: ProbeRequest,
    ) -> impl Future<Output = Result<ProbeResponse, ProbeError>> + Send;

    /// Waits `pause` before the next probe.
    fn pause(&self, pause: Duration) -> impl Future<Output = ()> + Send;

    /// Unix seconds now (probes are signed with it just before they are sent).
    fn now(&self) -> i64;
}

/// Sends the probes in order, `spacing` apart, calling `on_result` as each verdict is known
/// (skipped probes included), and returns the report for `target`.
pub async fn run<T: Transport>(
    audit: &Audit,
    target: &str,
    transport: &T,
    spacing: Duration,
    mut on_result: impl FnMut(&ProbeResult),
) -> Report {
    let started_at = OffsetDateTime::from_unix_timestamp(transport.now())
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    let mut results = Vec::with_capacity(Probe::ALL.len());
    let mut sent_any = false;
    for probe in Probe::ALL {
        let result = match audit.skip_reason(probe) {
            Some(reason) => report::skipped(probe, reason),
            None => {
                if sent_any {
                    transport.pause(spacing).await;
                }
                sent_any = true;
                // Signed after the pause, just before sending, so the signature is fresh.
                match audit.request(probe, transport.now()) {
                    Ok(request) => {
                        let answer = transport.send(request).await;
                        report::judge(probe, audit.scheme(), audit.sent(probe), answer)
                    }
                    Err(reason) => report::skipped(probe, &reason),
                }
            }
        };
        on_result(&result);
        results.push(result);
    }
    Report::new(
        target,
        audit.scheme(),
        audit.event().clone(),
        u64::try_from(spacing.as_millis()).unwrap_or(u64::MAX),
        started_at,
        results,
    )
}
