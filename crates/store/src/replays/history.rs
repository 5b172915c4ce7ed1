//! Owner-scoped reads: one replay, its attempts, the history of a capture or an endpoint
//! ([`list_replays`]).

use super::*;

/// One of the user's replays.
pub async fn find_replay(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    id: ReplayId,
) -> Result<Option<Replay>, StoreError> {
    Ok(sqlx::query_as!(
        Replay,
        r#"SELECT id AS "id: _", user_id AS "user_id: _", endpoint_id AS "endpoint_id: _",
                  request_id AS "request_id: _", target_id AS "target_id: _", target_url,
                  scheme AS "scheme: _", status AS "status: _", attempts_made, max_attempts,
                  next_attempt_at, batch_id AS "batch_id: _", position, created_at,
                  finished_at
           FROM replays WHERE id = $1 AND user_id = $2"#,
        id as _,
        user_id as _
    )
    .fetch_optional(ex)
    .await?)
}

/// The attempts of one of the user's replays, oldest first.
pub async fn list_replay_attempts(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    replay_id: ReplayId,
) -> Result<Vec<ReplayAttempt>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT a.started_at, a.duration_ms, a.status_code,
                  a.response_headers AS "response_headers: Json<Vec<(String, String)>>",
                  a.response_body, a.response_truncated, a.error
           FROM replay_attempts a JOIN replays r ON r.id = a.replay_id
           WHERE a.replay_id = $1 AND r.user_id = $2
           ORDER BY a.id"#,
        replay_id as _,
        user_id as _
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
    user_id: UserId,
    id: ReplayId,
) -> Result<Option<(Replay, Vec<ReplayAttempt>)>, StoreError> {
    let Some(replay) = find_replay(pool, user_id, id).await? else {
        return Ok(None);
    };
    let attempts = list_replay_attempts(pool, user_id, id).await?;
    Ok(Some((replay, attempts)))
}

/// Whose replay history: one capture's, or one endpoint's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryScope {
    Request(RequestId),
    Endpoint(EndpointId),
}

/// Replays of one of the user's captures or endpoints, newest first, strictly older than the
/// replay `before` (a cursor: the last id of the previous page).
///
/// Each scope has its own branch, so that every plan (also a prepared statement's generic one)
/// walks that scope's index (`replays_request_idx`, `replays_endpoint_idx`) in order; the other
/// branch compares with NULL and reads nothing.
pub async fn list_replays(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    scope: HistoryScope,
    before: Option<ReplayId>,
    limit: i64,
) -> Result<Vec<ReplaySummary>, StoreError> {
    let (request_id, endpoint_id) = match scope {
        HistoryScope::Request(id) => (Some(id), None),
        HistoryScope::Endpoint(id) => (None, Some(id)),
    };
    Ok(sqlx::query_as!(
        ReplaySummary,
        r#"WITH cursor AS (
               SELECT c.created_at, c.id FROM replays c WHERE c.id = $3 AND c.user_id = $4
           ), page AS (
               (SELECT r.* FROM replays r
                WHERE r.request_id = $1 AND r.user_id = $4
                  AND ($3::uuid IS NULL OR (r.created_at, r.id) < (SELECT * FROM cursor))
                ORDER BY r.created_at DESC, r.id DESC LIMIT $5)
               UNION ALL
               (SELECT r.* FROM replays r
                WHERE r.endpoint_id = $2 AND r.user_id = $4
                  AND ($3::uuid IS NULL OR (r.created_at, r.id) < (SELECT * FROM cursor))
                ORDER BY r.created_at DESC, r.id DESC LIMIT $5)
           )
           SELECT r.id AS "id!: _", r.endpoint_id AS "endpoint_id!: _",
                  r.request_id AS "request_id!: _", r.target_id AS "target_id: _",
                  r.target_url AS "target_url!", r.scheme AS "scheme!: _",
                  r.status AS "status!: _", r.attempts_made AS "attempts_made!",
                  r.max_attempts AS "max_attempts!", r.batch_id AS "batch_id: _",
                  r.position AS "position!", r.created_at AS "created_at!", r.finished_at,
                  r.to_cli AS "to_cli!", last.status_code AS "last_status_code?",
                  last.error AS "last_error?", last.duration_ms AS "last_duration_ms?",
                  substring(last.response_body FROM 1 FOR 300) AS "last_response_excerpt?"
           FROM page r
           LEFT JOIN LATERAL (
               SELECT a.status_code, a.error, a.duration_ms, a.response_body FROM replay_attempts a
               WHERE a.replay_id = r.id ORDER BY a.id DESC LIMIT 1
           ) last ON true
           ORDER BY r.created_at DESC, r.id DESC"#,
        request_id as _,
        endpoint_id as _,
        before as _,
        user_id as _,
        limit
    )
    .fetch_all(ex)
    .await?)
}

/// The endpoint of one of the user's captures (a cheap existence check that loads no body).
pub async fn find_request_endpoint(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    request_id: RequestId,
) -> Result<Option<EndpointId>, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT r.endpoint_id AS "endpoint_id: EndpointId" FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
         WHERE r.id = $1 AND e.user_id = $2"#,
        request_id as _,
        user_id as _
    )
    .fetch_optional(ex)
    .await?)
}

/// The user's captures of one endpoint among `ids` (unknown or foreign ids are simply absent),
/// in capture order, with bodies only when `with_body`.
pub async fn list_replay_sources(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
    ids: &[RequestId],
    with_body: bool,
) -> Result<Vec<ReplaySource>, StoreError> {
    Ok(sqlx::query_as!(
        ReplaySource,
        r#"SELECT r.id AS "id: _", r.seq, r.received_at, CASE WHEN $4 THEN r.body END AS "body?"
           FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
           WHERE r.id = ANY($3) AND r.endpoint_id = $1 AND e.user_id = $2
           ORDER BY r.seq"#,
        endpoint_id as _,
        user_id as _,
        ids as _,
        with_body
    )
    .fetch_all(ex)
    .await?)
}
