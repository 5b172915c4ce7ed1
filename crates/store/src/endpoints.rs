//! Endpoints and their capture routes.

use hookvault_core::ids::{EndpointId, UserId};
use hookvault_core::signing::Scheme;
use sqlx::types::Json;
use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::{conflict, StoreError};

/// An endpoint with its settings. The sealed signing secret never leaves the server.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: EndpointId,
    pub user_id: UserId,
    pub name: String,
    pub token: String,
    pub created_at: OffsetDateTime,
    pub response: EndpointResponse,
    pub signing_scheme: Option<Scheme>,
    pub signing_secret_sealed: Option<Vec<u8>>,
}

/// The response an endpoint gives to senders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointResponse {
    pub status: i32,
    pub content_type: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    pub delay_ms: i32,
}

/// An endpoint in a list, with its capture count.
#[derive(Debug, Clone)]
pub struct EndpointSummary {
    pub id: EndpointId,
    pub name: String,
    pub token: String,
    pub created_at: OffsetDateTime,
    pub request_count: i64,
}

/// What the capture path needs to store and answer a capture for a token.
#[derive(Debug, Clone)]
pub struct CaptureRoute {
    pub endpoint_id: EndpointId,
    pub user_id: UserId,
    pub response: EndpointResponse,
    pub signing_scheme: Option<Scheme>,
    pub signing_secret_sealed: Option<Vec<u8>>,
    /// Whether the owner's email is verified (`--require-verified-email`, issue 13).
    pub owner_verified: bool,
    /// The largest body the account's plan accepts.
    pub max_body_bytes: usize,
    /// Why the account is suspended, if it is (captures get 403).
    pub suspended_reason: Option<String>,
}

struct EndpointRow {
    id: EndpointId,
    user_id: UserId,
    name: String,
    token: String,
    created_at: OffsetDateTime,
    response_status: i32,
    response_content_type: String,
    response_body: Vec<u8>,
    response_headers: Json<Vec<(String, String)>>,
    response_delay_ms: i32,
    signing_scheme: Option<Scheme>,
    signing_secret_sealed: Option<Vec<u8>>,
}

impl From<EndpointRow> for Endpoint {
    fn from(r: EndpointRow) -> Self {
        Endpoint {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            token: r.token,
            created_at: r.created_at,
            response: EndpointResponse {
                status: r.response_status,
                content_type: r.response_content_type,
                body: r.response_body,
                headers: r.response_headers.0,
                delay_ms: r.response_delay_ms,
            },
            signing_scheme: r.signing_scheme,
            signing_secret_sealed: r.signing_secret_sealed,
        }
    }
}

/// Creates an endpoint with the default response.
pub async fn insert_endpoint(
    ex: impl PgExecutor<'_>,
    id: EndpointId,
    user_id: UserId,
    name: &str,
    token: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO endpoints (id, user_id, name, token) VALUES ($1, $2, $3, $4)",
        id as _,
        user_id as _,
        name,
        token
    )
    .execute(ex)
    .await
    .map_err(conflict)?;
    Ok(())
}

/// The user's endpoints, oldest first, with capture counts.
pub async fn list_endpoints(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Vec<EndpointSummary>, StoreError> {
    Ok(sqlx::query_as!(
        EndpointSummary,
        r#"SELECT e.id, e.name, e.token, e.created_at,
                  (SELECT count(*) FROM requests r WHERE r.endpoint_id = e.id) AS "request_count!"
           FROM endpoints e WHERE e.user_id = $1 ORDER BY e.created_at, e.id"#,
        user_id as _
    )
    .fetch_all(ex)
    .await?)
}

/// One of the user's endpoints.
pub async fn find_endpoint(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    id: EndpointId,
) -> Result<Option<Endpoint>, StoreError> {
    let row = sqlx::query_as!(
        EndpointRow,
        r#"SELECT id, user_id, name, token, created_at, response_status, response_content_type,
                  response_body, response_headers AS "response_headers: Json<Vec<(String, String)>>",
                  response_delay_ms, signing_scheme AS "signing_scheme: _", signing_secret_sealed
           FROM endpoints WHERE id = $1 AND user_id = $2"#,
        id as _,
        user_id as _
    )
    .fetch_optional(ex)
    .await?;
    Ok(row.map(Endpoint::from))
}

/// One of the user's endpoints by exact name (the first created if names repeat).
pub async fn find_endpoint_id_by_name(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    name: &str,
) -> Result<Option<EndpointId>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT id AS "id: EndpointId" FROM endpoints WHERE user_id = $1 AND name = $2
           ORDER BY created_at LIMIT 1"#,
        user_id as _,
        name
    )
    .fetch_optional(ex)
    .await?)
}

/// The capture route for a public token.
pub async fn find_capture_route(
    ex: impl PgExecutor<'_>,
    token: &str,
) -> Result<Option<CaptureRoute>, StoreError> {
    let row = sqlx::query!(
        r#"SELECT e.id, e.user_id, e.response_status, e.response_content_type, e.response_body,
                  e.response_headers AS "response_headers: Json<Vec<(String, String)>>",
                  e.response_delay_ms, e.signing_scheme AS "signing_scheme: Scheme",
                  e.signing_secret_sealed,
                  u.email_verified_at IS NOT NULL AS "owner_verified!",
                  p.max_body_bytes, u.suspended_reason
           FROM endpoints e JOIN users u ON u.id = e.user_id JOIN plans p ON p.name = u.plan
           WHERE e.token = $1"#,
        token
    )
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|r| CaptureRoute {
        endpoint_id: r.id.into(),
        user_id: r.user_id.into(),
        response: EndpointResponse {
            status: r.response_status,
            content_type: r.response_content_type,
            body: r.response_body,
            headers: r.response_headers.0,
            delay_ms: r.response_delay_ms,
        },
        signing_scheme: r.signing_scheme,
        signing_secret_sealed: r.signing_secret_sealed,
        owner_verified: r.owner_verified,
        max_body_bytes: usize::try_from(r.max_body_bytes).unwrap_or(0),
        suspended_reason: r.suspended_reason,
    }))
}

/// Renames one of the user's endpoints; false when not found.
pub async fn update_endpoint_name(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    id: EndpointId,
    name: &str,
) -> Result<bool, StoreError> {
    let r = sqlx::query!(
        "UPDATE endpoints SET name = $3 WHERE id = $1 AND user_id = $2",
        id as _,
        user_id as _,
        name
    )
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Sets the custom response of one of the user's endpoints; false when not found.
pub async fn update_endpoint_response(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    id: EndpointId,
    response: &EndpointResponse,
) -> Result<bool, StoreError> {
    let r = sqlx::query!(
        "UPDATE endpoints SET response_status = $3, response_content_type = $4, response_body = $5,
                response_headers = $6, response_delay_ms = $7
         WHERE id = $1 AND user_id = $2",
        id as _,
        user_id as _,
        response.status,
        response.content_type,
        response.body,
        Json(&response.headers) as _,
        response.delay_ms
    )
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Sets (or clears, with `None`) the signature check of one of the user's endpoints.
pub async fn update_endpoint_signing(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    id: EndpointId,
    scheme: Option<Scheme>,
    secret_sealed: Option<&[u8]>,
) -> Result<bool, StoreError> {
    let r = sqlx::query!(
        "UPDATE endpoints SET signing_scheme = $3, signing_secret_sealed = $4
         WHERE id = $1 AND user_id = $2",
        id as _,
        user_id as _,
        scheme as _,
        secret_sealed
    )
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes one of the user's endpoints and, by cascade, its captures. Returns its token so
/// caches can drop it, or `None` when not found.
pub async fn delete_endpoint(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    id: EndpointId,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar!(
        "DELETE FROM endpoints WHERE id = $1 AND user_id = $2 RETURNING token",
        id as _,
        user_id as _
    )
    .fetch_optional(ex)
    .await?)
}

/// Tells every server process that a capture route changed (cache invalidation).
pub async fn notify_route_changed(ex: impl PgExecutor<'_>, token: &str) -> Result<(), StoreError> {
    sqlx::query!(
        "SELECT pg_notify($1, $2)",
        crate::notify::ROUTE_CHANGED,
        token
    )
    .execute(ex)
    .await?;
    Ok(())
}

/// Deletes every capture of one of the user's endpoints (their replays go with them); the
/// endpoint stays. Returns how many were deleted. Like retention and account deletion, it
/// works in bounded steps of `CLEAR_STEP` captures, each its own short transaction, so a
/// large endpoint neither runs into the statement timeout nor holds back live streams.
pub async fn clear_endpoint_requests(
    pool: &sqlx::PgPool,
    user_id: UserId,
    id: EndpointId,
) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let r = sqlx::query!(
            "DELETE FROM requests WHERE id IN (
                 SELECT r.id FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
                 WHERE e.id = $1 AND e.user_id = $2 LIMIT $3)",
            id as _,
            user_id as _,
            CLEAR_STEP
        )
        .execute(pool)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(total);
        }
        total += r.rows_affected();
    }
}

/// Captures deleted per transaction by [`clear_endpoint_requests`].
const CLEAR_STEP: i64 = 500;
