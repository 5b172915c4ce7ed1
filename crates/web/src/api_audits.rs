//! Handler audits through the API, and the operation behind the dashboard's "Audit a handler":
//! nine probes built from one of the user's captures (`hookvault_core::audit`) sent to the
//! user's handler through the guarded client, so the same SSRF rules as replays apply
//! (public targets only, unless the server allows private ones). The audit runs in the
//! background; its report is stored and read back with `GET /api/v1/audits/{id}`.
//!
//! The signing secret is used in memory while the audit runs and never stored or logged. A
//! user runs one audit at a time, and probes are spaced, so an audit cannot become a flood.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hookvault_core::audit::{self, Audit, AuditEvent, EventSource, Report, DEFAULT_SPACING};
use hookvault_replay::audit::GuardedTransport;
use hookvault_replay::target;
use hookvault_store::audits::{self as store, AuditRow, NewAudit};
use hookvault_store::PgPool;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::api::ApiUser;
use crate::api_replays::SigningBody;
use crate::error::{ApiError, AppError};
use crate::state::AppState;
use crate::views::rfc3339_ms;

/// Audits listed per capture.
const LIST_LIMIT: i64 = 50;

/// Answer when the user already has an audit running.
const BUSY: &str = "an audit of yours is already running; wait for it to finish";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/requests/{id}/audits",
            get(list_request_audits).post(create_audit),
        )
        .route("/api/v1/audits/{id}", get(get_audit))
}

/// `{"target_url","signing":{"scheme","secret"}}`.
#[derive(Deserialize)]
struct AuditBody {
    target_url: Option<String>,
    signing: Option<SigningBody>,
}

async fn list_request_audits(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, ApiError> {
    hookvault_store::replays::find_request_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    store::close_stale_audits(&state.pool, user.id).await?;
    let rows = store::list_request_audits(&state.pool, user.id, id, LIST_LIMIT).await?;
    Ok(Json(
        json!({"audits": rows.iter().map(audit_json).collect::<Vec<_>>()}),
    ))
}

/// `POST /api/v1/requests/{id}/audits` → 202 `{"id","status":"running"}`; a refused target or
/// scheme is 422 with the reason, a second audit while one runs is 429.
async fn create_audit(
    State(state): State<AppState>,
    user: ApiUser,
    Path(request_id): Path<Uuid>,
    body: Result<Json<AuditBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let signing = body.signing.as_ref();
    let id = start_audit(
        &state,
        user.id,
        request_id,
        body.target_url.as_deref().unwrap_or(""),
        signing.and_then(|s| s.scheme.as_deref()),
        signing.and_then(|s| s.secret.as_deref()),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/v1/audits/{id}"))],
        Json(json!({"id": id, "status": "running"})),
    )
        .into_response())
}

async fn get_audit(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, ApiError> {
    store::close_stale_audits(&state.pool, user.id).await?;
    let row = store::find_audit(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(audit_json(&row)))
}

/// An audit as the API shows it.
fn audit_json(r: &AuditRow) -> Value {
    json!({
        "id": r.id,
        "request_id": r.request_id,
        "endpoint_id": r.endpoint_id,
        "target_url": r.target_url,
        "scheme": r.scheme,
        "status": r.status,
        "created_at": rfc3339_ms(&r.created_at),
        "finished_at": r.finished_at.as_ref().map(rfc3339_ms),
        "error": r.error,
        "report": r.report,
    })
}

/// The stored report of a finished audit, if it reads as one.
pub(crate) fn report_of(r: &AuditRow) -> Option<Report> {
    r.report
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// Checks the target and signing, stores a running audit of the user's capture and starts it
/// in the background; returns its id.
pub(crate) async fn start_audit(
    state: &AppState,
    user_id: Uuid,
    request_id: Uuid,
    target_url: &str,
    scheme: Option<&str>,
    secret: Option<&str>,
) -> Result<Uuid, AppError> {
    let req = hookvault_store::requests::find_request(&state.pool, user_id, request_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let checked = target::check_target(
        &state.replay_client,
        target_url.trim(),
        scheme,
        secret,
        None,
    )
    .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let headers = hookvault_core::headers::decode(&req.headers)
        .map_err(|e| AppError::Internal(format!("stored headers of {request_id}: {e}")))?;
    let event = AuditEvent {
        method: req.method,
        headers,
        body: req.body,
    };
    let audit = Audit::new(
        checked.scheme,
        checked.secret.as_deref().unwrap_or(""),
        event,
        EventSource::Capture(request_id.to_string()),
    )
    .map_err(|e| AppError::BadRequest(e.to_string()))?;
    store::close_stale_audits(&state.pool, user_id).await?;
    let id = Uuid::now_v7();
    let inserted = store::insert_audit(
        &state.pool,
        &NewAudit {
            id,
            user_id,
            request_id,
            target_url: checked.url.to_string(),
            scheme: checked.scheme.as_str().to_owned(),
        },
    )
    .await?;
    if !inserted {
        return Err(AppError::TooManyRequests(BUSY.into()));
    }
    tracing::info!(audit.id = %id, request.id = %request_id, "audit started");
    let target = checked.url.to_string();
    let transport = GuardedTransport::new(state.replay_client.clone(), checked.url);
    tokio::spawn(run_and_store(
        state.pool.clone(),
        transport,
        target,
        id,
        audit,
    ));
    Ok(id)
}

/// Runs the audit through the guarded client and stores its report.
async fn run_and_store(
    pool: PgPool,
    transport: GuardedTransport,
    target: String,
    id: Uuid,
    audit: Audit,
) {
    let report = audit::run(&audit, &target, &transport, DEFAULT_SPACING, |_| {}).await;
    let status = if report.passed { "passed" } else { "failed" };
    let stored = match serde_json::to_value(&report) {
        Ok(v) => store::finish_audit(&pool, id, status, Some(&v), None).await,
        Err(e) => {
            tracing::error!(audit.id = %id, error = %e, "audit report not serialisable");
            store::finish_audit(
                &pool,
                id,
                "error",
                None,
                Some("the report could not be stored"),
            )
            .await
        }
    };
    match stored {
        Ok(_) => tracing::info!(audit.id = %id, audit.status = status, "audit finished"),
        Err(e) => tracing::error!(audit.id = %id, error = %e, "could not store an audit's report"),
    }
}
