//! Handler audits through the API, and the operation behind the dashboard's "Audit a handler":
//! nine probes built from one of the user's captures (`hookvault_core::audit`) sent to the
//! user's handler through the guarded client, so the same SSRF rules as replays apply
//! (public targets only, unless the server allows private ones). The audit runs in the
//! background; its report is stored and read back with `GET /api/v1/audits/{id}`.
//!
//! The signing secret is used in memory while the audit runs and never stored or logged. A
//! user runs one audit at a time, and probes are spaced, so an audit cannot become a flood.

use crate::api_extract::{ApiJson, ApiPath};
use crate::api_routes::ApiRoutes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
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

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .get("/api/v1/requests/{id}/audits", list_request_audits)
        .post("/api/v1/requests/{id}/audits", create_audit)
        .get("/api/v1/audits/{id}", get_audit)
}

/// `{"target_url","signing":{"scheme","secret"}}`.
#[derive(Deserialize, utoipa::ToSchema)]
struct AuditBody {
    target_url: Option<String>,
    signing: Option<SigningBody>,
}

#[utoipa::path(get, path = "/api/v1/requests/{id}/audits", tag = "audits", params(("id" = uuid::Uuid, Path, description = "The capture's id")), responses((status = 200, description = "`{\"audits\":[…]}`, latest 50, newest first", body = hookvault_core::api::AuditListJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson)))]
async fn list_request_audits(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(id): ApiPath<RequestId>,
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
#[utoipa::path(post, path = "/api/v1/requests/{id}/audits", tag = "audits", params(("id" = uuid::Uuid, Path, description = "The capture's id")), request_body = AuditBody, responses((status = 202, description = "`{\"id\",\"status\":\"running\"}`", body = hookvault_core::api::AuditStateJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson), (status = 422, description = "Refused input, with the reason", body = hookvault_core::api::ErrorJson), (status = 429, description = "Another audit of yours is running", body = hookvault_core::api::ErrorJson)))]
async fn create_audit(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(request_id): ApiPath<RequestId>,
    ApiJson(body): ApiJson<AuditBody>,
) -> Result<Response, ApiError> {
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

#[utoipa::path(get, path = "/api/v1/audits/{id}", tag = "audits", params(("id" = uuid::Uuid, Path, description = "The audit's id")), responses((status = 200, description = "One audit: `status`, and `report` once finished", body = hookvault_core::api::AuditJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson)))]
async fn get_audit(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(id): ApiPath<AuditId>,
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
