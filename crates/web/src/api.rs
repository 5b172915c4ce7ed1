//! The JSON API, `/api/v1`. Bearer API tokens (stored as SHA-256 hashes) or the browser
//! session; a session caller must also send its CSRF token in `X-CSRF-Token` to change state.

use crate::api_extract::{ApiJson, ApiPath, ApiQuery};
use crate::api_routes::ApiRoutes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use hookvault_core::api::{
    EndpointJson, EndpointListJson, EndpointResponseJson, EndpointSummaryJson, ErrorBody,
    ErrorJson, RequestDetailJson, RequestListJson, RequestSummaryJson, SigningJson,
};
use hookvault_core::ids::{EndpointId, RequestId, UserId};
use hookvault_store::endpoints as store;
use hookvault_store::requests::{find_request, list_requests};
use serde::Deserialize;
use tower_sessions::Session;

use crate::access::Grant;
use crate::error::{ApiError, AppError};
use crate::ops::endpoints as ops;
use crate::ops::requests::request_json;
use crate::ops::tokens::{create_token, hash_token};
use crate::state::AppState;
use crate::views::rfc3339_ms;

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .post("/api/v1/tokens", create_token_basic)
        .delete("/api/v1/tokens/current", revoke_current_token)
        .get("/api/v1/endpoints", list_endpoints)
        .post("/api/v1/endpoints", create_endpoint)
        .get("/api/v1/endpoints/{id}", get_endpoint)
        .patch("/api/v1/endpoints/{id}", update_endpoint)
        .delete("/api/v1/endpoints/{id}", delete_endpoint)
        .get("/api/v1/endpoints/{id}/requests", list_endpoint_requests)
        .get("/api/v1/requests/{id}", get_request)
        .get("/api/v1/requests/{id}/body", get_body)
}

/// The caller of an API route.
pub struct ApiUser {
    pub id: UserId,
    /// What the caller authenticated with (streams re-check it while they run).
    pub(crate) grant: Grant,
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(auth) = auth {
            let Some(token) = auth.strip_prefix("Bearer ").map(str::trim) else {
                return Err(ApiError::unauthorized());
            };
            let hash = hash_token(token);
            let user = hookvault_store::tokens::find_user_id_by_token_hash(&state.pool, &hash)
                .await
                .map_err(|e| ApiError::from(e).into_response())?;
            return user
                .map(|id| ApiUser {
                    id,
                    grant: Grant::Token(hash),
                })
                .ok_or_else(ApiError::unauthorized);
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::unauthorized())?;
        let user = crate::auth::signed_in_user(state, &session)
            .await
            .map_err(|e| ApiError(e).into_response())?
            .ok_or_else(ApiError::unauthorized)?;
        let session_id = session.id().ok_or_else(ApiError::unauthorized)?;
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            crate::auth::check_csrf(&session, sent)
                .await
                .map_err(|e| ApiError(e).into_response())?;
        }
        Ok(ApiUser {
            id: user.id,
            grant: Grant::Session(session_id),
        })
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct TokenBody {
    #[serde(default)]
    name: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", security(("basic" = [])), request_body(content = Option<TokenBody>, description = "`name` of the token"), responses((status = 201, description = "The token, shown only here", body = hookvault_core::api::NewTokenJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 429, description = "Too many attempts", body = hookvault_core::api::ErrorJson)))]
async fn create_token_basic(
    State(state): State<AppState>,
    crate::auth::ClientIp(ip): crate::auth::ClientIp,
    headers: axum::http::HeaderMap,
    body: Option<ApiJson<TokenBody>>,
) -> Result<Response, ApiError> {
    // Failures count per email and per client address, as for the login page (an empty
    // address would put every API client in one bucket: ten guesses anywhere would lock
    // everybody out).
    let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
    let creds = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(e, p)| (e.to_string(), p.to_string()))
        });
    let Some((email, password)) = creds else {
        return Ok(basic_challenge());
    };
    let attempt = state
        .limiter
        .begin(&email, &ip, false)
        .map_err(crate::auth::too_many_logins)?;
    let Some(user) = crate::auth::authenticate(&state, &email, password).await? else {
        attempt.failed();
        return Ok(basic_challenge());
    };
    attempt.succeeded();
    let user_id = user.id;
    let name = body
        .and_then(|b| b.0.name)
        .unwrap_or_else(|| "hookvault CLI".to_string());
    let name = ops::clean_name(&name)?;
    let (id, token) = create_token(&state, user_id, &name).await?;
    Ok((
        StatusCode::CREATED,
        Json(hookvault_core::api::NewTokenJson { id, name, token }),
    )
        .into_response())
}

/// `DELETE /api/v1/tokens/current`: revokes the API token this request authenticated with
/// (what `hookvault logout` calls). A browser session cannot use it.
#[utoipa::path(delete, path = "/api/v1/tokens/current", tag = "tokens", responses((status = 204, description = "The token of this request is revoked"), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 422, description = "Refused input, with the reason", body = hookvault_core::api::ErrorJson)))]
async fn revoke_current_token(
    State(state): State<AppState>,
    user: ApiUser,
) -> Result<StatusCode, ApiError> {
    let Grant::Token(hash) = &user.grant else {
        return Err(AppError::invalid(
            "only an API token can revoke itself (Authorization: Bearer); revoke tokens in Settings"
        )
        .into());
    };
    if !hookvault_store::tokens::delete_api_token_by_hash(&state.pool, user.id, hash).await? {
        return Err(AppError::NotFound.into());
    }
    tracing::info!(user.id = %user.id, "API token revoked by its holder");
    Ok(StatusCode::NO_CONTENT)
}

fn basic_challenge() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"hookvault\"")],
        Json(ErrorJson {
            error: ErrorBody {
                code: "unauthorized".into(),
                message: "email or password is incorrect".into(),
            },
        }),
    )
        .into_response()
}

fn endpoint_json(state: &AppState, e: &store::Endpoint) -> EndpointJson {
    let r = &e.response;
    EndpointJson {
        id: e.id,
        name: e.name.clone(),
        url: state.capture_url(&e.token),
        created_at: rfc3339_ms(&e.created_at),
        response: EndpointResponseJson {
            status: r.status,
            content_type: r.content_type.clone(),
            headers: r.headers.clone(),
            body: String::from_utf8_lossy(&r.body).into_owned(),
            delay_ms: r.delay_ms,
        },
        signing: e.signing_scheme.map(|scheme| SigningJson {
            scheme,
            secret_set: e.signing_secret_sealed.is_some(),
        }),
        request_count: None,
    }
}

#[utoipa::path(get, path = "/api/v1/endpoints", tag = "endpoints", responses((status = 200, body = hookvault_core::api::EndpointListJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson)))]
async fn list_endpoints(
    State(state): State<AppState>,
    user: ApiUser,
) -> Result<Json<EndpointListJson>, ApiError> {
    let list = store::list_endpoints(&state.pool, user.id).await?;
    let endpoints = list
        .iter()
        .map(|e| EndpointSummaryJson {
            id: e.id,
            name: e.name.clone(),
            url: state.capture_url(&e.token),
            created_at: rfc3339_ms(&e.created_at),
            request_count: e.request_count,
        })
        .collect();
    Ok(Json(EndpointListJson { endpoints }))
}

#[utoipa::path(post, path = "/api/v1/endpoints", tag = "endpoints", request_body = hookvault_core::api::NameJson, responses((status = 201, body = hookvault_core::api::EndpointJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 422, description = "Refused input, with the reason", body = hookvault_core::api::ErrorJson), (status = 429, description = "The plan's endpoint limit", body = hookvault_core::api::ErrorJson)))]
async fn create_endpoint(
    State(state): State<AppState>,
    user: ApiUser,
    ApiJson(body): ApiJson<hookvault_core::api::NameJson>,
) -> Result<Response, ApiError> {
    let name = ops::clean_name(&body.name)?;
    let id = EndpointId::now_v7();
    crate::usage::create_endpoint(&state, user.id, id, &name, &ops::new_capture_token()).await?;
    let e = store::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut v = endpoint_json(&state, &e);
    v.request_count = Some(0);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

#[utoipa::path(get, path = "/api/v1/endpoints/{id}", tag = "endpoints", params(("id" = uuid::Uuid, Path, description = "The endpoint's id")), responses((status = 200, body = hookvault_core::api::EndpointJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson)))]
async fn get_endpoint(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(id): ApiPath<EndpointId>,
) -> Result<Json<EndpointJson>, ApiError> {
    let e = store::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(endpoint_json(&state, &e)))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct UpdateEndpoint {
    name: Option<String>,
    response: Option<ResponseBody>,
    /// `null` clears the signature check.
    #[serde(default, deserialize_with = "double_option")]
    signing: Option<Option<hookvault_core::api::SigningBody>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = EndpointResponseBody)]
struct ResponseBody {
    status: Option<i32>,
    content_type: Option<String>,
    headers: Option<Vec<(String, String)>>,
    body: Option<String>,
    delay_ms: Option<i32>,
}

fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[utoipa::path(patch, path = "/api/v1/endpoints/{id}", tag = "endpoints", params(("id" = uuid::Uuid, Path, description = "The endpoint's id")), request_body = UpdateEndpoint, responses((status = 200, description = "The endpoint (the secret is never returned)", body = hookvault_core::api::EndpointJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson), (status = 422, description = "Refused input, with the reason", body = hookvault_core::api::ErrorJson)))]
async fn update_endpoint(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(id): ApiPath<EndpointId>,
    ApiJson(body): ApiJson<UpdateEndpoint>,
) -> Result<Json<EndpointJson>, ApiError> {
    let e = store::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    // Validate everything before writing anything.
    let name = body.name.as_deref().map(ops::clean_name).transpose()?;
    let response = match body.response {
        Some(r) => Some(ops::validate_response(
            r.status.unwrap_or(e.response.status),
            r.content_type
                .unwrap_or_else(|| e.response.content_type.clone()),
            r.body
                .map(String::into_bytes)
                .unwrap_or_else(|| e.response.body.clone()),
            r.headers.unwrap_or_else(|| e.response.headers.clone()),
            r.delay_ms.unwrap_or(e.response.delay_ms),
        )?),
        None => None,
    };
    let signing = match body.signing {
        Some(Some(s)) => Some(ops::signature_check(
            &state,
            id,
            s.scheme.as_deref().ok_or_else(|| {
                AppError::invalid("signing.scheme is required (signing: null turns the check off)")
            })?,
            s.secret.as_deref(),
            e.signing_secret_sealed.as_deref(),
        )?),
        Some(None) => Some(None),
        None => None,
    };
    let changes = ops::Changes {
        name,
        response,
        signing,
    };
    ops::update(&state, user.id, &e, &changes).await?;
    let e = store::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(endpoint_json(&state, &e)))
}

#[utoipa::path(delete, path = "/api/v1/endpoints/{id}", tag = "endpoints", params(("id" = uuid::Uuid, Path, description = "The endpoint's id")), responses((status = 204, description = "Deleted, with its captures"), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(id): ApiPath<EndpointId>,
) -> Result<StatusCode, ApiError> {
    ops::delete(&state, user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    before: Option<String>,
    /// A search (`hookvault_core::search`); empty lists everything.
    #[serde(default)]
    q: String,
}

#[utoipa::path(get, path = "/api/v1/endpoints/{id}/requests", tag = "requests", params(("id" = uuid::Uuid, Path, description = "The endpoint's id"), ("limit" = Option<i64>, Query, description = "Page size"), ("before" = Option<String>, Query, description = "The `next` cursor of the previous page"), ("q" = Option<String>, Query, description = "A search, e.g. `type:invoice.* provider:stripe`")), responses((status = 200, description = "`{\"requests\":[summary],\"next\":cursor|null}`, newest first", body = hookvault_core::api::RequestListJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson), (status = 422, description = "Refused input, with the reason", body = hookvault_core::api::ErrorJson)))]
async fn list_endpoint_requests(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(id): ApiPath<EndpointId>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<RequestListJson>, ApiError> {
    store::find_endpoint(&state.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let before = match q.before.as_deref().filter(|s| !s.is_empty()) {
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| AppError::invalid("invalid cursor"))?,
        ),
        None => None,
    };
    let search =
        hookvault_core::search::parse(&q.q).map_err(|e| AppError::invalid(format!("q: {e}")))?;
    let rows = if search.is_empty() {
        list_requests(&state.pool, user.id, id, before, limit + 1).await?
    } else {
        let slot = state.heavy.enter(user.id).await?;
        hookvault_store::search::search_requests(
            slot.pool(),
            user.id,
            id,
            &search,
            before,
            limit + 1,
        )
        .await?
    };
    let more = rows.len() as i64 > limit;
    let page: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next = if more {
        page.last().map(|r| r.seq.to_string())
    } else {
        None
    };
    let requests = page.iter().map(summary_json).collect();
    Ok(Json(RequestListJson { requests, next }))
}

#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests", params(("id" = uuid::Uuid, Path, description = "The capture's id")), responses((status = 200, body = hookvault_core::api::RequestDetailJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson), (status = 410, description = "Expired under the plan's retention", body = hookvault_core::api::ErrorJson)))]
async fn get_request(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(id): ApiPath<RequestId>,
) -> Result<Json<RequestDetailJson>, ApiError> {
    let found = find_request(&state.pool, user.id, id).await?;
    let r = crate::usage::found(&state, user.id, id, found).await?;
    let request = request_json(&r)?;
    // The first delivery of the same event id at this endpoint, when this one came later.
    let duplicate_of = if let Some(event_id) = &r.event_id {
        let first = hookvault_store::related::list_deliveries_of_event(
            &state.pool,
            user.id,
            r.endpoint_id,
            event_id,
            1,
        )
        .await?;
        first.first().filter(|d| d.seq < r.seq).map(|d| d.id)
    } else {
        None
    };
    Ok(Json(RequestDetailJson {
        request,
        duplicate_of,
    }))
}

#[utoipa::path(get, path = "/api/v1/requests/{id}/body", tag = "requests", params(("id" = uuid::Uuid, Path, description = "The capture's id")), responses((status = 200, description = "The body bytes exactly, with the original Content-Type, as a download", content_type = "application/octet-stream", body = Vec<u8>), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson), (status = 404, description = "Not found (or not yours)", body = hookvault_core::api::ErrorJson)))]
async fn get_body(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(id): ApiPath<RequestId>,
) -> Result<Response, ApiError> {
    let found = find_request(&state.pool, user.id, id).await?;
    let r = crate::usage::found(&state, user.id, id, found).await?;
    Ok(crate::views::raw_body_response(
        r.body,
        r.content_type.as_deref(),
        id,
    ))
}

/// A capture in a JSON list (`GET /api/v1/endpoints/{id}/requests`).
fn summary_json(r: &hookvault_store::requests::RequestSummary) -> RequestSummaryJson {
    RequestSummaryJson {
        id: r.id,
        seq: r.seq,
        method: r.method.clone(),
        path: if r.path.is_empty() { "/" } else { &r.path }.to_owned(),
        query: r.query.clone(),
        body_size: r.body_size,
        size: hookvault_core::render::human_size(u64::try_from(r.body_size).unwrap_or(0)),
        content_type: r.content_type.clone(),
        received_at: rfc3339_ms(&r.received_at),
        provider: r.provider.map(|p| p.as_str().to_owned()),
        event_type: r.event_type.clone(),
        event_id: r.event_id.clone(),
        signature_status: r.signature_status,
        signature_reason: r.signature_reason.clone(),
        edited_from: r.edited_from,
    }
}
