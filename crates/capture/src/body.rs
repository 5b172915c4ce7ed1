//! Reading a capture's body under a deadline and a byte budget.
//!
//! Every captured byte is written by a stranger, so a body must arrive in time (a sender that
//! declares a megabyte and sends a byte a minute is cut off with 408), and the bodies buffered
//! at once by the whole process are bounded (a flood of large bodies gets 503 + `Retry-After`
//! instead of the process's memory). The bytes are read once, into the buffer that goes to
//! the writer: no second copy.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The buffer a body starts with, whatever its declared length.
const INITIAL_BUFFER: usize = 64 * 1024;

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the limit (413).
    TooLarge,
    /// Not complete by the deadline (408).
    TooSlow,
    /// The process's body budget is spent (503).
    BudgetFull,
    /// The connection failed mid-body (400).
    Broken,
}

/// The bytes of the bodies being read or stored right now, for the whole process.
#[derive(Clone)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    total: usize,
}

impl BodyBudget {
    pub fn new(total_bytes: usize) -> Self {
        let total = total_bytes.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            bytes: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Takes `n` bytes of the budget without waiting.
    fn take(&self, n: usize) -> Option<OwnedSemaphorePermit> {
        let n = u32::try_from(n).ok()?;
        if n as usize > self.total {
            return None;
        }
        self.bytes.clone().try_acquire_many_owned(n).ok()
    }
}

/// A body, and its share of the budget (given back when dropped: once the capture is stored).
pub struct ReadBody {
    pub bytes: Bytes,
    _budget: Vec<OwnedSemaphorePermit>,
}

/// Reads `body` completely: at most `max` bytes, finished by `deadline`, each chunk counted
/// against `budget` as it arrives. `declared` (Content-Length) is reserved up front, so a
/// large declared body is refused before its first byte is buffered.
pub async fn read(
    body: Body,
    max: usize,
    declared: Option<u64>,
    deadline: Duration,
    budget: &BodyBudget,
) -> Result<ReadBody, BodyError> {
    if declared.is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge);
    }
    let until = Instant::now() + deadline;
    let reserved = usize::try_from(declared.unwrap_or(0)).unwrap_or(max);
    let mut permits = Vec::new();
    if reserved > 0 {
        permits.push(budget.take(reserved).ok_or(BodyError::BudgetFull)?);
    }
    // Memory grows with what arrives, not with what is declared: a sender that declares a
    // megabyte and sends a byte holds a small buffer.
    let mut buf = BytesMut::with_capacity(reserved.min(INITIAL_BUFFER));
    let mut body = body;
    loop {
        let frame = match tokio::time::timeout_at(until, body.frame()).await {
            Err(_) => return Err(BodyError::TooSlow),
            Ok(None) => break,
            Ok(Some(Err(_))) => return Err(BodyError::Broken),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if buf.len() + data.len() > max {
            return Err(BodyError::TooLarge);
        }
        // Bytes beyond the declared length (or of a chunked body) take budget as they come.
        let beyond = (buf.len() + data.len()).saturating_sub(reserved.max(buf.len()));
        if beyond > 0 {
            permits.push(budget.take(beyond).ok_or(BodyError::BudgetFull)?);
        }
        buf.extend_from_slice(&data);
    }
    Ok(ReadBody {
        bytes: buf.freeze(),
        _budget: permits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(chunks: &'static [&'static [u8]]) -> Body {
        let stream = futures_util::stream::iter(
            chunks
                .iter()
                .map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))),
        );
        Body::from_stream(stream)
    }

    #[tokio::test]
    async fn a_chunked_body_is_read_whole_and_gives_its_budget_back_when_dropped() {
        let budget = BodyBudget::new(10);
        let read = super::read(
            body_of(&[b"abc", b"def"]),
            100,
            None,
            Duration::from_secs(1),
            &budget,
        )
        .await
        .ok()
        .unwrap();
        assert_eq!(&read.bytes[..], b"abcdef");
        assert_eq!(budget.bytes.available_permits(), 4);
        drop(read);
        assert_eq!(budget.bytes.available_permits(), 10);
    }

    #[tokio::test]
    async fn bodies_over_the_limit_or_the_budget_are_refused() {
        let budget = BodyBudget::new(4);
        let big = super::read(
            body_of(&[b"abcdef"]),
            5,
            None,
            Duration::from_secs(1),
            &budget,
        );
        assert_eq!(big.await.err(), Some(BodyError::TooLarge));
        let declared = super::read(body_of(&[]), 5, Some(6), Duration::from_secs(1), &budget);
        assert_eq!(declared.await.err(), Some(BodyError::TooLarge));
        let full = super::read(
            body_of(&[b"abcde"]),
            100,
            None,
            Duration::from_secs(1),
            &budget,
        );
        assert_eq!(full.await.err(), Some(BodyError::BudgetFull));
        assert_eq!(budget.bytes.available_permits(), 4, "nothing kept");
    }

    #[tokio::test]
    async fn a_body_that_stalls_is_cut_off_at_the_deadline() {
        let budget = BodyBudget::new(1024);
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
        tx.send(Ok(Bytes::from_static(b"a"))).await.unwrap();
        let started = Instant::now();
        let r = super::read(body, 100, Some(50), Duration::from_millis(200), &budget).await;
        assert_eq!(r.err(), Some(BodyError::TooSlow));
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(tx);
    }
}
