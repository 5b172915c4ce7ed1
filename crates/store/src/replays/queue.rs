//! Queueing replays and the workers' side: claim, put back, record an attempt, recover.

use super::*;

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
        schemes.push(r.scheme);
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
        &ids as _,
        &user_ids as _,
        &endpoint_ids as _,
        &request_ids as _,
        &target_ids as _,
        &urls,
        &schemes as _,
        &secrets as &[Option<Vec<u8>>],
        &max_attempts,
        &batch_ids as _,
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
           RETURNING r.id, r.user_id, r.endpoint_id, r.request_id, r.target_url,
                     r.scheme AS "scheme: _",
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
    replay_id: ReplayId,
    attempt: i32,
    delay: Duration,
) -> Result<bool, StoreError> {
    let done = sqlx::query!(
        "UPDATE replays
         SET status = 'queued', locked_at = NULL, attempts_made = attempts_made - 1,
             next_attempt_at = now() + make_interval(secs => $3)
         WHERE id = $1 AND status = 'running' AND attempts_made = $2",
        replay_id as _,
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
    replay_id: ReplayId,
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
        replay_id as _,
        attempt,
        status as _,
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
           SELECT id AS "id!: _", status AS "status!: _" FROM moved"#,
        stale_after.as_secs_f64(),
        INTERRUPTED_ERROR,
        CLI_GONE_ERROR,
    )
    .fetch_all(ex)
    .await?)
}

/// Queues replays like [`insert_replays`] when the account's replays of the day (UTC) stay
/// within its plan; false (nothing queued) when the batch does not fit. The day's count is one
/// row per account, updated in the same transaction, so every process shares it exactly.
pub async fn insert_replays_within_plan(
    pool: &sqlx::PgPool,
    user_id: UserId,
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
        user_id as _,
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
