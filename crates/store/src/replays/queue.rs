//! Queueing replays and the workers' side: claim, put back, record an attempt, recover.

use sqlx::{Acquire, Postgres};

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
    let mut unordered = Vec::with_capacity(n);
    for r in replays {
        unordered.push(r.unordered && r.batch_id.is_some());
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
                      scheme, secret_sealed, max_attempts, batch_id, position, to_cli, unordered)
               SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[],
                      $6::text[], $7::text[], $8::bytea[], $9::int4[], $10::uuid[], $11::int4[],
                      $12::bool[], $13::bool[])
               RETURNING id
           )
           SELECT pg_notify($14, count(*)::text) FROM queued"#,
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
        &unordered,
        crate::notify::REPLAY_QUEUED,
    )
    .fetch_one(ex)
    .await?;
    Ok(())
}

/// Takes back jobs left `running` by a worker that died: those locked more than `stale_after`
/// ago go back to `queued` if attempts remain, else to `failed`. Either way the interrupted
/// attempt is recorded with [`INTERRUPTED_ERROR`]. The jobs of an ordered bulk batch behind its
/// first running one were claimed but never sent: they go back to `queued` without using an
/// attempt. (Each running job of an unordered batch may have been sent, like a job of no batch.)
/// Safe to run from several processes at once.
pub async fn recover_stale_replays(
    ex: impl Acquire<'_, Database = Postgres>,
    stale_after: Duration,
) -> Result<Vec<RecoveredReplay>, StoreError> {
    let mut tx = ex.begin().await?;
    let rows = sqlx::query!(
        r#"WITH stale AS (
               SELECT id, locked_at, batch_id, position, unordered FROM replays
               WHERE status = 'running' AND locked_at < now() - make_interval(secs => $1)
               FOR UPDATE SKIP LOCKED
           ), unsent AS (
               -- A worker sends a run's jobs one after the other and records each before the
               -- next, so behind a batch's first running job nothing was sent yet.
               SELECT s.id FROM stale s
               WHERE s.batch_id IS NOT NULL AND NOT s.unordered AND EXISTS (
                   SELECT 1 FROM replays e
                   WHERE e.batch_id = s.batch_id AND e.status = 'running'
                     AND e.position < s.position)
           ), back AS (
               UPDATE replays r SET
                   status = 'queued', attempts_made = r.attempts_made - 1,
                   next_attempt_at = now(), locked_at = NULL
               FROM unsent WHERE r.id = unsent.id
               RETURNING r.id, r.status
           ), moved AS (
               UPDATE replays r SET
                   status = CASE WHEN r.attempts_made < r.max_attempts
                       THEN 'queued' ELSE 'failed' END,
                   next_attempt_at = now(),
                   locked_at = NULL,
                   finished_at = CASE WHEN r.attempts_made < r.max_attempts
                       THEN NULL ELSE now() END
               FROM stale WHERE r.id = stale.id AND r.id NOT IN (SELECT id FROM unsent)
               RETURNING r.id, r.status, COALESCE(stale.locked_at, now()) AS started_at,
                         r.to_cli
           )
           SELECT id AS "id!: ReplayId", status AS "status!: ReplayStatus",
                  started_at AS "started_at?: OffsetDateTime", to_cli AS "to_cli?: bool"
           FROM moved
           UNION ALL
           SELECT id, status, NULL, NULL FROM back"#,
        stale_after.as_secs_f64(),
    )
    .fetch_all(&mut *tx)
    .await?;
    // The interrupted attempts of the jobs that were (perhaps) sent; not of those put back.
    let interrupted: Vec<(ReplayId, ReplayAttempt)> = rows
        .iter()
        .filter_map(|r| {
            let error = match r.to_cli? {
                true => CLI_GONE_ERROR,
                false => INTERRUPTED_ERROR,
            };
            Some((r.id, ReplayAttempt::error_only(r.started_at?, error)))
        })
        .collect();
    let records: Vec<(ReplayId, &ReplayAttempt)> =
        interrupted.iter().map(|(id, a)| (*id, a)).collect();
    record_attempts(&mut tx, &records).await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| RecoveredReplay {
            id: r.id,
            status: r.status,
        })
        .collect())
}

/// Queues replays like [`insert_replays`] when the account's replays of the day (UTC) stay
/// within its plan; false (nothing queued) when the batch does not fit. The day's count is one
/// row per account, updated in the same transaction, so every process shares it exactly.
pub async fn insert_replays_within_plan(
    pool: &sqlx::PgPool,
    user_id: UserId,
    replays: &[NewReplay],
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    if !count_and_insert(&mut tx, user_id, replays).await? {
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// What became of a "Retry failed".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Queued,
    /// Nothing queued: the plan's replays of the day would be exceeded.
    OverPlan,
    /// Nothing queued: some of the failures were retried meanwhile (another click).
    AlreadyRetried,
}

/// Queues `replays`, the retries of the failed replays `retried` (of one bulk replay), as the
/// bulk replay `batch`, within the plan like [`insert_replays_within_plan`]. The failures are
/// marked retried by `batch` in the same transaction, each only if nobody retried it yet: of
/// two retries at once, one queues everything and the other nothing.
pub async fn insert_retry_within_plan(
    pool: &sqlx::PgPool,
    user_id: UserId,
    batch: BatchId,
    retried: &[ReplayId],
    replays: &[NewReplay],
) -> Result<Retry, StoreError> {
    let mut tx = pool.begin().await?;
    let marked = sqlx::query!(
        "UPDATE replays SET retried_by = $1
         WHERE id = ANY($2::uuid[]) AND user_id = $3 AND status = 'failed' AND retried_by IS NULL",
        batch as _,
        retried as _,
        user_id as _,
    )
    .execute(&mut *tx)
    .await?;
    if marked.rows_affected() != retried.len() as u64 {
        return Ok(Retry::AlreadyRetried);
    }
    if !count_and_insert(&mut tx, user_id, replays).await? {
        return Ok(Retry::OverPlan);
    }
    tx.commit().await?;
    Ok(Retry::Queued)
}

/// Adds `replays` to the account's count of the day and inserts them, in the caller's
/// transaction; false (nothing counted or inserted) when they do not fit the plan.
async fn count_and_insert(
    tx: &mut sqlx::PgConnection,
    user_id: UserId,
    replays: &[NewReplay],
) -> Result<bool, StoreError> {
    let n = i64::try_from(replays.len()).unwrap_or(i64::MAX);
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
    Ok(true)
}
