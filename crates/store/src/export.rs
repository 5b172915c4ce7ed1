//! Reading an endpoint's captures in full, page by page, for exports. A page is first listed
//! by size, then fetched in chunks of bounded total body size, so an export of millions of
//! captures (or of a few huge ones) never holds much in memory.

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::requests::StoredRequest;
use crate::StoreError;

/// A capture's place and body size, for planning an export.
#[derive(Debug, Clone, Copy)]
pub struct SizedRequest {
    pub id: Uuid,
    pub seq: i64,
    pub body_size: i32,
}

/// One page of the endpoint's captures (ids and sizes), newest first, older than `before_seq`.
pub async fn list_request_sizes(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    endpoint_id: Uuid,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<SizedRequest>, StoreError> {
    Ok(sqlx::query_as!(
        SizedRequest,
        r#"SELECT r.id, r.seq, r.body_size
           FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
           WHERE r.endpoint_id = $1 AND e.user_id = $2 AND r.seq < COALESCE($3, 9223372036854775807)
           ORDER BY r.seq DESC LIMIT $4"#,
        endpoint_id,
        user_id,
        before_seq,
        limit
    )
    .fetch_all(ex)
    .await?)
}

/// The user's captures with these ids, in full, newest first.
pub async fn list_requests_by_ids(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<StoredRequest>, StoreError> {
    Ok(sqlx::query_as!(
        StoredRequest,
        r#"SELECT r.id, r.seq, r.endpoint_id, r.received_at, r.method, r.path, r.query,
                  r.http_version, r.remote_addr, r.headers, r.content_type, r.body, r.body_size,
                  r.provider, r.event_type, r.event_id, r.signature_scheme, r.signature_status,
                  r.signature_reason, r.livemode, r.api_version, r.event_created, r.object_id,
                  r.object_type
           FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
           WHERE r.id = ANY($1) AND e.user_id = $2
           ORDER BY r.seq DESC"#,
        ids,
        user_id
    )
    .fetch_all(ex)
    .await?)
}
