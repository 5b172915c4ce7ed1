//! Replays: saved targets, the job queue the replay workers claim from (`FOR UPDATE SKIP
//! LOCKED`), attempt records, the recovery of jobs whose worker died, and owner-scoped history.
//!
//! Decisions (when to retry, how long to wait) are made by the caller; these functions only
//! store them. Jobs of one batch run strictly in `position` order: [`claim_next_replay`] never
//! returns a job while an earlier job of its batch is queued or running.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;

/// The error recorded on an attempt whose worker disappeared while sending.
pub const INTERRUPTED_ERROR: &str = "interrupted: the server stopped while sending";

/// Recorded when a replay handed to `hookvault listen` got no result back in time.
pub const CLI_GONE_ERROR: &str = "the hookvault listen CLI disconnected before reporting a result";

/// Where a replay is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplayStatus {
    /// Waiting for a worker (also between retries).
    Queued,
    /// A worker is sending it.
    Running,
    /// The last attempt got a 2xx.
    Succeeded,
    /// No attempt got a 2xx and none remain.
    Failed,
}

impl ReplayStatus {
    /// The stored (and API) name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplayStatus::Queued => "queued",
            ReplayStatus::Running => "running",
            ReplayStatus::Succeeded => "succeeded",
            ReplayStatus::Failed => "failed",
        }
    }

    /// True for `succeeded` and `failed`.
    pub fn is_finished(self) -> bool {
        matches!(self, ReplayStatus::Succeeded | ReplayStatus::Failed)
    }
}

impl fmt::Display for ReplayStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReplayStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "queued" => Ok(ReplayStatus::Queued),
            "running" => Ok(ReplayStatus::Running),
            "succeeded" => Ok(ReplayStatus::Succeeded),
            "failed" => Ok(ReplayStatus::Failed),
            other => Err(format!("unknown replay status {other:?}")),
        }
    }
}

/// A replay to queue. `secret_sealed` must be sealed with `id` as associated data.
#[derive(Debug, Clone)]
pub struct NewReplay {
    pub id: Uuid,
    pub user_id: Uuid,
    pub endpoint_id: Uuid,
    pub request_id: Uuid,
    pub target_id: Option<Uuid>,
    pub target_url: String,
    pub scheme: String,
    pub secret_sealed: Option<Vec<u8>>,
    pub max_attempts: i32,
    pub batch_id: Option<Uuid>,
    pub position: i32,
    /// Handed to the endpoint's connected `hookvault listen` instead of a worker.
    pub to_cli: bool,
}

/// A replay as stored (without its sealed secret).
#[derive(Debug, Clone)]
pub struct Replay {
    pub id: Uuid,
    pub user_id: Uuid,
    pub endpoint_id: Uuid,
    pub request_id: Uuid,
    pub target_id: Option<Uuid>,
    pub target_url: String,
    pub scheme: String,
    pub status: String,
    pub attempts_made: i32,
    pub max_attempts: i32,
    pub next_attempt_at: OffsetDateTime,
    pub batch_id: Option<Uuid>,
    pub position: i32,
    pub created_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

/// A replay in a history list, with the outcome of its latest attempt.
#[derive(Debug, Clone)]
pub struct ReplaySummary {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub request_id: Uuid,
    pub target_id: Option<Uuid>,
    pub target_url: String,
    pub scheme: String,
    pub status: String,
    pub attempts_made: i32,
    pub max_attempts: i32,
    pub batch_id: Option<Uuid>,
    pub position: i32,
    pub created_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    /// Handed to `hookvault listen` rather than sent by a worker.
    pub to_cli: bool,
    pub last_duration_ms: Option<i32>,
    /// The first 300 bytes of the latest answer (attacker-controlled: show as text only).
    pub last_response_excerpt: Option<Vec<u8>>,
}

/// One recorded attempt.
#[derive(Debug, Clone)]
pub struct ReplayAttempt {
    pub started_at: OffsetDateTime,
    pub duration_ms: Option<i32>,
    pub status_code: Option<i32>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Vec<u8>,
    pub response_truncated: bool,
    pub error: Option<String>,
}

/// A job a worker has claimed, with what it needs to send it: the stored request's method,
/// encoded headers and body bytes. (`Debug` in `redact.rs` hides headers, body and secret.)
#[derive(Clone)]
pub struct ClaimedReplay {
    pub id: Uuid,
    pub user_id: Uuid,
    pub endpoint_id: Uuid,
    pub request_id: Uuid,
    pub target_url: String,
    pub scheme: String,
    pub secret_sealed: Option<Vec<u8>>,
    /// Including this attempt; pass it back to [`finish_replay_attempt`] as the fencing token.
    pub attempts_made: i32,
    pub max_attempts: i32,
    pub method: String,
    /// Encoded with `hookvault_core::headers::encode`.
    pub headers: Vec<u8>,
    pub body: Vec<u8>,
}

/// What happens to a job after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AttemptOutcome {
    /// Done, with a 2xx.
    Succeeded,
    /// Done, without one.
    Failed,
    /// Back to `queued`, due again after this delay.
    RetryAfter(Duration),
}

/// A job moved by [`recover_stale_replays`].
#[derive(Debug, Clone)]
pub struct RecoveredReplay {
    pub id: Uuid,
    /// `queued` (attempts remain) or `failed`.
    pub status: String,
}

/// A saved target (the sealed secret is bound to `id`).
#[derive(Debug, Clone)]
pub struct ReplayTarget {
    pub id: Uuid,
    pub user_id: Uuid,
    pub endpoint_id: Uuid,
    pub name: String,
    pub url: String,
    pub scheme: String,
    pub secret_sealed: Option<Vec<u8>>,
    pub max_attempts: i32,
    pub created_at: OffsetDateTime,
}

/// A capture chosen for a bulk replay: what ordering needs. `body` is loaded only on request.
#[derive(Debug, Clone)]
pub struct ReplaySource {
    pub id: Uuid,
    pub seq: i64,
    pub received_at: OffsetDateTime,
    pub body: Option<Vec<u8>>,
}

// ---------------------------------------------------------------------------------------------
// Queueing and the worker's side
// ---------------------------------------------------------------------------------------------

/// Queues replays (one, or a whole batch) with a single statement, so a batch is queued
/// completely or not at all, and announces them to the workers (delivered on
/// commit).
pub async fn insert_replays(
    ex: impl PgExecutor<'_>,
    replays: &[NewReplay],
) -> Result<(), StoreError> {
    let n = replays.len();
    let mut ids = Vec::with_capacity(n);
    let mut user_ids = Vec::with_capacity(n);
    let mut endpoint_ids = Vec::with_capacity(n);
    let mut request_ids = Vec::with_capacity(n);
    let mut target_ids = Vec::with_capacity(n);
    let mut urls = Vec::with_capacity(n);
    let mut schemes = Vec::with_capacity(n);
    let mut secrets = Vec::with_capacity(n);
    let mut max_attempts = Vec::with_capacity(n);
    let mut batch_ids = Vec::with_capacity(n);
    let mut positions = Vec::with_capacity(n);
    let mut to_cli = Vec::with_capacity(n);
    for r in replays {
        to_cli.push(r.to_cli);
        ids.push(r.id);
        user_ids.push(r.user_id);
        endpoint_ids.push(r.endpoint_id);
        request_ids.push(r.request_id);
        target_ids.push(r.target_id);
        urls.push(r.target_url.clone());
        schemes.push(r.scheme.clone());
        secrets.push(r.secret_sealed.clone());
        max_attempts.push(r.max_attempts);
        batch_ids.push(r.batch_id);
        positions.push(r.position);
    }
    sqlx::query!(
        r#"WITH queued AS (
               INSERT INTO replays (id, user_id, endpoint_id, request_id, target_id, target_url,
                      scheme, secret_sealed, max_attempts, batch_id, position, to_cli)
               SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[],
                      $6::text[], $7::text[], $8::bytea[], $9::int4[], $10::uuid[], $11::int4[],
                      $12::bool[])
               RETURNING id
           )
           SELECT pg_notify($13, count(*)::text) FROM queued"#,
        &ids,
        &user_ids,
        &endpoint_ids,
        &request_ids,
        &target_ids as &[Option<Uuid>],
        &urls,
        &schemes,
        &secrets as &[Option<Vec<u8>>],
        &max_attempts,
        &batch_ids as &[Option<Uuid>],
        &positions,
        &to_cli,
        crate::notify::REPLAY_QUEUED,
    )
    .fetch_one(ex)
    .await?;
    Ok(())
}

/// Claims the next due job: marks it `running`, stamps `locked_at` and counts the attempt.
/// Skips jobs other workers hold, jobs whose batch still has an earlier job queued or
/// running, and jobs of accounts that already have `per_account` replays running (so one
/// account's replays cannot hold every worker). Not owner-scoped: only workers call it.
pub async fn claim_next_replay(
    ex: impl PgExecutor<'_>,
    per_account: i64,
) -> Result<Option<ClaimedReplay>, StoreError> {
    Ok(sqlx::query_as!(
        ClaimedReplay,
        r#"WITH next AS (
               SELECT r.id FROM replays r
               WHERE r.status = 'queued' AND r.next_attempt_at <= now() AND NOT r.to_cli
                 AND NOT (r.batch_id IS NOT NULL AND EXISTS (
                     SELECT 1 FROM replays p
                     WHERE p.batch_id = r.batch_id AND p.position < r.position
                       AND p.status IN ('queued', 'running')))
                 AND (SELECT count(*) FROM replays u
                      WHERE u.user_id = r.user_id AND u.status = 'running') < $1
               ORDER BY r.next_attempt_at, r.position
               LIMIT 1
               FOR UPDATE SKIP LOCKED
           )
           UPDATE replays r
           SET status = 'running', locked_at = now(), attempts_made = r.attempts_made + 1
           FROM next, requests q
           WHERE r.id = next.id AND q.id = r.request_id
           RETURNING r.id, r.user_id, r.endpoint_id, r.request_id, r.target_url, r.scheme,
                     r.secret_sealed, r.attempts_made, r.max_attempts, q.method, q.headers, q.body"#,
        per_account
    )
    .fetch_optional(ex)
    .await?)
}

/// Puts a claimed job back in the queue without counting an attempt: its destination is busy,
/// and its worker goes on with other work instead of waiting. Due again after `delay`. False
/// when the job is no longer this claim's (the recovery sweep took it back).
pub async fn requeue_replay(
    ex: impl PgExecutor<'_>,
    replay_id: Uuid,
    attempt: i32,
    delay: Duration,
) -> Result<bool, StoreError> {
    let done = sqlx::query!(
        "UPDATE replays
         SET status = 'queued', locked_at = NULL, attempts_made = attempts_made - 1,
             next_attempt_at = now() + make_interval(secs => $3)
         WHERE id = $1 AND status = 'running' AND attempts_made = $2",
        replay_id,
        attempt,
        delay.as_secs_f64(),
    )
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A new attempt record.
#[derive(Debug, Clone)]
pub struct NewAttempt {
    pub started_at: OffsetDateTime,
    pub duration_ms: Option<i32>,
    pub status_code: Option<i32>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Vec<u8>,
    pub response_truncated: bool,
    pub error: Option<String>,
}

/// Records an attempt and moves the job on, in one statement. The job only moves if it is
/// still `running` with `attempts_made == attempt` (the value from the claim): a job the
/// recovery sweep took back meanwhile is left alone. The attempt is recorded either way, since
/// it really happened. Returns whether the job moved.
pub async fn finish_replay_attempt(
    ex: impl PgExecutor<'_>,
    replay_id: Uuid,
    attempt: i32,
    record: &NewAttempt,
    outcome: AttemptOutcome,
) -> Result<bool, StoreError> {
    let (status, delay) = match outcome {
        AttemptOutcome::Succeeded => (ReplayStatus::Succeeded, 0.0),
        AttemptOutcome::Failed => (ReplayStatus::Failed, 0.0),
        AttemptOutcome::RetryAfter(d) => (ReplayStatus::Queued, d.as_secs_f64()),
    };
    Ok(sqlx::query_scalar!(
        r#"WITH job AS (
               UPDATE replays SET
                   status = $3,
                   locked_at = NULL,
                   next_attempt_at = CASE WHEN $3 = 'queued'
                       THEN now() + make_interval(secs => $4) ELSE next_attempt_at END,
                   finished_at = CASE WHEN $3 = 'queued' THEN NULL ELSE now() END
               WHERE id = $1 AND status = 'running' AND attempts_made = $2
               RETURNING id
           ), noted AS (
               INSERT INTO replay_attempts (replay_id, started_at, duration_ms, status_code,
                      response_headers, response_body, response_truncated, error)
               VALUES ($1, $5, $6, $7, $8, $9, $10, $11)
           )
           SELECT EXISTS (SELECT 1 FROM job) AS "moved!""#,
        replay_id,
        attempt,
        status.as_str(),
        delay,
        record.started_at,
        record.duration_ms,
        record.status_code,
        Json(&record.response_headers) as _,
        record.response_body,
        record.response_truncated,
        record.error,
    )
    .fetch_one(ex)
    .await?)
}

/// Takes back jobs left `running` by a worker that died: those locked more than `stale_after`
/// ago go back to `queued` if attempts remain, else to `failed`. Either way the interrupted
/// attempt is recorded with [`INTERRUPTED_ERROR`]. Safe to run from several processes at once.
pub async fn recover_stale_replays(
    ex: impl PgExecutor<'_>,
    stale_after: Duration,
) -> Result<Vec<RecoveredReplay>, StoreError> {
    Ok(sqlx::query_as!(
        RecoveredReplay,
        r#"WITH stale AS (
               SELECT id, locked_at FROM replays
               WHERE status = 'running' AND locked_at < now() - make_interval(secs => $1)
               FOR UPDATE SKIP LOCKED
           ), moved AS (
               UPDATE replays r SET
                   status = CASE WHEN r.attempts_made < r.max_attempts
                       THEN 'queued' ELSE 'failed' END,
                   next_attempt_at = now(),
                   locked_at = NULL,
                   finished_at = CASE WHEN r.attempts_made < r.max_attempts
                       THEN NULL ELSE now() END
               FROM stale WHERE r.id = stale.id
               RETURNING r.id, r.status, stale.locked_at, r.to_cli
           ), noted AS (
               INSERT INTO replay_attempts (replay_id, started_at, error)
               SELECT id, COALESCE(locked_at, now()), CASE WHEN to_cli THEN $3 ELSE $2 END
               FROM moved
           )
           SELECT id AS "id!", status AS "status!" FROM moved"#,
        stale_after.as_secs_f64(),
        INTERRUPTED_ERROR,
        CLI_GONE_ERROR,
    )
    .fetch_all(ex)
    .await?)
}

// ---------------------------------------------------------------------------------------------
// Owner-scoped reads
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Saved targets
// ---------------------------------------------------------------------------------------------

/// Saves a target for one of the user's endpoints; false when the endpoint is not theirs.
/// `secret_sealed` must be sealed with `target.id` as associated data.
pub async fn insert_replay_target(
    ex: impl PgExecutor<'_>,
    target: &ReplayTarget,
) -> Result<bool, StoreError> {
    let r = sqlx::query!(
        "INSERT INTO replay_targets (id, user_id, endpoint_id, name, url, scheme, secret_sealed,
                max_attempts)
         SELECT $1, $2, e.id, $4, $5, $6, $7, $8 FROM endpoints e
         WHERE e.id = $3 AND e.user_id = $2",
        target.id,
        target.user_id,
        target.endpoint_id,
        target.name,
        target.url,
        target.scheme,
        target.secret_sealed,
        target.max_attempts
    )
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The saved targets of one of the user's endpoints, newest first.
pub async fn list_replay_targets(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    endpoint_id: Uuid,
) -> Result<Vec<ReplayTarget>, StoreError> {
    Ok(sqlx::query_as!(
        ReplayTarget,
        "SELECT id, user_id, endpoint_id, name, url, scheme, secret_sealed, max_attempts,
                created_at
         FROM replay_targets WHERE endpoint_id = $1 AND user_id = $2
         ORDER BY created_at DESC, id DESC",
        endpoint_id,
        user_id
    )
    .fetch_all(ex)
    .await?)
}

/// One of the user's saved targets.
pub async fn find_replay_target(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<ReplayTarget>, StoreError> {
    Ok(sqlx::query_as!(
        ReplayTarget,
        "SELECT id, user_id, endpoint_id, name, url, scheme, secret_sealed, max_attempts,
                created_at
         FROM replay_targets WHERE id = $1 AND user_id = $2",
        id,
        user_id
    )
    .fetch_optional(ex)
    .await?)
}

/// Deletes one of the user's saved targets (replays made with it keep their copy); false when
/// not found.
pub async fn delete_replay_target(
    ex: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> Result<bool, StoreError> {
    let r = sqlx::query!(
        "DELETE FROM replay_targets WHERE id = $1 AND user_id = $2",
        id,
        user_id
    )
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Queues replays like [`insert_replays`] when the account's replays of the day (UTC) stay
/// within its plan; false (nothing queued) when the batch does not fit. The day's count is one
/// row per account, updated in the same transaction, so every process shares it exactly.
pub async fn insert_replays_within_plan(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    replays: &[NewReplay],
) -> Result<bool, StoreError> {
    let n = i64::try_from(replays.len()).unwrap_or(i64::MAX);
    let mut tx = pool.begin().await?;
    let counted = sqlx::query_scalar!(
        r#"WITH lim AS (
               SELECT p.replays_per_day::int8 AS n FROM users u JOIN plans p ON p.name = u.plan
               WHERE u.id = $1
           )
           INSERT INTO replay_usage AS ru (user_id, day, replays)
           SELECT $1, (now() AT TIME ZONE 'UTC')::date, $2 FROM lim WHERE $2 <= lim.n
           ON CONFLICT (user_id, day) DO UPDATE SET replays = ru.replays + excluded.replays
               WHERE ru.replays + excluded.replays <= (
                   SELECT p.replays_per_day FROM users u JOIN plans p ON p.name = u.plan
                   WHERE u.id = ru.user_id)
           RETURNING replays"#,
        user_id,
        n
    )
    .fetch_optional(&mut *tx)
    .await?;
    if counted.is_none() {
        return Ok(false);
    }
    insert_replays(&mut *tx, replays).await?;
    tx.commit().await?;
    Ok(true)
}
