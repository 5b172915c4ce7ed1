//! Bulk replays as a whole: their progress, and the failed replays of a finished one (to send
//! them again, "Retry failed").

use super::*;

/// One bulk replay of an endpoint, with how its replays stand.
#[derive(Debug, Clone)]
pub struct BatchSummary {
    pub batch_id: BatchId,
    pub created_at: OffsetDateTime,
    pub target_url: String,
    pub total: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Failed and not retried yet ("Retry failed" sends these).
    pub retryable: i64,
    /// Queued or running.
    pub pending: i64,
}

/// The newest `limit` bulk replays of one of the user's endpoints, newest first.
pub async fn list_endpoint_batches(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
    limit: i64,
) -> Result<Vec<BatchSummary>, StoreError> {
    Ok(sqlx::query_as!(
        BatchSummary,
        r#"SELECT r.batch_id AS "batch_id!: _", min(r.created_at) AS "created_at!",
                  min(r.target_url) AS "target_url!", count(*) AS "total!",
                  count(*) FILTER (WHERE r.status = 'succeeded') AS "succeeded!",
                  count(*) FILTER (WHERE r.status = 'failed') AS "failed!",
                  count(*) FILTER (WHERE r.status = 'failed' AND r.retried_by IS NULL) AS "retryable!",
                  count(*) FILTER (WHERE r.status IN ('queued', 'running')) AS "pending!"
           FROM replays r
           WHERE r.endpoint_id = $1 AND r.user_id = $2 AND r.batch_id IS NOT NULL
           GROUP BY r.batch_id
           ORDER BY min(r.created_at) DESC, r.batch_id DESC
           LIMIT $3"#,
        endpoint_id as _,
        user_id as _,
        limit
    )
    .fetch_all(ex)
    .await?)
}

/// A failed replay of a batch, with what is needed to send it again.
pub struct FailedReplay {
    pub id: ReplayId,
    pub request_id: RequestId,
    pub target_id: Option<TargetId>,
    pub target_url: String,
    pub scheme: Scheme,
    /// Sealed with this replay's id as associated data.
    pub secret_sealed: Option<Vec<u8>>,
    pub max_attempts: i32,
    pub to_cli: bool,
    /// Of an unordered batch (sent concurrently).
    pub unordered: bool,
}

/// Where a finished bulk replay's failures stand.
pub struct BatchFailures {
    /// Failed and not retried yet, in sending order.
    pub failed: Vec<FailedReplay>,
    /// Still queued or running.
    pub pending: i64,
    /// Failed and already retried (by an earlier "Retry failed").
    pub retried: i64,
}

/// The failures of one of the user's bulk replays at `endpoint_id`.
pub async fn failed_batch_replays(
    ex: &PgPool,
    user_id: UserId,
    endpoint_id: EndpointId,
    batch_id: BatchId,
) -> Result<BatchFailures, StoreError> {
    let counts = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE status IN ('queued', 'running')) AS "pending!",
                  count(*) FILTER (WHERE status = 'failed' AND retried_by IS NOT NULL) AS "retried!"
           FROM replays
           WHERE batch_id = $1 AND user_id = $2 AND endpoint_id = $3"#,
        batch_id as _,
        user_id as _,
        endpoint_id as _
    )
    .fetch_one(ex)
    .await?;
    let failed = sqlx::query_as!(
        FailedReplay,
        r#"SELECT id AS "id: _", request_id AS "request_id: _", target_id AS "target_id: _",
                target_url, scheme AS "scheme: _", secret_sealed, max_attempts, to_cli,
                unordered
         FROM replays
         WHERE batch_id = $1 AND user_id = $2 AND endpoint_id = $3 AND status = 'failed'
           AND retried_by IS NULL
         ORDER BY position"#,
        batch_id as _,
        user_id as _,
        endpoint_id as _
    )
    .fetch_all(ex)
    .await?;
    Ok(BatchFailures {
        failed,
        pending: counts.pending,
        retried: counts.retried,
    })
}
