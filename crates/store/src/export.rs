//! Reading an endpoint's captures in full, page by page, for exports. A page is first listed
//! by size, then fetched in chunks of bounded total body size, so an export of millions of
//! captures (or of a few huge ones) never holds much in memory.

use hookvault_core::ids::{EndpointId, RequestId, UserId};
use sqlx::PgExecutor;

use crate::StoreError;

/// A capture's place and body size, for planning an export.
#[derive(Debug, Clone, Copy)]
pub struct SizedRequest {
    pub id: RequestId,
    pub seq: i64,
    pub body_size: i32,
}

/// One page of the endpoint's captures (ids and sizes), newest first, older than `before_seq`.
pub async fn list_request_sizes(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<SizedRequest>, StoreError> {
    Ok(sqlx::query_as!(
        SizedRequest,
        r#"SELECT r.id, r.seq, r.body_size
           FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
           WHERE r.endpoint_id = $1 AND e.user_id = $2 AND r.seq < COALESCE($3, 9223372036854775807)
           ORDER BY r.seq DESC LIMIT $4"#,
        endpoint_id as _,
        user_id as _,
        before_seq,
        limit
    )
    .fetch_all(ex)
    .await?)
}
