//! What `hookvault listen` talks to: the endpoint's event stream (every new capture in full,
//! and the replays the dashboard hands to the CLI), and the two routes on which the CLI reports
//! what the developer's local server answered.

use crate::api_extract::{ApiJson, ApiPath, ApiQuery};
use crate::api_routes::ApiRoutes;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::Stream;
use hookvault_core::ids::{CliSessionId, EndpointId, ReplayId, RequestId, UserId};
use hookvault_store::cli;
use hookvault_store::replays::ReplayAttempt;
use hookvault_store::requests::{find_request, find_requests_by_ids};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::access::{Access, Grant};
use hookvault_core::api::{
    CliReplayJson, DeliveryJson, DeliveryRecordedJson, HelloJson, ReplayStateJson,
};
use hookvault_core::stored::ReplayStatus;

use crate::api::ApiUser;
use crate::batch::by_bytes;
use crate::error::{ApiError, AppError};
use crate::live::{event_stream, paired, send, sse, start_position, Follow, StreamTicket};
use crate::ops::requests::{request_json, with_body, BodyJson};
use crate::state::AppState;

/// A CLI row not refreshed for this long is no longer listed as connected.
const TOUCH_EVERY: Duration = Duration::from_secs(15);

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .get("/api/v1/endpoints/{id}/stream", stream)
        .post("/api/v1/requests/{id}/deliveries", report_delivery)
        .post("/api/v1/replays/{id}/result", report_result)
}

#[derive(Deserialize)]
struct StreamQuery {
    /// `cli` registers the stream as a connected CLI shown on the dashboard.
    client: Option<String>,
    /// What the CLI forwards to (shown on the dashboard).
    forward_to: Option<String>,
}

/// `text/event-stream`: a `hello` event whose id is the starting position, then every capture
/// after it as a `request` event (id = the position after it, data = the request in full, as
/// `GET /api/v1/requests/{id}`), and `replay` events (no id) for replays handed to the CLI.
/// Resumes after `Last-Event-ID`, so a reconnecting CLI misses nothing and gets nothing twice.
#[utoipa::path(get, path = "/api/v1/endpoints/{id}/stream", tag = "cli", params(("id" = uuid::Uuid, Path, description = "The endpoint's id"), ("client" = Option<String>, Query, description = "`cli` registers a connected `hookvault listen` (API token only)"), ("forward_to" = Option<String>, Query, description = "What the CLI forwards to"), ("Last-Event-ID" = Option<String>, Header, description = "Resume after this position")), responses((status = 200, description = "`text/event-stream`: `hello`, then `request` events (data: the request in full, `catch_up` when received before the stream opened) and `replay` events (data: `CliReplayJson`)", content_type = "text/event-stream", body = String), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson), (status = 422, description = "Refused input, with the reason", body = hookvault_core::api::ErrorJson), (status = 429, description = "Too many streams", body = hookvault_core::api::ErrorJson)))]
async fn stream(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(id): ApiPath<EndpointId>,
    ApiQuery(q): ApiQuery<StreamQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    hookvault_store::endpoints::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    // "From now on" is fixed before answering: a capture made once the client sees the stream
    // open comes after this point, however late the stream's task gets to run.
    let from = start_position(&state.pool, &headers, None).await?;
    // Captures received before this instant and delivered on this stream are its catch-up.
    let opened_at = OffsetDateTime::now_utc();
    let ticket = state
        .streams
        .open(user.id, state.config.max_streams_per_account)?;
    // Only a CLI (an API token) registers as a connected CLI: a GET changes no state for a
    // browser, whose cookies another site's link can make it send.
    let by_token = matches!(user.grant, Grant::Token(_));
    let session = if q.client.as_deref() == Some("cli") && by_token {
        let session = CliSessionId::now_v7();
        let forward_to = q.forward_to.unwrap_or_default();
        let forward_to: String = forward_to.chars().take(500).collect();
        // The plan's concurrent `hookvault listen` streams, counted over every process.
        let limit = hookvault_store::plans::user_plan(&state.pool, user.id)
            .await?
            .map_or(i64::MAX, |p| i64::from(p.listen_streams));
        if !cli::insert_cli_session(&state.pool, session, user.id, id, &forward_to, limit).await? {
            return Err(AppError::TooManyRequests(format!(
                "this account's plan allows {limit} connected hookvault listen streams at once; stop one and try again"
            ))
            .into());
        }
        tracing::info!(endpoint.id = %id, cli.session = %session, "CLI connected");
        Some(session)
    } else {
        None
    };
    let follow = Follow::new(&state, user.id, id, from);
    // Ends the stream within 30 s of the token's revocation or the session's logout.
    let access = Access::new(&state, user.id, user.grant);
    Ok(sse(events(
        state, user.id, id, follow, session, ticket, access, opened_at,
    ))
    .into_response())
}

/// Deletes the CLI's row when its stream ends, however it ends.
struct SessionGuard {
    pool: hookvault_store::PgPool,
    id: CliSessionId,
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

/// Captures per feed page.
const PAGE: i64 = 100;
/// Most body bytes fetched at once (a capture larger than this is fetched alone).
const FETCH_BYTES: usize = 4 * 1024 * 1024;
/// Events buffered between the stream's task and the connection: the task waits when the
/// client does not read.
const BUFFERED_EVENTS: usize = 4;
/// Bodies larger than this are sent as a `body_url` to fetch instead of inline.
const INLINE_BODY_BYTES: usize = 256 * 1024;

#[expect(
    clippy::too_many_arguments,
    reason = "the stream task owns each of these for its whole life"
)]
fn events(
    state: AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    mut follow: Follow,
    session: Option<CliSessionId>,
    ticket: StreamTicket,
    mut access: Access,
    opened_at: OffsetDateTime,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    event_stream(BUFFERED_EVENTS, move |out| async move {
        let _ticket = ticket;
        let _guard = session.map(|id| SessionGuard {
            pool: state.pool.clone(),
            id,
        });
        let start = follow.position().to_string();
        let hello = Event::default().event("hello").id(start.clone()).data(
            serde_json::to_string(&HelloJson {
                endpoint_id,
                position: start,
            })
            .unwrap_or_default(),
        );
        if !send(&out, hello).await {
            return;
        }
        let mut touched = Instant::now();
        loop {
            // Captures after the position, in order, each in full.
            loop {
                let Ok(entries) = follow.next_page(PAGE).await else {
                    break;
                };
                for chunk in by_bytes(&entries, FETCH_BYTES, |e| {
                    usize::try_from(e.body_size).unwrap_or(0)
                }) {
                    let ids: Vec<RequestId> = chunk.iter().map(|e| e.id).collect();
                    let Ok(rows) = find_requests_by_ids(&state.pool, user_id, &ids).await else {
                        return;
                    };
                    for (entry, r) in paired(chunk, rows, |r| r.id) {
                        // An edited copy made in the dashboard was never received: it reaches
                        // the CLI only when a replay sends it there.
                        if r.edited_from.is_some() {
                            continue;
                        }
                        // Large bodies go by reference: the stream's memory does not grow
                        // with body size, and a client that stops reading holds little.
                        let body = if r.body.len() > INLINE_BODY_BYTES {
                            BodyJson::ByReference
                        } else {
                            BodyJson::Inline
                        };
                        let Ok(mut data) = with_body(&r, body) else {
                            continue;
                        };
                        data.catch_up = r.received_at < opened_at;
                        let Ok(data) = serde_json::to_string(&data) else {
                            continue;
                        };
                        let ev = Event::default()
                            .event("request")
                            .id(entry.after.to_string())
                            .data(data);
                        if !send(&out, ev).await {
                            return;
                        }
                    }
                }
                if (entries.len() as i64) < PAGE {
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
                    let replay = CliReplayJson {
                        replay_id: job.id,
                        request,
                    };
                    let Ok(data) = serde_json::to_string(&replay) else {
                        continue;
                    };
                    let ev = Event::default().event("replay").data(data);
                    if !send(&out, ev).await {
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
            // Sleep until something for this endpoint happens; end as soon as the client goes
            // away, so the CLI stops being listed.
            tokio::select! {
                more = follow.changed() => if !more { return },
                () = out.closed() => return,
                () = access.revoked() => return,
            }
        }
    })
}

/// What the local server answered, as the CLI reports it (the CLI writes the same type).
#[derive(Deserialize)]
#[serde(transparent)]
struct DeliveryReport(DeliveryJson);

/// The longest delivery a CLI may report (a day): anything longer is a broken client.
const MAX_DURATION_MS: u64 = 24 * 60 * 60 * 1000;

impl DeliveryReport {
    /// Refuses a report that cannot describe a real delivery.
    fn checked(self) -> Result<Self, AppError> {
        if self.0.duration_ms > MAX_DURATION_MS {
            return Err(AppError::invalid(format!(
                "duration_ms must be at most {MAX_DURATION_MS} (a day)"
            )));
        }
        Ok(self)
    }

    fn attempt(&self) -> ReplayAttempt {
        let duration = i32::try_from(self.0.duration_ms).unwrap_or(i32::MAX);
        let mut body = self.0.response_body.as_bytes().to_vec();
        let truncated = body.len() > 64 * 1024;
        body.truncate(64 * 1024);
        ReplayAttempt {
            started_at: OffsetDateTime::now_utc() - Duration::from_millis(self.0.duration_ms),
            duration_ms: Some(duration),
            status_code: self.0.status_code.map(i32::from),
            response_headers: self.0.response_headers.iter().take(200).cloned().collect(),
            response_body: body,
            response_truncated: truncated,
            error: self.0.error.clone(),
        }
    }

    fn succeeded(&self) -> bool {
        self.0.error.is_none() && self.0.status_code.is_some_and(|s| (200..300).contains(&s))
    }

    fn forward_to(&self) -> String {
        self.0.forward_to.chars().take(2000).collect()
    }
}

/// `POST /api/v1/requests/{id}/deliveries`: the CLI delivered a live capture; recorded in the
/// request's replay history.
#[utoipa::path(post, path = "/api/v1/requests/{id}/deliveries", tag = "cli", params(("id" = uuid::Uuid, Path, description = "The capture's id")), request_body = hookvault_core::api::DeliveryJson, responses((status = 201, description = "`{\"id\"}` of the recorded delivery", body = hookvault_core::api::DeliveryRecordedJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson), (status = 422, description = "Refused input, with the reason", body = hookvault_core::api::ErrorJson)))]
async fn report_delivery(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(id): ApiPath<RequestId>,
    ApiJson(report): ApiJson<DeliveryReport>,
) -> Result<Response, ApiError> {
    let report = report.checked()?;
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
    Ok((
        StatusCode::CREATED,
        Json(DeliveryRecordedJson { id: replay }),
    )
        .into_response())
}

/// `POST /api/v1/replays/{id}/result`: the CLI's answer to a replay handed to it.
#[utoipa::path(post, path = "/api/v1/replays/{id}/result", tag = "cli", params(("id" = uuid::Uuid, Path, description = "The replay's id")), request_body = hookvault_core::api::DeliveryJson, responses((status = 200, description = "`{\"id\",\"status\"}`", body = hookvault_core::api::ReplayStateJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson), (status = 422, description = "Refused input, with the reason", body = hookvault_core::api::ErrorJson)))]
async fn report_result(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(id): ApiPath<ReplayId>,
    ApiJson(report): ApiJson<DeliveryReport>,
) -> Result<Json<ReplayStateJson>, ApiError> {
    let report = report.checked()?;
    let status = if report.succeeded() {
        ReplayStatus::Succeeded
    } else {
        ReplayStatus::Failed
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
    hookvault_metrics::replay_attempt(status.as_str());
    Ok(Json(ReplayStateJson { id, status }))
}
