//! Live updates. Committed captures are announced with Postgres NOTIFY; each server process
//! listens once and fans the announcements out through a [`Hub`] to Server-Sent-Events streams.
//! Streams resume after `Last-Event-ID` with a catch-up query, so a reconnect misses nothing.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::Stream;
use hookvault_store::requests::{list_requests_after, RequestSummary};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::views::rfc3339_ms;

/// A capture was committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewRequestEvent {
    pub endpoint_id: Uuid,
    pub seq: i64,
}

impl NewRequestEvent {
    /// Parses a NOTIFY payload `endpoint_id:seq`.
    pub fn parse(payload: &str) -> Option<Self> {
        let (e, s) = payload.split_once(':')?;
        Some(Self {
            endpoint_id: e.parse().ok()?,
            seq: s.parse().ok()?,
        })
    }
}

/// In-process fan-out of announcements. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<NewRequestEvent>,
    cli_tx: broadcast::Sender<Uuid>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(4096).0,
            cli_tx: broadcast::channel(1024).0,
        }
    }
}

impl Hub {
    pub fn publish(&self, e: NewRequestEvent) {
        let _ = self.tx.send(e);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<NewRequestEvent> {
        self.tx.subscribe()
    }

    /// A replay was queued for this endpoint's connected CLI.
    pub fn publish_cli_replay(&self, endpoint_id: Uuid) {
        let _ = self.cli_tx.send(endpoint_id);
    }

    pub fn subscribe_cli_replays(&self) -> broadcast::Receiver<Uuid> {
        self.cli_tx.subscribe()
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/endpoints/{id}/live", get(dashboard_stream))
}

/// The dashboard's live list: one `request` event per new capture, JSON summary as data.
/// The page passes `?after=<newest seq it shows>` so nothing captured between rendering the page
/// and opening the stream is missed; a reconnect's `Last-Event-ID` takes precedence.
async fn dashboard_stream(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Query(q): Query<AfterQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    hookvault_store::endpoints::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let after = last_event_id(&headers).or(q.after.filter(|a| *a >= 0));
    Ok(sse(request_events(state, user.id, id, after)).into_response())
}

#[derive(serde::Deserialize)]
struct AfterQuery {
    after: Option<i64>,
}

/// `Last-Event-ID` as a seq; `None` means "from now on".
pub(crate) fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

pub(crate) fn sse<S>(stream: S) -> impl IntoResponse
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("heartbeat"),
    )
}

/// Summary JSON of a capture for live lists.
pub(crate) fn summary_json(r: &RequestSummary) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "seq": r.seq,
        "method": r.method,
        "path": if r.path.is_empty() { "/" } else { &r.path },
        "query": r.query,
        "body_size": r.body_size,
        "size": hookvault_core::render::human_size(u64::try_from(r.body_size).unwrap_or(0)),
        "content_type": r.content_type,
        "received_at": rfc3339_ms(&r.received_at),
        "provider": r.provider,
        "event_type": r.event_type,
        "event_id": r.event_id,
        "signature_status": r.signature_status,
        "signature_reason": r.signature_reason,
    })
}

/// Every capture of `endpoint_id` after `after` (catch-up, oldest first), then each new one as
/// it is announced. Announcements are only hints: the stream always reads from the store by
/// seq, so a lagging or missed announcement is caught up by the next one or the heartbeat poll.
fn request_events(
    state: AppState,
    user_id: Uuid,
    endpoint_id: Uuid,
    after: Option<i64>,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let mut rx = state.hub.subscribe();
    async_stream(move |yielder| async move {
        let mut cursor = match after {
            Some(seq) => seq,
            None => {
                hookvault_store::requests::list_requests(&state.pool, user_id, endpoint_id, None, 1)
                    .await
                    .ok()
                    .and_then(|v| v.first().map(|r| r.seq))
                    .unwrap_or(0)
            }
        };
        loop {
            // Catch up from the store.
            loop {
                let batch =
                    match list_requests_after(&state.pool, user_id, endpoint_id, cursor, 200).await
                    {
                        Ok(b) => b,
                        Err(_) => break,
                    };
                let done = batch.len() < 200;
                for r in batch {
                    cursor = r.seq;
                    let ev = Event::default()
                        .event("request")
                        .id(r.seq.to_string())
                        .data(summary_json(&r).to_string());
                    if yielder.send(Ok(ev)).await.is_err() {
                        return;
                    }
                }
                if done {
                    break;
                }
            }
            // Wait for an announcement for this endpoint (or poll every 10 s as a safety net).
            let wait = async {
                loop {
                    match rx.recv().await {
                        Ok(e) if e.endpoint_id == endpoint_id && e.seq > cursor => return true,
                        Ok(_) => continue,
                        Err(broadcast::error::RecvError::Lagged(_)) => return true,
                        Err(broadcast::error::RecvError::Closed) => return false,
                    }
                }
            };
            if let Ok(false) = tokio::time::timeout(Duration::from_secs(10), wait).await {
                return;
            }
            if yielder.is_closed() {
                return;
            }
        }
    })
}

/// A tiny stream builder on a channel: the producer task ends when the consumer goes away.
pub(crate) fn async_stream<F, Fut>(
    f: F,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Event, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}
