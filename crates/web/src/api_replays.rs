//! The replay API: queue one replay or a bulk replay, read a replay with its attempts, list the
//! replay history of a capture or an endpoint, and manage saved targets.
//!
//! Targets are checked here, before anything is stored (SSRF rules through the guarded client,
//! the signing scheme and its secret), and refused with HTTP 422 and the reason in words; the
//! workers in `hookvault_replay::worker` check the URL again when they send. Secrets are sealed
//! bound to the row that holds them and never returned; saved targets show a `secret_hint`.

use crate::api_extract::{ApiJson, ApiPath, ApiQuery};
use crate::api_routes::ApiRoutes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hookvault_core::api::{
    AttemptJson, BatchItemJson, BatchJson, ReplayJson, ReplayListJson, ReplayStateJson,
    ReplaySummaryJson,
};
use hookvault_core::ids::{EndpointId, ReplayId, RequestId};
use hookvault_core::stored::ReplayStatus;
use hookvault_replay::order::ReplayOrder;
use hookvault_store::endpoints::find_endpoint;
use hookvault_store::replays::{self as store, ReplayAttempt, ReplaySummary};
use serde::Deserialize;

use crate::api::ApiUser;
use crate::error::{ApiError, AppError};
use crate::ops::replays::*;
use crate::state::AppState;
use crate::views::rfc3339_ms;

pub(crate) mod targets;

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .get("/api/v1/requests/{id}/replays", list_request_replays)
        .post("/api/v1/requests/{id}/replays", create_replay)
        .get("/api/v1/endpoints/{id}/replays", list_endpoint_replays)
        .post("/api/v1/endpoints/{id}/replays", create_bulk_replay)
        .get("/api/v1/replays/{id}", get_replay)
        .merge(targets::router())
}

#[derive(Deserialize, utoipa::ToSchema)]
struct BulkBody {
    request_ids: Vec<RequestId>,
    /// `received` (the default), `created` or `reversed`: sent one after the other in that
    /// order; `none`: sent concurrently, no order guarantee (as Hookdeck and Svix deliver).
    order: Option<String>,
    #[serde(flatten)]
    target: TargetBody,
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    before: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/requests/{id}/replays", tag = "replays", params(("id" = uuid::Uuid, Path, description = "The capture's id"), ("limit" = Option<i64>, Query, description = "Page size"), ("before" = Option<String>, Query, description = "The `next` cursor of the previous page")), responses((status = 200, description = "`{\"replays\":[…],\"next\"}`, newest first", body = hookvault_core::api::ReplayListJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson)))]
async fn list_request_replays(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(id): ApiPath<RequestId>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<ReplayListJson>, ApiError> {
    store::find_request_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    list_page(&state, &user, store::HistoryScope::Request(id), &q).await
}

/// One page of a capture's or an endpoint's replays (ownership already checked).
async fn list_page(
    state: &AppState,
    user: &ApiUser,
    scope: store::HistoryScope,
    q: &ListQuery,
) -> Result<Json<ReplayListJson>, ApiError> {
    let (before, limit) = page(q)?;
    let rows = store::list_replays(&state.pool, user.id, scope, before, limit + 1).await?;
    Ok(Json(list_json(rows, limit)))
}

/// `POST /api/v1/requests/{id}/replays`: queues one replay → 202 `{"id","status":"queued"}`.
#[utoipa::path(post, path = "/api/v1/requests/{id}/replays", tag = "replays", params(("id" = uuid::Uuid, Path, description = "The capture's id")), request_body = crate::ops::replays::TargetBody, responses((status = 202, description = "`{\"id\",\"status\":\"queued\"}`; a `to_cli` replay waits up to a day for `hookvault listen`", body = hookvault_core::api::ReplayStateJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson), (status = 422, description = "Refused input, with the reason", body = hookvault_core::api::ErrorJson), (status = 429, description = "The plan's replays per day", body = hookvault_core::api::ErrorJson)))]
async fn create_replay(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(request_id): ApiPath<RequestId>,
    body: Result<ApiJson<TargetBody>, ApiError>,
) -> Result<Response, ApiError> {
    let endpoint_id = store::find_request_endpoint(&state.pool, user.id, request_id).await?;
    let endpoint_id = crate::usage::found(&state, user.id, request_id, endpoint_id).await?;
    // The body is read after the capture is found: someone else's capture is a 404 whatever
    // the body says.
    let ApiJson(body) = body?;
    let id = queue_one(&state, user.id, endpoint_id, request_id, &body).await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/v1/replays/{id}"))],
        Json(ReplayStateJson {
            id,
            status: ReplayStatus::Queued,
        }),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/endpoints/{id}/replays", tag = "replays", params(("id" = uuid::Uuid, Path, description = "The endpoint's id"), ("limit" = Option<i64>, Query, description = "Page size"), ("before" = Option<String>, Query, description = "The `next` cursor of the previous page")), responses((status = 200, description = "`{\"replays\":[…],\"next\"}`, newest first", body = hookvault_core::api::ReplayListJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson)))]
async fn list_endpoint_replays(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(id): ApiPath<EndpointId>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<ReplayListJson>, ApiError> {
    find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    list_page(&state, &user, store::HistoryScope::Endpoint(id), &q).await
}

/// `POST /api/v1/endpoints/{id}/replays`: queues one batch, sent strictly in the chosen order
/// (or, with `"order":"none"`, concurrently) → 202 `{"batch_id","replays":[{"id","request_id"}]}`
/// in sending (queueing) order.
#[utoipa::path(post, path = "/api/v1/endpoints/{id}/replays", tag = "replays", params(("id" = uuid::Uuid, Path, description = "The endpoint's id")), request_body = BulkBody, responses((status = 202, description = "`{\"batch_id\",\"replays\":[{\"id\",\"request_id\"}]}` in sending order", body = hookvault_core::api::BatchJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson), (status = 422, description = "Refused input, with the reason", body = hookvault_core::api::ErrorJson)))]
async fn create_bulk_replay(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(endpoint_id): ApiPath<EndpointId>,
    body: Result<ApiJson<BulkBody>, ApiError>,
) -> Result<Response, ApiError> {
    find_endpoint(&state.pool, user.id, endpoint_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let ApiJson(body) = body?;
    let order: ReplayOrder = match body.order.as_deref() {
        Some(o) => o.parse().map_err(AppError::invalid)?,
        None => ReplayOrder::default(),
    };
    let (batch_id, replays) = queue_bulk(
        &state,
        user.id,
        endpoint_id,
        &body.request_ids,
        order,
        &body.target,
    )
    .await?;
    let replays = replays
        .iter()
        .map(|r| BatchItemJson {
            id: r.id,
            request_id: r.request_id,
        })
        .collect();
    Ok((StatusCode::ACCEPTED, Json(BatchJson { batch_id, replays })).into_response())
}

/// `GET /api/v1/replays/{id}`: the replay and every attempt, oldest first.
#[utoipa::path(get, path = "/api/v1/replays/{id}", tag = "replays", params(("id" = uuid::Uuid, Path, description = "The replay's id")), responses((status = 200, description = "`{\"id\",\"request_id\",\"target_url\",\"status\",\"attempts\":[…]}`", body = hookvault_core::api::ReplayJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson)))]
async fn get_replay(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(id): ApiPath<ReplayId>,
) -> Result<Json<ReplayJson>, ApiError> {
    let (r, attempts) = store::find_replay_with_attempts(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(ReplayJson {
        id: r.id,
        request_id: r.request_id,
        endpoint_id: r.endpoint_id,
        target_id: r.target_id,
        target_url: r.target_url,
        scheme: r.scheme,
        status: r.status,
        attempts_made: r.attempts_made,
        max_attempts: r.max_attempts,
        next_attempt_at: (r.status == ReplayStatus::Queued).then(|| rfc3339_ms(&r.next_attempt_at)),
        batch_id: r.batch_id,
        position: r.position,
        created_at: rfc3339_ms(&r.created_at),
        finished_at: r.finished_at.as_ref().map(rfc3339_ms),
        attempts: attempts.iter().map(attempt_json).collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn page(q: &ListQuery) -> Result<(Option<ReplayId>, i64), AppError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let before = match q.before.as_deref().filter(|s| !s.is_empty()) {
        Some(c) => Some(
            c.parse::<ReplayId>()
                .map_err(|_| AppError::invalid("invalid cursor"))?,
        ),
        None => None,
    };
    Ok((before, limit))
}

fn list_json(rows: Vec<ReplaySummary>, limit: i64) -> ReplayListJson {
    let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
    let page: Vec<&ReplaySummary> = rows
        .iter()
        .take(usize::try_from(limit).unwrap_or(0))
        .collect();
    let next = if more {
        page.last().map(|r| r.id)
    } else {
        None
    };
    ReplayListJson {
        replays: page.iter().map(|r| summary_json(r)).collect(),
        next,
    }
}

fn summary_json(r: &ReplaySummary) -> ReplaySummaryJson {
    ReplaySummaryJson {
        id: r.id,
        request_id: r.request_id,
        endpoint_id: r.endpoint_id,
        target_id: r.target_id,
        target_url: r.target_url.clone(),
        scheme: r.scheme,
        status: r.status,
        attempts_made: r.attempts_made,
        max_attempts: r.max_attempts,
        batch_id: r.batch_id,
        position: r.position,
        created_at: rfc3339_ms(&r.created_at),
        finished_at: r.finished_at.as_ref().map(rfc3339_ms),
        last_status_code: r.last_status_code,
        last_error: r.last_error.clone(),
        last_duration_ms: r.last_duration_ms,
        last_response_excerpt: r
            .last_response_excerpt
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned()),
        to_cli: r.to_cli,
    }
}

fn attempt_json(a: &ReplayAttempt) -> AttemptJson {
    AttemptJson {
        started_at: rfc3339_ms(&a.started_at),
        duration_ms: a.duration_ms,
        status_code: a.status_code,
        response_headers: a.response_headers.clone(),
        response_body: String::from_utf8_lossy(&a.response_body).into_owned(),
        response_truncated: a.response_truncated,
        error: a.error.clone(),
    }
}
