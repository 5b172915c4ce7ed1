//! Owner-scoped reads: one replay, its attempts, the history of a capture or an endpoint.

use super::*;

/// One of the user's replays.
pub async fn find_replay(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<Replay>, StoreError> {
    Ok(sqlx::query_as!(
        Replay,
        r#"SELECT id, user_id, endpoint_id, request_id, target_id, target_url, scheme, status,
                  attempts_made, max_attempts, next_attempt_at, batch_id, position, created_at,
                  finished_at
           FROM replays WHERE id = $1 AND user_id = $2"#,
        id,
        user_id
    )
    .fetch_optional(ex)
    .await?)
}

/// The attempts of one of the user's replays, oldest first.
pub async fn list_replay_attempts(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    replay_id: Uuid,
) -> Result<Vec<ReplayAttempt>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT a.started_at, a.duration_ms, a.status_code,
                  a.response_headers AS "response_headers: Json<Vec<(String, String)>>",
                  a.response_body, a.response_truncated, a.error
           FROM replay_attempts a JOIN replays r ON r.id = a.replay_id
           WHERE a.replay_id = $1 AND r.user_id = $2
           ORDER BY a.id"#,
        replay_id,
        user_id
    )
    .fetch_all(ex)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ReplayAttempt {
            started_at: r.started_at,
            duration_ms: r.duration_ms,
            status_code: r.status_code,
            response_headers: r.response_headers.0,
            response_body: r.response_body,
            response_truncated: r.response_truncated,
            error: r.error,
        })
        .collect())
}

/// One of the user's replays with its attempts (two queries, one snapshot each).
pub async fn find_replay_with_attempts(
    pool: &PgPool,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<(Replay, Vec<ReplayAttempt>)>, StoreError> {
    let Some(replay) = find_replay(pool, user_id, id).await? else {
        return Ok(None);
    };
    let attempts = list_replay_attempts(pool, user_id, id).await?;
    Ok(Some((replay, attempts)))
}

/// Replays of one of the user's captures, newest first, strictly older than the replay
/// `before` (a cursor: the last id of the previous page).
pub async fn list_request_replays(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    request_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReplaySummary>, StoreError> {
    Ok(sqlx::query_as!(
        ReplaySummary,
        r#"SELECT r.id, r.endpoint_id, r.request_id, r.target_id, r.target_url, r.scheme, r.status,
                  r.attempts_made, r.max_attempts, r.batch_id, r.position, r.created_at,
                  r.finished_at, r.to_cli, last.status_code AS "last_status_code?",
                  last.error AS "last_error?", last.duration_ms AS "last_duration_ms?",
                  substring(last.response_body FROM 1 FOR 300) AS "last_response_excerpt?"
           FROM replays r
           LEFT JOIN LATERAL (
               SELECT a.status_code, a.error, a.duration_ms, a.response_body FROM replay_attempts a
               WHERE a.replay_id = r.id ORDER BY a.id DESC LIMIT 1
           ) last ON true
           WHERE r.request_id = $1 AND r.user_id = $2
             AND ($3::uuid IS NULL OR (r.created_at, r.id) <
                  (SELECT c.created_at, c.id FROM replays c WHERE c.id = $3 AND c.user_id = $2))
           ORDER BY r.created_at DESC, r.id DESC
           LIMIT $4"#,
        request_id,
        user_id,
        before,
        limit
    )
    .fetch_all(ex)
    .await?)
}

/// Replays of one of the user's endpoints, newest first, strictly older than `before`.
pub async fn list_endpoint_replays(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    endpoint_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReplaySummary>, StoreError> {
    Ok(sqlx::query_as!(
        ReplaySummary,
        r#"SELECT r.id, r.endpoint_id, r.request_id, r.target_id, r.target_url, r.scheme, r.status,
                  r.attempts_made, r.max_attempts, r.batch_id, r.position, r.created_at,
                  r.finished_at, r.to_cli, last.status_code AS "last_status_code?",
                  last.error AS "last_error?", last.duration_ms AS "last_duration_ms?",
                  substring(last.response_body FROM 1 FOR 300) AS "last_response_excerpt?"
           FROM replays r
           LEFT JOIN LATERAL (
               SELECT a.status_code, a.error, a.duration_ms, a.response_body FROM replay_attempts a
               WHERE a.replay_id = r.id ORDER BY a.id DESC LIMIT 1
           ) last ON true
           WHERE r.endpoint_id = $1 AND r.user_id = $2
             AND ($3::uuid IS NULL OR (r.created_at, r.id) <
                  (SELECT c.created_at, c.id FROM replays c WHERE c.id = $3 AND c.user_id = $2))
           ORDER BY r.created_at DESC, r.id DESC
           LIMIT $4"#,
        endpoint_id,
        user_id,
        before,
        limit
    )
    .fetch_all(ex)
    .await?)
}

/// The endpoint of one of the user's captures (a cheap existence check that loads no body).
pub async fn find_request_endpoint(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    request_id: Uuid,
) -> Result<Option<Uuid>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT r.endpoint_id FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
         WHERE r.id = $1 AND e.user_id = $2",
        request_id,
        user_id
    )
    .fetch_optional(ex)
    .await?)
}

/// The user's captures of one endpoint among `ids` (unknown or foreign ids are simply absent),
/// in capture order, with bodies only when `with_body`.
pub async fn list_replay_sources(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    endpoint_id: Uuid,
    ids: &[Uuid],
    with_body: bool,
) -> Result<Vec<ReplaySource>, StoreError> {
    Ok(sqlx::query_as!(
        ReplaySource,
        r#"SELECT r.id, r.seq, r.received_at, CASE WHEN $4 THEN r.body END AS "body?"
           FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
           WHERE r.id = ANY($3) AND r.endpoint_id = $1 AND e.user_id = $2
           ORDER BY r.seq"#,
        endpoint_id,
        user_id,
        ids,
        with_body
    )
    .fetch_all(ex)
    .await?)
}
