//! The replay API: queue one replay or a bulk replay, read a replay with its attempts, list the
//! replay history of a capture or an endpoint, and manage saved targets.
//!
//! Targets are checked here, before anything is stored (SSRF rules through the guarded client,
//! the signing scheme and its secret), and refused with HTTP 422 and the reason in words; the
//! workers in `hookvault_replay::worker` check the URL again when they send. Secrets are sealed
//! bound to the row that holds them and never returned; saved targets show a `secret_hint`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hookvault_core::signing::Scheme;
use hookvault_replay::order::{self, Candidate, ReplayOrder};
use hookvault_replay::target::{self, CheckedTarget, TargetError};
use hookvault_store::endpoints::find_endpoint;
use hookvault_store::replays::{self as store, NewReplay, ReplayAttempt, ReplaySummary};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::api::ApiUser;
use crate::error::{ApiError, AppError};
use crate::state::AppState;
use crate::views::rfc3339_ms;

pub(crate) mod targets;

/// Most captures one bulk replay may name.
const MAX_BULK: usize = 1000;

/// Captures whose bodies are loaded at once to read their `created` field.
const CREATED_CHUNK: usize = 100;

/// Answer to `{"to_cli":true}` when no `hookvault listen` is connected.
const NO_CLI: &str = "no hookvault listen CLI is connected to this endpoint";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/requests/{id}/replays",
            get(list_request_replays).post(create_replay),
        )
        .route(
            "/api/v1/endpoints/{id}/replays",
            get(list_endpoint_replays).post(create_bulk_replay),
        )
        .route("/api/v1/replays/{id}", get(get_replay))
        .merge(targets::router())
}

/// Where a replay goes: a URL with its signing, a saved target, or the connected CLI.
#[derive(Deserialize, Default)]
pub(crate) struct TargetBody {
    pub target_url: Option<String>,
    pub target_id: Option<Uuid>,
    pub signing: Option<SigningBody>,
    pub max_attempts: Option<i64>,
    #[serde(default)]
    pub to_cli: bool,
}

#[derive(Deserialize)]
pub(crate) struct SigningBody {
    pub scheme: Option<String>,
    pub secret: Option<String>,
}

#[derive(Deserialize)]
struct BulkBody {
    request_ids: Vec<Uuid>,
    order: Option<String>,
    #[serde(flatten)]
    target: TargetBody,
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    before: Option<String>,
}

async fn list_request_replays(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    store::find_request_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let (before, limit) = page(&q)?;
    let rows = store::list_request_replays(&state.pool, user.id, id, before, limit + 1).await?;
    Ok(Json(list_json(rows, limit)))
}

/// `POST /api/v1/requests/{id}/replays`: queues one replay → 202 `{"id","status":"queued"}`.
async fn create_replay(
    State(state): State<AppState>,
    user: ApiUser,
    Path(request_id): Path<Uuid>,
    body: Result<Json<TargetBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let endpoint_id = store::find_request_endpoint(&state.pool, user.id, request_id).await?;
    let endpoint_id = crate::usage::found(&state, user.id, request_id, endpoint_id).await?;
    let body = json_body(body)?;
    let id = queue_one(&state, user.id, endpoint_id, request_id, &body).await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/v1/replays/{id}"))],
        Json(json!({"id": id, "status": "queued"})),
    )
        .into_response())
}

/// Queues one replay of a capture of the user's (at `endpoint_id`); returns its id.
pub(crate) async fn queue_one(
    state: &AppState,
    user_id: Uuid,
    endpoint_id: Uuid,
    request_id: Uuid,
    body: &TargetBody,
) -> Result<Uuid, AppError> {
    let target = resolve_target(state, user_id, endpoint_id, body).await?;
    let replay = new_replay(state, user_id, endpoint_id, request_id, &target, None, 0);
    crate::usage::queue_replays(state, user_id, std::slice::from_ref(&replay)).await?;
    wake(state, &target, endpoint_id).await?;
    tracing::info!(replay.id = %replay.id, request.id = %request_id, "replay queued");
    Ok(replay.id)
}

async fn list_endpoint_replays(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let (before, limit) = page(&q)?;
    let rows = store::list_endpoint_replays(&state.pool, user.id, id, before, limit + 1).await?;
    Ok(Json(list_json(rows, limit)))
}

/// `POST /api/v1/endpoints/{id}/replays`: queues one batch, sent strictly in the chosen order
/// → 202 `{"batch_id","replays":[{"id","request_id"}]}` in sending order.
async fn create_bulk_replay(
    State(state): State<AppState>,
    user: ApiUser,
    Path(endpoint_id): Path<Uuid>,
    body: Result<Json<BulkBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    find_endpoint(&state.pool, user.id, endpoint_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let body = json_body(body)?;
    let order: ReplayOrder = match body.order.as_deref() {
        Some(o) => o.parse().map_err(AppError::BadRequest)?,
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
    let listed: Vec<Value> = replays
        .iter()
        .map(|r| json!({"id": r.id, "request_id": r.request_id}))
        .collect();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"batch_id": batch_id, "replays": listed})),
    )
        .into_response())
}

/// Queues one batch of replays of the user's captures at `endpoint_id`, sent strictly in
/// `order`; returns the batch id and the replays in sending order.
pub(crate) async fn queue_bulk(
    state: &AppState,
    user_id: Uuid,
    endpoint_id: Uuid,
    request_ids: &[Uuid],
    order: ReplayOrder,
    target: &TargetBody,
) -> Result<(Uuid, Vec<NewReplay>), AppError> {
    let mut ids: Vec<Uuid> = Vec::with_capacity(request_ids.len());
    for id in request_ids {
        if !ids.contains(id) {
            ids.push(*id);
        }
    }
    if ids.is_empty() {
        return Err(AppError::BadRequest(
            "request_ids must name at least one capture".into(),
        ));
    }
    if ids.len() > MAX_BULK {
        return Err(AppError::BadRequest(format!(
            "a bulk replay can send at most {MAX_BULK} captures, not {}",
            ids.len()
        )));
    }
    let target = resolve_target(state, user_id, endpoint_id, target).await?;
    let mut candidates = candidates(state, user_id, endpoint_id, &ids, order).await?;
    if let Some(missing) = ids
        .iter()
        .find(|id| !candidates.iter().any(|c| c.id == **id))
    {
        return Err(AppError::BadRequest(format!(
            "request {missing} is not a capture of this endpoint"
        )));
    }
    order::arrange(&mut candidates, order);
    let batch_id = Uuid::now_v7();
    let replays: Vec<NewReplay> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let position = i32::try_from(i).unwrap_or(i32::MAX);
            new_replay(
                state,
                user_id,
                endpoint_id,
                c.id,
                &target,
                Some(batch_id),
                position,
            )
        })
        .collect();
    crate::usage::queue_replays(state, user_id, &replays).await?;
    wake(state, &target, endpoint_id).await?;
    tracing::info!(batch.id = %batch_id, endpoint.id = %endpoint_id, count = replays.len(), order = order.as_str(), "bulk replay queued");
    Ok((batch_id, replays))
}

/// `GET /api/v1/replays/{id}`: the replay and every attempt, oldest first.
async fn get_replay(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, ApiError> {
    let (r, attempts) = store::find_replay_with_attempts(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let attempts: Vec<Value> = attempts.iter().map(attempt_json).collect();
    Ok(Json(json!({
        "id": r.id,
        "request_id": r.request_id,
        "endpoint_id": r.endpoint_id,
        "target_id": r.target_id,
        "target_url": r.target_url,
        "scheme": r.scheme,
        "status": r.status,
        "attempts_made": r.attempts_made,
        "max_attempts": r.max_attempts,
        "next_attempt_at": (r.status == "queued").then(|| rfc3339_ms(&r.next_attempt_at)),
        "batch_id": r.batch_id,
        "position": r.position,
        "created_at": rfc3339_ms(&r.created_at),
        "finished_at": r.finished_at.as_ref().map(rfc3339_ms),
        "attempts": attempts,
    })))
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, AppError> {
    body.map(|Json(b)| b)
        .map_err(|e| AppError::BadRequest(e.body_text()))
}

fn refusal(e: TargetError) -> AppError {
    AppError::BadRequest(e.to_string())
}

/// Where a replay goes, checked; `saved` is the saved target it came from, if any.
struct Target {
    dest: Dest,
    saved: Option<Uuid>,
}

/// A URL a worker sends to, or the endpoint's connected `hookvault listen`.
enum Dest {
    Http(CheckedTarget),
    /// The CLI forwards to the developer's local server and reports back; `forward_to` is
    /// what it said it forwards to, shown in the history until it reports.
    Cli {
        forward_to: String,
    },
}

/// Wakes whoever sends the new replays: this process's workers, or the CLI streams (in any
/// process, through NOTIFY).
async fn wake(state: &AppState, target: &Target, endpoint_id: Uuid) -> Result<(), AppError> {
    match target.dest {
        Dest::Http(_) => state.replay_wake.notify_waiters(),
        Dest::Cli { .. } => {
            hookvault_store::cli::notify_cli_replay(&state.pool, endpoint_id).await?;
        }
    }
    Ok(())
}

/// Checks where a replay goes. A saved target is looked up for this user (another account's
/// id is a 404) and its URL checked again, since the server's policy may have changed.
async fn resolve_target(
    state: &AppState,
    user_id: Uuid,
    endpoint_id: Uuid,
    body: &TargetBody,
) -> Result<Target, AppError> {
    if body.to_cli {
        if body.target_url.is_some() || body.target_id.is_some() {
            return Err(AppError::BadRequest(
                "give either to_cli or a target, not both".into(),
            ));
        }
        let sessions =
            hookvault_store::cli::list_cli_sessions(&state.pool, user_id, endpoint_id).await?;
        let forward_to = sessions
            .first()
            .map(|s| s.forward_to.clone())
            .ok_or_else(|| AppError::BadRequest(NO_CLI.into()))?;
        return Ok(Target {
            dest: Dest::Cli { forward_to },
            saved: None,
        });
    }
    match (&body.target_url, body.target_id) {
        (Some(_), Some(_)) => Err(AppError::BadRequest(
            "give either target_url or target_id, not both".into(),
        )),
        (None, None) => Err(AppError::BadRequest(
            "target_url (or target_id, or to_cli) is required".into(),
        )),
        (Some(url), None) => {
            let signing = body.signing.as_ref();
            target::check_target(
                &state.replay_client,
                url,
                signing.and_then(|s| s.scheme.as_deref()),
                signing.and_then(|s| s.secret.as_deref()),
                body.max_attempts,
            )
            .map(|checked| Target {
                dest: Dest::Http(checked),
                saved: None,
            })
            .map_err(refusal)
        }
        (None, Some(id)) => {
            let saved = store::find_replay_target(&state.pool, user_id, id)
                .await?
                .ok_or(AppError::NotFound)?;
            let url = state
                .replay_client
                .check_url(&saved.url)
                .map_err(|e| refusal(e.into()))?;
            let scheme: Scheme =
                saved
                    .scheme
                    .parse()
                    .map_err(|e: hookvault_core::signing::UnknownScheme| {
                        AppError::Internal(e.to_string())
                    })?;
            let secret = match &saved.secret_sealed {
                Some(sealed) => Some(open_secret(state, sealed, saved.id)?),
                None => None,
            };
            let max_attempts = match body.max_attempts {
                Some(n) => target::check_max_attempts(Some(n)).map_err(refusal)?,
                None => saved.max_attempts,
            };
            Ok(Target {
                dest: Dest::Http(CheckedTarget {
                    url,
                    scheme,
                    secret,
                    max_attempts,
                }),
                saved: Some(saved.id),
            })
        }
    }
}

fn open_secret(state: &AppState, sealed: &[u8], owner: Uuid) -> Result<String, AppError> {
    let plain = state
        .secret_key
        .open(sealed, owner.as_bytes())
        .map_err(|e| AppError::Internal(format!("opening a saved target's secret: {e}")))?;
    String::from_utf8(plain)
        .map_err(|_| AppError::Internal("a saved target's secret is not UTF-8".into()))
}

/// A replay row to insert; the secret is sealed bound to the new replay's id.
fn new_replay(
    state: &AppState,
    user_id: Uuid,
    endpoint_id: Uuid,
    request_id: Uuid,
    target: &Target,
    batch_id: Option<Uuid>,
    position: i32,
) -> NewReplay {
    let id = Uuid::now_v7();
    let saved = target.saved;
    match &target.dest {
        Dest::Http(target) => NewReplay {
            id,
            user_id,
            endpoint_id,
            request_id,
            target_id: saved,
            target_url: target.url.to_string(),
            scheme: target.scheme.as_str().to_owned(),
            secret_sealed: target
                .secret
                .as_ref()
                .map(|s| state.secret_key.seal(s.as_bytes(), id.as_bytes())),
            max_attempts: target.max_attempts,
            batch_id,
            position,
            to_cli: false,
        },
        // The CLI signs with the developer's own --sign/--secret; the server sends the
        // captured headers as they are.
        Dest::Cli { forward_to } => NewReplay {
            id,
            user_id,
            endpoint_id,
            request_id,
            target_id: None,
            target_url: forward_to.clone(),
            scheme: Scheme::Original.as_str().to_owned(),
            secret_sealed: None,
            max_attempts: 1,
            batch_id,
            position,
            to_cli: true,
        },
    }
}

/// The user's captures among `ids` at this endpoint, ready for ordering; for `created` their
/// bodies are read a chunk at a time for the event's own `created` field and then dropped.
async fn candidates(
    state: &AppState,
    user_id: Uuid,
    endpoint_id: Uuid,
    ids: &[Uuid],
    order: ReplayOrder,
) -> Result<Vec<Candidate>, AppError> {
    let with_body = order == ReplayOrder::Created;
    let chunk = if with_body { CREATED_CHUNK } else { MAX_BULK };
    let mut out = Vec::with_capacity(ids.len());
    for part in ids.chunks(chunk) {
        let rows =
            store::list_replay_sources(&state.pool, user_id, endpoint_id, part, with_body).await?;
        out.extend(rows.into_iter().map(|r| Candidate {
            id: r.id,
            seq: r.seq,
            received_at: r.received_at,
            created: r.body.as_deref().and_then(order::event_created),
        }));
    }
    Ok(out)
}

fn page(q: &ListQuery) -> Result<(Option<Uuid>, i64), AppError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let before = match q.before.as_deref().filter(|s| !s.is_empty()) {
        Some(c) => Some(
            c.parse::<Uuid>()
                .map_err(|_| AppError::BadRequest("invalid cursor".into()))?,
        ),
        None => None,
    };
    Ok((before, limit))
}

fn list_json(rows: Vec<ReplaySummary>, limit: i64) -> Value {
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
    let replays: Vec<Value> = page.iter().map(|r| summary_json(r)).collect();
    json!({ "replays": replays, "next": next })
}

fn summary_json(r: &ReplaySummary) -> Value {
    json!({
        "id": r.id,
        "request_id": r.request_id,
        "endpoint_id": r.endpoint_id,
        "target_id": r.target_id,
        "target_url": r.target_url,
        "scheme": r.scheme,
        "status": r.status,
        "attempts_made": r.attempts_made,
        "max_attempts": r.max_attempts,
        "batch_id": r.batch_id,
        "position": r.position,
        "created_at": rfc3339_ms(&r.created_at),
        "finished_at": r.finished_at.as_ref().map(rfc3339_ms),
        "last_status_code": r.last_status_code,
        "last_error": r.last_error,
        "last_duration_ms": r.last_duration_ms,
        "last_response_excerpt": r.last_response_excerpt.as_deref().map(String::from_utf8_lossy),
        "to_cli": r.to_cli,
    })
}

fn attempt_json(a: &ReplayAttempt) -> Value {
    json!({
        "started_at": rfc3339_ms(&a.started_at),
        "duration_ms": a.duration_ms,
        "status_code": a.status_code,
        "response_headers": a.response_headers,
        "response_body": String::from_utf8_lossy(&a.response_body),
        "response_truncated": a.response_truncated,
        "error": a.error,
    })
}
