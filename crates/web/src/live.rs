//! Live updates: one way to follow an endpoint's captures, shared by the dashboard's live list
//! and the CLI stream.
//!
//! Committed captures are announced over NOTIFY (`hookvault_store::notify`); each server process
//! listens once and fans the announcements out through a [`Hub`]. A [`Follow`] reads the store
//! by position (`hookvault_store::feed`), so it never skips or repeats a capture, and uses the
//! announcements only as wake-ups.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::Stream;
use hookvault_core::ids::{EndpointId, RequestId, UserId};
use hookvault_core::position::Position;
use hookvault_store::feed::{self, FeedEntry};
use hookvault_store::notify::Notice;
use hookvault_store::{PgPool, StoreError};
use tokio::sync::{broadcast, mpsc};

use crate::access::{Access, Grant};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::views::RequestRowHtml;

/// With no announcement, a follower still looks at the store this often.
const SAFETY_POLL: Duration = Duration::from_secs(10);
/// While committed captures wait for an older transaction, a follower looks again after this
/// long, doubling up to [`PENDING_RETRY_MAX`].
const PENDING_RETRY_MIN: Duration = Duration::from_millis(10);
const PENDING_RETRY_MAX: Duration = Duration::from_millis(250);

/// A client that has not taken an event for this long is treated as gone: its stream ends.
pub(crate) const STALL_LIMIT: Duration = Duration::from_secs(60);

/// Where a stream's task puts its events.
pub(crate) type Out = mpsc::Sender<Result<Event, Infallible>>;

/// Hands an event to the client; false when it went away or has not read for [`STALL_LIMIT`].
pub(crate) async fn send(out: &Out, ev: Event) -> bool {
    match tokio::time::timeout(STALL_LIMIT, out.send(Ok(ev))).await {
        Ok(sent) => sent.is_ok(),
        Err(_) => {
            tracing::info!("closing a stream whose client stopped reading");
            false
        }
    }
}

/// Open streams per account in this process, capped: one account cannot hold the streams'
/// memory and connections of everyone.
#[derive(Clone, Default)]
pub struct StreamCounts {
    open: Arc<Mutex<HashMap<UserId, usize>>>,
}

/// One open stream, counted until dropped.
pub(crate) struct StreamTicket {
    counts: StreamCounts,
    user_id: UserId,
    /// Counts it in the process's metrics while open.
    _metric: hookvault_metrics::StreamGuard,
}

impl StreamCounts {
    /// Counts a new stream of `user_id`, or says why not.
    pub(crate) fn open(&self, user_id: UserId, limit: usize) -> Result<StreamTicket, AppError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(user_id).or_insert(0);
        if *n >= limit {
            return Err(AppError::TooManyRequests(format!(
                "this account already has {limit} open streams (live lists and hookvault listen); close one and try again"
            )));
        }
        *n += 1;
        Ok(StreamTicket {
            counts: self.clone(),
            user_id,
            _metric: hookvault_metrics::stream_opened(),
        })
    }
}

impl Drop for StreamTicket {
    fn drop(&mut self) {
        let mut open = self
            .counts
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

/// In-process fan-out of what the notification listener hears. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Notice>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(4096).0,
        }
    }
}

impl Hub {
    /// Passes an announcement on to every follower in this process.
    pub fn publish(&self, notice: Notice) {
        let _ = self.tx.send(notice);
    }
}

/// Follows one endpoint's captures from a position.
pub(crate) struct Follow {
    pool: PgPool,
    user_id: UserId,
    endpoint_id: EndpointId,
    position: Position,
    notices: broadcast::Receiver<Notice>,
    /// Captures wait behind an older transaction: look again after this long.
    retry: Option<Duration>,
}

impl Follow {
    pub(crate) fn new(
        state: &AppState,
        user_id: UserId,
        endpoint_id: EndpointId,
        from: Position,
    ) -> Self {
        Follow {
            pool: state.pool.clone(),
            user_id,
            endpoint_id,
            position: from,
            notices: state.hub.tx.subscribe(),
            retry: None,
        }
    }

    pub(crate) fn position(&self) -> &Position {
        &self.position
    }

    /// The next captures after the position (at most `limit`), in position order; the
    /// position moves past them.
    pub(crate) async fn next_page(&mut self, limit: i64) -> Result<Vec<FeedEntry>, StoreError> {
        let page = feed::captures_after(
            &self.pool,
            self.user_id,
            self.endpoint_id,
            &self.position,
            limit,
        )
        .await
        .inspect_err(|e| {
            tracing::warn!(error = %e, endpoint.id = %self.endpoint_id, "reading the feed failed; retrying");
            // Look again soon rather than at the next announcement.
            self.retry = Some(PENDING_RETRY_MAX);
        })?;
        self.position = page.next;
        self.retry = page.pending.then(|| match self.retry {
            Some(r) => (r * 2).min(PENDING_RETRY_MAX),
            None => PENDING_RETRY_MIN,
        });
        Ok(page.entries)
    }

    /// Waits until there may be more to read: an announcement for this endpoint (captures, or
    /// a replay handed to its CLI), missed announcements, a retry while captures wait behind an
    /// older transaction, or the safety poll. `false` once the server is shutting down.
    pub(crate) async fn changed(&mut self) -> bool {
        let wait = self.retry.unwrap_or(SAFETY_POLL);
        let endpoint_id = self.endpoint_id;
        let heard = async {
            loop {
                match self.notices.recv().await {
                    Ok(
                        Notice::Captures { endpoint_id: e } | Notice::CliReplay { endpoint_id: e },
                    ) if e == endpoint_id => return true,
                    Ok(Notice::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        return true
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Closed) => return false,
                }
            }
        };
        tokio::time::timeout(wait, heard).await.unwrap_or(true)
    }
}

/// Where a stream starts: after `Last-Event-ID` when the client resumes, else after `after`
/// (a position the client was given), else from now on.
pub(crate) async fn start_position(
    pool: &PgPool,
    headers: &HeaderMap,
    after: Option<&str>,
) -> Result<Position, AppError> {
    let given = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or_default())
        .or(after);
    match given {
        Some(text) => text
            .parse()
            .map_err(|e: hookvault_core::position::BadPosition| AppError::invalid(e.to_string())),
        None => Ok(feed::head(pool).await?),
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/endpoints/{id}/live", get(dashboard_stream))
}

#[derive(serde::Deserialize)]
struct AfterQuery {
    after: Option<String>,
}

/// The dashboard's live list: one `request` event per new capture, whose data is the list row
/// as HTML (the same template as the page's rows) and whose id is the position after it. The
/// page passes `?after=` the position it was rendered at; a reconnect's `Last-Event-ID` takes
/// precedence.
async fn dashboard_stream(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<EndpointId>,
    Query(q): Query<AfterQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    hookvault_store::endpoints::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let from = start_position(&state.pool, &headers, q.after.as_deref()).await?;
    let ticket = state
        .streams
        .open(user.id, state.config.max_streams_per_account)?;
    let follow = Follow::new(&state, user.id, id, from);
    // Ends the stream within 30 s of logout (crate::access).
    let session_id = user.session.id().ok_or(AppError::NotFound)?;
    let access = Access::new(&state, user.id, Grant::Session(session_id));
    Ok(sse(rows(state.pool.clone(), user.id, follow, ticket, access)).into_response())
}

fn rows(
    pool: PgPool,
    user_id: UserId,
    mut follow: Follow,
    ticket: StreamTicket,
    mut access: Access,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    event_stream(64, move |out| async move {
        let _ticket = ticket;
        loop {
            // Catch up with the store, a page at a time.
            loop {
                let Ok(entries) = follow.next_page(200).await else {
                    break;
                };
                let ids: Vec<RequestId> = entries.iter().map(|e| e.id).collect();
                // The position has moved past these entries: if their rows cannot be read,
                // end the stream, and the browser resumes after the last row it got.
                let Ok(summaries) =
                    hookvault_store::requests::summaries_by_ids(&pool, user_id, &ids).await
                else {
                    return;
                };
                for (entry, summary) in paired(&entries, summaries, |s| s.id) {
                    let Ok(html) = RequestRowHtml::from(summary).render() else {
                        continue;
                    };
                    let ev = Event::default()
                        .event("request")
                        .id(entry.after.to_string())
                        .data(html);
                    if !send(&out, ev).await {
                        return;
                    }
                }
                if entries.len() < 200 {
                    break;
                }
            }
            tokio::select! {
                more = follow.changed() => if !more { return },
                () = out.closed() => return,
                () = access.revoked() => return,
            }
        }
    })
}

/// Pairs feed entries with the rows fetched for them, in the entries' order (a capture deleted
/// in between has no row and is left out).
pub(crate) fn paired<T>(
    entries: &[FeedEntry],
    rows: Vec<T>,
    id: impl Fn(&T) -> RequestId,
) -> Vec<(&FeedEntry, T)> {
    let mut rows = rows.into_iter().peekable();
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        if let Some(row) = rows.next_if(|r| id(r) == entry.id) {
            out.push((entry, row));
        }
    }
    out
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

/// A stream of events produced by a task on a channel of `capacity` events: the task ends when
/// the client goes away (`out.closed()` resolves, `send` fails).
pub(crate) fn event_stream<F, Fut>(
    capacity: usize,
    produce: F,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static
where
    F: FnOnce(mpsc::Sender<Result<Event, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(capacity);
    tokio::spawn(produce(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}
