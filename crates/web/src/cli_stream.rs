//! What `hookvault listen` talks to: the endpoint's event stream (every new capture in full,
//! and the replays the dashboard hands to the CLI), and the two routes on which the CLI reports
//! what the developer's local server answered.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use hookvault_store::cli;
use hookvault_store::replays::NewAttempt;
use hookvault_store::requests::{find_request, list_requests, list_requests_after};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::api::{request_json, ApiUser};
use crate::error::{ApiError, AppError};
use crate::live::{async_stream, last_event_id, sse};
use crate::state::AppState;

/// A CLI row not refreshed for this long is no longer listed as connected.
const TOUCH_EVERY: Duration = Duration::from_secs(15);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/endpoints/{id}/stream", get(stream))
        .route("/api/v1/requests/{id}/deliveries", post(report_delivery))
        .route("/api/v1/replays/{id}/result", post(report_result))
}

#[derive(Deserialize)]
struct StreamQuery {
    /// `cli` registers the stream as a connected CLI shown on the dashboard.
    client: Option<String>,
    /// What the CLI forwards to (shown on the dashboard).
    forward_to: Option<String>,
}

/// `text/event-stream`: a `hello` event whose id is the starting position, then every capture
/// after it as a `request` event (id = its position, data = the request in full, as
/// `GET /api/v1/requests/{id}`), and `replay` events (no id) for replays handed to the CLI.
/// Resumes after `Last-Event-ID`, so a reconnecting CLI misses nothing.
async fn stream(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    hookvault_store::endpoints::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    // "From now on" is fixed before answering: a capture made once the client sees the stream
    // open comes after this point, however late the stream's task gets to run.
    let after = match last_event_id(&headers) {
        Some(seq) => seq,
        None => list_requests(&state.pool, user.id, id, None, 1)
            .await?
            .first()
            .map_or(0, |r| r.seq),
    };
    let session = if q.client.as_deref() == Some("cli") {
        let session = Uuid::now_v7();
        let forward_to = q.forward_to.unwrap_or_default();
        let forward_to: String = forward_to.chars().take(500).collect();
        cli::insert_cli_session(&state.pool, session, user.id, id, &forward_to).await?;
        tracing::info!(endpoint.id = %id, cli.session = %session, "CLI connected");
        Some(session)
    } else {
        None
    };
    Ok(sse(events(state, user.id, id, after, session)).into_response())
}

/// Deletes the CLI's row when its stream ends, however it ends.
struct SessionGuard {
    pool: hookvault_store::PgPool,
    id: Uuid,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let pool = self.pool.clone();
        let id = self.id;
        tokio::spawn(async move {
            let _ = cli::delete_cli_session(&pool, id).await;
            tracing::info!(cli.session = %id, "CLI disconnected");
        });
    }
}

fn events(
    state: AppState,
    user_id: Uuid,
    endpoint_id: Uuid,
    after: i64,
    session: Option<Uuid>,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let mut captures = state.hub.subscribe();
    let mut replays = state.hub.subscribe_cli_replays();
    async_stream(move |out| async move {
        let _guard = session.map(|id| SessionGuard {
            pool: state.pool.clone(),
            id,
        });
        let hello = Event::default()
            .event("hello")
            .id(after.to_string())
            .data(json!({"endpoint_id": endpoint_id, "position": after}).to_string());
        if out.send(Ok(hello)).await.is_err() {
            return;
        }
        let mut cursor = after;
        let mut touched = Instant::now();
        loop {
            // Captures after the cursor, in order, each in full.
            loop {
                let Ok(batch) =
                    list_requests_after(&state.pool, user_id, endpoint_id, cursor, 100).await
                else {
                    break;
                };
                let done = batch.len() < 100;
                for summary in batch {
                    let Ok(Some(r)) = find_request(&state.pool, user_id, summary.id).await else {
                        continue;
                    };
                    let Ok(mut data) = request_json(&r) else {
                        continue;
                    };
                    data["seq"] = json!(r.seq);
                    cursor = r.seq;
                    let ev = Event::default()
                        .event("request")
                        .id(r.seq.to_string())
                        .data(data.to_string());
                    if out.send(Ok(ev)).await.is_err() {
                        return;
                    }
                }
                if done {
                    break;
                }
            }
            // Replays handed to the CLI: only a registered CLI stream claims them.
            if session.is_some() {
                while let Ok(Some(job)) = cli::claim_cli_replay(&state.pool, endpoint_id).await {
                    let Ok(Some(r)) = find_request(&state.pool, user_id, job.request_id).await
                    else {
                        continue;
                    };
                    let Ok(request) = request_json(&r) else {
                        continue;
                    };
                    let ev = Event::default()
                        .event("replay")
                        .data(json!({"replay_id": job.id, "request": request}).to_string());
                    if out.send(Ok(ev)).await.is_err() {
                        return;
                    }
                }
            }
            if let Some(id) = session {
                if touched.elapsed() >= TOUCH_EVERY {
                    let _ = cli::touch_cli_session(&state.pool, id).await;
                    touched = Instant::now();
                }
            }
            // Sleep until something for this endpoint happens (or 10 s, as a safety net and
            // to notice a client that went away).
            let wait = async {
                loop {
                    tokio::select! {
                        e = captures.recv() => match e {
                            Ok(e) if e.endpoint_id == endpoint_id && e.seq > cursor => return true,
                            Ok(_) => {}
                            Err(broadcast::error::RecvError::Lagged(_)) => return true,
                            Err(broadcast::error::RecvError::Closed) => return false,
                        },
                        e = replays.recv() => match e {
                            Ok(id) if id == endpoint_id => return true,
                            Ok(_) => {}
                            Err(broadcast::error::RecvError::Lagged(_)) => return true,
                            Err(broadcast::error::RecvError::Closed) => return false,
                        },
                        // The client went away: end now, so the CLI stops being listed.
                        () = out.closed() => return false,
                    }
                }
            };
            if let Ok(false) = tokio::time::timeout(Duration::from_secs(10), wait).await {
                return;
            }
            if out.is_closed() {
                return;
            }
        }
    })
}

/// What the local server answered, as the CLI reports it.
#[derive(Deserialize)]
struct DeliveryReport {
    #[serde(default)]
    forward_to: String,
    status_code: Option<u16>,
    #[serde(default)]
    duration_ms: u64,
    #[serde(default)]
    response_headers: Vec<(String, String)>,
    #[serde(default)]
    response_body: String,
    error: Option<String>,
}

impl DeliveryReport {
    fn attempt(&self) -> NewAttempt {
        let duration = i32::try_from(self.duration_ms).unwrap_or(i32::MAX);
        let mut body = self.response_body.as_bytes().to_vec();
        let truncated = body.len() > 64 * 1024;
        body.truncate(64 * 1024);
        NewAttempt {
            started_at: OffsetDateTime::now_utc() - Duration::from_millis(self.duration_ms),
            duration_ms: Some(duration),
            status_code: self.status_code.map(i32::from),
            response_headers: self.response_headers.iter().take(200).cloned().collect(),
            response_body: body,
            response_truncated: truncated,
            error: self.error.clone(),
        }
    }

    fn succeeded(&self) -> bool {
        self.error.is_none() && self.status_code.is_some_and(|s| (200..300).contains(&s))
    }

    fn forward_to(&self) -> String {
        self.forward_to.chars().take(2000).collect()
    }
}

/// `POST /api/v1/requests/{id}/deliveries`: the CLI delivered a live capture; recorded in the
/// request's replay history.
async fn report_delivery(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
    Json(report): Json<DeliveryReport>,
) -> Result<Response, ApiError> {
    let replay = cli::insert_cli_delivery(
        &state.pool,
        user.id,
        id,
        &report.forward_to(),
        &report.attempt(),
        report.succeeded(),
    )
    .await?
    .ok_or(AppError::NotFound)?;
    Ok((StatusCode::CREATED, Json(json!({"id": replay}))).into_response())
}

/// `POST /api/v1/replays/{id}/result`: the CLI's answer to a replay handed to it.
async fn report_result(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
    Json(report): Json<DeliveryReport>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let status = if report.succeeded() {
        "succeeded"
    } else {
        "failed"
    };
    let finished = cli::finish_cli_replay(
        &state.pool,
        user.id,
        id,
        &report.attempt(),
        report.succeeded(),
        &report.forward_to(),
    )
    .await?;
    if !finished {
        return Err(AppError::NotFound.into());
    }
    Ok(Json(json!({"id": id, "status": status})))
}
