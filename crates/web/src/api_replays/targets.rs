//! Saved replay targets of an endpoint ("my dev server"): list, create, delete. The secret is
//! sealed bound to the target's id and never returned; a masked `secret_hint` is shown instead.

use crate::api_extract::{ApiJson, ApiPath};
use crate::api_routes::ApiRoutes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hookvault_core::api::{TargetJson, TargetListJson};
use hookvault_core::ids::{EndpointId, TargetId};
use hookvault_core::secretbox;
use hookvault_store::endpoints::find_endpoint;
use hookvault_store::replays::{self as store, ReplayTarget};
use serde::Deserialize;

use crate::api::ApiUser;
use crate::error::{ApiError, AppError};
use crate::ops::replays::{open_secret, save_target, SigningBody};
use crate::state::AppState;
use crate::views::rfc3339_ms;

pub(super) fn router() -> ApiRoutes {
    ApiRoutes::new()
        .get("/api/v1/endpoints/{id}/targets", list_targets)
        .post("/api/v1/endpoints/{id}/targets", create_target)
        .delete("/api/v1/targets/{id}", delete_target)
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewTargetBody {
    name: Option<String>,
    url: String,
    signing: Option<SigningBody>,
    max_attempts: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/endpoints/{id}/targets", tag = "replays", params(("id" = uuid::Uuid, Path, description = "The endpoint's id")), responses((status = 200, description = "`{\"targets\":[…]}` (secrets never returned)", body = hookvault_core::api::TargetListJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson)))]
async fn list_targets(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(endpoint_id): ApiPath<EndpointId>,
) -> Result<Json<TargetListJson>, ApiError> {
    find_endpoint(&state.pool, user.id, endpoint_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let targets = store::list_replay_targets(&state.pool, user.id, endpoint_id).await?;
    let targets = targets.iter().map(|t| target_json(&state, t)).collect();
    Ok(Json(TargetListJson { targets }))
}

/// `POST /api/v1/endpoints/{id}/targets` `{"name","url","signing":{"scheme","secret"},
/// "max_attempts"}` → 201 the target (with `secret_hint`, never the secret).
#[utoipa::path(post, path = "/api/v1/endpoints/{id}/targets", tag = "replays", params(("id" = uuid::Uuid, Path, description = "The endpoint's id")), request_body = NewTargetBody, responses((status = 201, description = "The saved target", body = hookvault_core::api::TargetJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson), (status = 422, description = "Refused input, with the reason", body = hookvault_core::api::ErrorJson)))]
async fn create_target(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(endpoint_id): ApiPath<EndpointId>,
    body: Result<ApiJson<NewTargetBody>, ApiError>,
) -> Result<Response, ApiError> {
    find_endpoint(&state.pool, user.id, endpoint_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let ApiJson(body) = body?;
    let signing = body.signing.as_ref();
    let id = save_target(
        &state,
        user.id,
        endpoint_id,
        body.name.as_deref(),
        &body.url,
        signing.and_then(|s| s.scheme.as_deref()),
        signing.and_then(|s| s.secret.as_deref()),
        body.max_attempts,
    )
    .await?;
    let target = store::find_replay_target(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((StatusCode::CREATED, Json(target_json(&state, &target))).into_response())
}

#[utoipa::path(delete, path = "/api/v1/targets/{id}", tag = "replays", params(("id" = uuid::Uuid, Path, description = "The saved target's id")), responses((status = 204, description = "Deleted"), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson)))]
async fn delete_target(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(id): ApiPath<TargetId>,
) -> Result<StatusCode, ApiError> {
    if store::delete_replay_target(&state.pool, user.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound.into())
    }
}
fn target_json(state: &AppState, t: &ReplayTarget) -> TargetJson {
    let hint = t.secret_sealed.as_ref().map(|sealed| {
        open_secret(state, sealed, t.id)
            .map(|s| secretbox::mask(&s))
            .unwrap_or_else(|_| secretbox::mask(""))
    });
    TargetJson {
        id: t.id,
        endpoint_id: t.endpoint_id,
        name: t.name.clone(),
        url: t.url.clone(),
        scheme: t.scheme,
        secret_hint: hint,
        max_attempts: t.max_attempts,
        created_at: rfc3339_ms(&t.created_at),
    }
}
