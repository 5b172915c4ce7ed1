//! `hookvault listen` sessions, the replays handed to them, and the results they report.

use hookvault_core::ids::{CliSessionId, EndpointId, ReplayId, RequestId, UserId};
use sqlx::{Acquire, PgExecutor, Postgres};
use time::OffsetDateTime;

use crate::replays::{record_attempts, ReplayAttempt, ReplayStatus, CLI_EXPIRED_ERROR};
use crate::StoreError;

/// A connected CLI as the dashboard lists it.
#[derive(Debug, Clone)]
pub struct CliSession {
    pub id: CliSessionId,
    pub forward_to: String,
    pub connected_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
}

/// Records a newly opened stream (and drops rows of CLIs that died without saying so), unless
/// the account already has `limit` connected CLIs: then nothing is recorded and it says false.
pub async fn insert_cli_session(
    ex: impl PgExecutor<'_>,
    id: CliSessionId,
    user_id: UserId,
    endpoint_id: EndpointId,
    forward_to: &str,
    limit: i64,
) -> Result<bool, StoreError> {
    // The account's live CLIs are counted in the same statement, across every process; two
    // CLIs connecting at the same instant may both pass (a tolerance of the connects racing).
    let done = sqlx::query!(
        "WITH gone AS (DELETE FROM cli_sessions WHERE last_seen_at < now() - interval '5 minutes')
         INSERT INTO cli_sessions (id, user_id, endpoint_id, forward_to)
         SELECT $1, $2, $3, $4
         WHERE (SELECT count(*) FROM cli_sessions
                WHERE user_id = $2 AND last_seen_at >= now() - interval '5 minutes') < $5",
        id as _,
        user_id as _,
        endpoint_id as _,
        forward_to,
        limit
    )
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The stream is still open.
pub async fn touch_cli_session(
    ex: impl PgExecutor<'_>,
    id: CliSessionId,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE cli_sessions SET last_seen_at = now() WHERE id = $1",
        id as _
    )
    .execute(ex)
    .await?;
    Ok(())
}

/// The stream closed.
pub async fn delete_cli_session(
    ex: impl PgExecutor<'_>,
    id: CliSessionId,
) -> Result<(), StoreError> {
    sqlx::query!("DELETE FROM cli_sessions WHERE id = $1", id as _)
        .execute(ex)
        .await?;
    Ok(())
}

/// CLIs connected to one of the user's endpoints (seen in the last minute), oldest first.
pub async fn list_cli_sessions(
    ex: impl PgExecutor<'_>,
    user_id: UserId,
    endpoint_id: EndpointId,
) -> Result<Vec<CliSession>, StoreError> {
    Ok(sqlx::query_as!(
        CliSession,
        "SELECT id, forward_to, connected_at, last_seen_at FROM cli_sessions
         WHERE user_id = $1 AND endpoint_id = $2 AND last_seen_at > now() - interval '1 minute'
         ORDER BY connected_at",
        user_id as _,
        endpoint_id as _
    )
    .fetch_all(ex)
    .await?)
}

/// Tells every server process that a CLI replay was queued for this endpoint.
pub async fn notify_cli_replay(
    ex: impl PgExecutor<'_>,
    endpoint_id: EndpointId,
) -> Result<(), StoreError> {
    sqlx::query!(
        "SELECT pg_notify($1, $2)",
        crate::notify::CLI_REPLAY,
        endpoint_id.to_string()
    )
    .execute(ex)
    .await?;
    Ok(())
}

/// A CLI replay claimed by a stream.
#[derive(Debug, Clone)]
pub struct ClaimedCliReplay {
    pub id: ReplayId,
    pub request_id: RequestId,
}

/// How long a replay handed to `hookvault listen` waits for one to connect.
pub const CLI_REPLAY_WAIT: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// Claims the oldest queued CLI replay of an endpoint for one stream (`SKIP LOCKED`: with
/// several CLIs connected, each replay goes to exactly one). One that waited longer than
/// [`CLI_REPLAY_WAIT`] is left for [`expire_cli_replays`].
pub async fn claim_cli_replay(
    ex: impl PgExecutor<'_>,
    endpoint_id: EndpointId,
) -> Result<Option<ClaimedCliReplay>, StoreError> {
    Ok(sqlx::query_as!(
        ClaimedCliReplay,
        r#"WITH next AS (
               SELECT id FROM replays
               WHERE endpoint_id = $1 AND to_cli AND status = 'queued'
                 AND created_at > now() - make_interval(secs => $2)
               ORDER BY created_at, position
               LIMIT 1
               FOR UPDATE SKIP LOCKED
           )
           UPDATE replays r
           SET status = 'running', locked_at = now(), attempts_made = r.attempts_made + 1
           FROM next WHERE r.id = next.id
           RETURNING r.id, r.request_id"#,
        endpoint_id as _,
        CLI_REPLAY_WAIT.as_secs_f64()
    )
    .fetch_optional(ex)
    .await?)
}

/// Fails the replays handed to `hookvault listen` that waited longer than `wait` for one to
/// connect, recording [`crate::replays::CLI_EXPIRED_ERROR`] as their attempt; returns their ids.
/// Safe to run from several processes at once.
pub async fn expire_cli_replays(
    ex: impl Acquire<'_, Database = Postgres>,
    wait: std::time::Duration,
) -> Result<Vec<ReplayId>, StoreError> {
    let mut tx = ex.begin().await?;
    let gone = sqlx::query!(
        r#"WITH old AS (
               SELECT id FROM replays
               WHERE status = 'queued' AND to_cli AND created_at <= now() - make_interval(secs => $1)
               ORDER BY created_at
               LIMIT 1000
               FOR UPDATE SKIP LOCKED
           ), gone AS (
               UPDATE replays r SET status = 'failed', finished_at = now(), locked_at = NULL
               FROM old WHERE r.id = old.id
               RETURNING r.id
           )
           SELECT id AS "id!: ReplayId", now() AS "at!" FROM gone"#,
        wait.as_secs_f64(),
    )
    .fetch_all(&mut *tx)
    .await?;
    let expired: Vec<(ReplayId, ReplayAttempt)> = gone
        .iter()
        .map(|g| (g.id, ReplayAttempt::error_only(g.at, CLI_EXPIRED_ERROR)))
        .collect();
    let records: Vec<(ReplayId, &ReplayAttempt)> = expired.iter().map(|(id, a)| (*id, a)).collect();
    record_attempts(&mut tx, &records).await?;
    tx.commit().await?;
    Ok(gone.into_iter().map(|g| g.id).collect())
}

/// Records what the local server answered to a CLI replay of the user's, and finishes it.
/// Returns false when there is no such running CLI replay.
pub async fn finish_cli_replay(
    ex: impl Acquire<'_, Database = Postgres>,
    user_id: UserId,
    replay_id: ReplayId,
    record: &ReplayAttempt,
    succeeded: bool,
    forward_to: &str,
) -> Result<bool, StoreError> {
    let mut tx = ex.begin().await?;
    let finished = sqlx::query!(
        r#"UPDATE replays SET status = $3, locked_at = NULL, finished_at = now(),
                  target_url = CASE WHEN $4 = '' THEN target_url ELSE $4 END
           WHERE id = $1 AND user_id = $2 AND to_cli AND status = 'running'"#,
        replay_id as _,
        user_id as _,
        if succeeded {
            ReplayStatus::Succeeded
        } else {
            ReplayStatus::Failed
        } as _,
        forward_to,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if finished {
        record_attempts(&mut tx, &[(replay_id, record)]).await?;
        tx.commit().await?;
    }
    Ok(finished)
}

/// Records a live capture that the CLI delivered on its own, as a finished CLI replay with one
/// attempt, so the dashboard's history shows what the local server answered. Returns the new
/// replay's id, or `None` when the request is not the user's.
pub async fn insert_cli_delivery(
    ex: impl Acquire<'_, Database = Postgres>,
    user_id: UserId,
    request_id: RequestId,
    forward_to: &str,
    record: &ReplayAttempt,
    succeeded: bool,
) -> Result<Option<ReplayId>, StoreError> {
    let id = ReplayId::now_v7();
    let mut tx = ex.begin().await?;
    let inserted = sqlx::query!(
        r#"WITH owned AS (
               SELECT r.id, r.endpoint_id FROM requests r JOIN endpoints e ON e.id = r.endpoint_id
               WHERE r.id = $2 AND e.user_id = $3
           ), job AS (
               INSERT INTO replays (id, user_id, endpoint_id, request_id, target_url, scheme,
                      status, attempts_made, max_attempts, finished_at, to_cli)
               SELECT $1, $3, endpoint_id, id, $4, 'original', $5, 1, 1, now(), true FROM owned
               RETURNING id
           )
           SELECT count(*) AS "n!" FROM job"#,
        id as _,
        request_id as _,
        user_id as _,
        forward_to,
        if succeeded {
            ReplayStatus::Succeeded
        } else {
            ReplayStatus::Failed
        } as _,
    )
    .fetch_one(&mut *tx)
    .await?
    .n == 1;
    if !inserted {
        return Ok(None);
    }
    record_attempts(&mut tx, &[(id, record)]).await?;
    tx.commit().await?;
    Ok(Some(id))
}
