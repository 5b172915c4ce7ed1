//! Records every HTTP/1 request head exactly as it arrived on the wire.
//!
//! hyper hands the service an [`http::Request`] whose `HeaderMap` has lowercased names and
//! groups repeated headers together, losing their interleaving with other headers; the
//! request-target survives only as a parsed [`http::Uri`]. Hookvault stores requests verbatim,
//! so it wraps each connection's IO in a [`RecordingIo`]. The wrapper watches the bytes hyper
//! reads, parses every request head with `httparse` as soon as it is complete, skips request
//! bodies with the same framing rules hyper applies, and pushes the heads, in order, into a
//! [`HeadQueue`] shared with the connection's service. hyper calls the service once per
//! request, in order, after reading that request's head, so by then the head is in the queue
//! and the service pops it ([`HeadQueue::pop_for`] also checks it is the right one).
//!
//! ```ignore
//! let queue = HeadQueue::new();
//! let io = hyper_util::rt::TokioIo::new(RecordingIo::new(tcp_stream, queue.clone()));
//! let service = hyper::service::service_fn(move |req| {
//!     let raw = queue.pop_for(req.method(), req.uri()); // None: fall back to req.headers()
//!     handle(req, raw)
//! });
//! hyper::server::conn::http1::Builder::new().serve_connection(io, service).await
//! ```
//!
//! The recorder only observes: reads and writes reach the inner IO untouched, so
//! `Expect: 100-continue` and everything else behave as without it. Whenever it cannot be
//! sure to stay in step with hyper (a head hyper would reject, an upgrade or `CONNECT`, an
//! oversized head, a malformed chunked body, too many queued heads) it stops recording for
//! the rest of the connection. Heads already queued stay valid; later requests simply get
//! no recorded head, never a wrong one.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use hookvault_core::headers::{RawHeader, Redacted};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Most header fields recorded in one head; hyper's default limit (`max_headers`) too.
/// A head with more stops recording (hyper answers it with 431 by default).
pub const MAX_HEADERS: usize = 100;

/// Most bytes one request head may take before recording stops: hyper's default
/// `max_buf_size` (8 KiB + 400 KiB), so any head hyper accepts by default is recorded.
pub const MAX_HEAD_BYTES: usize = 8192 + 4096 * 100;

/// Most heads queued and not yet popped; past this the connection stops recording.
pub const MAX_QUEUED_HEADS: usize = 1024;

/// Most head bytes (method, target, names and values) queued and not yet popped; past this
/// the connection stops recording.
pub const MAX_QUEUED_BYTES: usize = 4 * MAX_HEAD_BYTES;

/// Shrink the head buffer back after a head bigger than this.
const KEEP_HEAD_CAPACITY: usize = 16 * 1024;

const HTTP_10: &str = "HTTP/1.0";
const HTTP_11: &str = "HTTP/1.1";

/// One request head exactly as received. `Debug` hides the target (its query may carry
/// secrets) and header values.
#[derive(Clone, PartialEq, Eq)]
pub struct RawHead {
    /// The method token, as sent.
    pub method: String,
    /// The raw request-target, percent-encoding and all (`httparse` only accepts UTF-8 here).
    pub target: String,
    /// `"HTTP/1.0"` or `"HTTP/1.1"`.
    pub version: &'static str,
    /// Header fields in arrival order, with their original name case and raw value bytes
    /// (`httparse` drops the optional whitespace around a value, as HTTP defines it).
    pub headers: Vec<RawHeader>,
}

impl std::fmt::Debug for RawHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawHead")
            .field("method", &self.method)
            .field("target", &Redacted(self.target.len()))
            .field("version", &self.version)
            .field("headers", &self.headers)
            .finish()
    }
}

impl RawHead {
    /// Whether this is the head hyper turned into a request with this method and URI
    /// (hyper builds the URI from the same target bytes, so equal heads give equal URIs).
    pub fn matches(&self, method: &http::Method, uri: &http::Uri) -> bool {
        self.method == method.as_str()
            && http::Uri::try_from(self.target.as_str()).is_ok_and(|own| own == *uri)
    }

    /// Rough number of bytes this head holds, for the queue's memory limit.
    fn weight(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len() + 4)
            .sum();
        self.method.len() + self.target.len() + headers
    }
}

/// Shared between the IO wrapper and the service of one connection. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct HeadQueue {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    queued: Mutex<Queued>,
    stopped: AtomicBool,
}

#[derive(Debug, Default)]
struct Queued {
    heads: VecDeque<RawHead>,
    bytes: usize,
}

impl HeadQueue {
    /// An empty queue for a new connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// The oldest recorded head not yet taken, if any.
    pub fn pop(&self) -> Option<RawHead> {
        let mut queued = self.lock();
        let head = queued.heads.pop_front()?;
        queued.bytes = queued.bytes.saturating_sub(head.weight());
        Some(head)
    }

    /// Pops the head of the request hyper parsed as `method` and `uri`.
    ///
    /// Returns `None` when recording stopped before this request. If the queue is out of step
    /// with hyper (empty while still recording, or the oldest head is another request's), it
    /// drops every queued head, stops recording for the connection and returns `None`, so a
    /// request is never paired with a wrong head.
    pub fn pop_for(&self, method: &http::Method, uri: &http::Uri) -> Option<RawHead> {
        let mut queued = self.lock();
        match queued.heads.pop_front() {
            Some(head) if head.matches(method, uri) => {
                queued.bytes = queued.bytes.saturating_sub(head.weight());
                Some(head)
            }
            Some(head) => {
                tracing::warn!(
                    recorded_method = %head.method,
                    recorded_target = %head.target,
                    %method,
                    %uri,
                    "raw head recorder out of step with hyper; recording stopped"
                );
                queued.heads.clear();
                queued.bytes = 0;
                self.shared.stopped.store(true, Ordering::Release);
                None
            }
            None => {
                if self.is_recording() {
                    tracing::warn!(
                        %method,
                        %uri,
                        "no recorded head for a request while recording; recording stopped"
                    );
                    self.shared.stopped.store(true, Ordering::Release);
                }
                None
            }
        }
    }

    /// Whether the connection is still recording heads. Once it stopped, heads already queued
    /// can still be popped, but no new ones arrive.
    pub fn is_recording(&self) -> bool {
        !self.shared.stopped.load(Ordering::Acquire)
    }

    /// Stops recording for the rest of the connection; heads already queued stay.
    pub fn stop(&self) {
        self.shared.stopped.store(true, Ordering::Release);
    }

    /// Queues a head; stops recording instead if the queue is full.
    fn push(&self, head: RawHead) -> bool {
        let mut queued = self.lock();
        let weight = head.weight();
        if queued.heads.len() >= MAX_QUEUED_HEADS
            || queued.bytes.saturating_add(weight) > MAX_QUEUED_BYTES
        {
            drop(queued);
            self.stop();
            return false;
        }
        queued.bytes += weight;
        queued.heads.push_back(head);
        true
    }

    fn lock(&self) -> MutexGuard<'_, Queued> {
        // The queue stays consistent even if a holder panicked, so a poisoned lock is fine.
        self.shared
            .queued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// AsyncRead + AsyncWrite wrapper that records request heads as they are read.
///
/// Wrap the accepted connection in it, then in `hyper_util::rt::TokioIo`, and serve it with
/// hyper's HTTP/1 server (HTTP/1 only: it parses the bytes as HTTP/1). Writes pass through.
#[derive(Debug)]
pub struct RecordingIo<T> {
    inner: T,
    queue: HeadQueue,
    recorder: Recorder,
}

impl<T> RecordingIo<T> {
    /// Wraps `inner`, pushing each request head read from it into `queue`.
    pub fn new(inner: T, queue: HeadQueue) -> Self {
        Self {
            inner,
            queue,
            recorder: Recorder::default(),
        }
    }

    /// The wrapped IO.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The queue heads are pushed into.
    pub fn queue(&self) -> &HeadQueue {
        &self.queue
    }

    /// Unwraps the inner IO, ending recording.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for RecordingIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            match buf.filled().get(before..) {
                Some(new) => this.recorder.feed(new, &this.queue),
                // The inner reader shrank the filled part: we no longer know what hyper sees.
                None => this
                    .recorder
                    .stop(&this.queue, "inner reader shrank the buffer"),
            }
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for RecordingIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

mod recorder;

use recorder::*;

#[cfg(test)]
mod tests;
