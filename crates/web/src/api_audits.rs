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
use hookvault_core::api::{AuditJson, AuditListJson, AuditStateJson};
use hookvault_core::ids::{AuditId, RequestId};
use hookvault_core::stored::AuditStatus;
use hookvault_store::audits::{self as store, AuditRow};
use serde::Deserialize;

use crate::api::ApiUser;
use crate::error::{ApiError, AppError};
use crate::ops::audits::*;
use crate::ops::replays::SigningBody;
use crate::state::AppState;
use crate::views::rfc3339_ms;

/// Audits listed per capture.
const LIST_LIMIT: i64 = 50;

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
    Path(id): Path<RequestId>,
) -> Result<Json<AuditListJson>, ApiError> {
    let found = hookvault_store::replays::find_request_endpoint(&state.pool, user.id, id).await?;
    crate::usage::found(&state, user.id, id, found).await?;
    store::close_stale_audits(&state.pool, user.id).await?;
    let rows = store::list_request_audits(&state.pool, user.id, id, LIST_LIMIT).await?;
    Ok(Json(AuditListJson {
        audits: rows.iter().map(audit_json).collect(),
    }))
}

/// `POST /api/v1/requests/{id}/audits` → 202 `{"id","status":"running"}`; a refused target or
/// scheme is 422 with the reason, a second audit while one runs is 429.
async fn create_audit(
    State(state): State<AppState>,
    user: ApiUser,
    Path(request_id): Path<RequestId>,
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
        Json(AuditStateJson {
            id,
            status: AuditStatus::Running,
        }),
    )
        .into_response())
}

async fn get_audit(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<AuditId>,
) -> Result<Json<AuditJson>, ApiError> {
    store::close_stale_audits(&state.pool, user.id).await?;
    let row = store::find_audit(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(audit_json(&row)))
}

/// An audit as the API shows it.
fn audit_json(r: &AuditRow) -> AuditJson {
    AuditJson {
        id: r.id,
        request_id: r.request_id,
        endpoint_id: r.endpoint_id,
        target_url: r.target_url.clone(),
        scheme: r.scheme,
        status: r.status,
        created_at: rfc3339_ms(&r.created_at),
        finished_at: r.finished_at.as_ref().map(rfc3339_ms),
        error: r.error.clone(),
        report: r.report.clone(),
    }
}
