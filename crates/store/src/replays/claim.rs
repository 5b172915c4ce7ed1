//! The workers' side of the queue, in batches: claim due jobs for several chains at once,
//! record finished attempts together, put unsent jobs back.
//!
//! A *chain* is what may have one send in flight: a job on its own (of no batch, or of an
//! unordered batch), or an ordered bulk batch (its jobs go strictly in `position` order). A
//! claim takes, for each chosen chain, its head and, for an ordered batch, the jobs right after
//! it (a *run*), so the worker can send them one after the other without a round trip to the
//! database in between.

use sqlx::{Acquire, Postgres};
use uuid::Uuid;

use super::*;

/// A finished attempt and what it means for its job.
#[derive(Debug, Clone)]
pub struct FinishedAttempt {
    pub replay_id: ReplayId,
    /// `attempts_made` from the claim (the fencing token).
    pub attempt: i32,
    pub record: ReplayAttempt,
    pub outcome: AttemptOutcome,
}

/// Claims due jobs for at most `chains` chains in one statement and marks them `running`
/// (`locked_at` stamped, the attempt counted). Chains rotate across accounts: every account's
/// first chain comes before any account's second, and among those a chain that has been
/// served less (a lower position in its batch; a job of no batch is at 0) comes first, so a
/// long bulk yields to a newcomer after each run. An account never gets more chains in flight
/// (over all processes) than `per_account`. An ordered batch's run is its head and the queued
/// jobs right after it, at most `run` jobs and `run_bytes` body bytes (always the head); a job
/// on its own is a chain of one. Returns each chain's jobs together, in `position` order. Not
/// owner-scoped: only workers call it.
pub async fn claim_replays(
    ex: impl PgExecutor<'_>,
    per_account: i64,
    chains: i64,
    run: i64,
    run_bytes: i64,
) -> Result<Vec<ClaimedReplay>, StoreError> {
    let mut jobs = sqlx::query_as!(
        ClaimedReplay,
        r#"WITH RECURSIVE batches AS (
               -- A skip scan over the batches with pending jobs (one probe each).
               (SELECT batch_id FROM replays
                WHERE batch_id IS NOT NULL AND status IN ('queued', 'running')
                ORDER BY batch_id LIMIT 1)
               UNION ALL
               SELECT (SELECT r.batch_id FROM replays r
                       WHERE r.batch_id > b.batch_id AND r.status IN ('queued', 'running')
                       ORDER BY r.batch_id LIMIT 1)
               FROM batches b WHERE b.batch_id IS NOT NULL
           ), firsts AS (
               SELECT f.* FROM batches b CROSS JOIN LATERAL (
                   SELECT r.id, r.user_id, r.batch_id, r.position, r.next_attempt_at, r.status,
                          r.to_cli, r.unordered
                   FROM replays r
                   WHERE r.batch_id = b.batch_id AND r.status IN ('queued', 'running')
                   ORDER BY r.position LIMIT 1) f
               WHERE b.batch_id IS NOT NULL
           ), accounts AS (
               -- A skip scan over the accounts with jobs claimed on their own.
               (SELECT user_id FROM replays
                WHERE status = 'queued' AND NOT to_cli AND (batch_id IS NULL OR unordered)
                ORDER BY user_id LIMIT 1)
               UNION ALL
               SELECT (SELECT r.user_id FROM replays r
                       WHERE r.user_id > a.user_id AND r.status = 'queued' AND NOT r.to_cli
                         AND (r.batch_id IS NULL OR r.unordered)
                       ORDER BY r.user_id LIMIT 1)
               FROM accounts a WHERE a.user_id IS NOT NULL
           ), heads AS (
               SELECT id, user_id, batch_id, position, next_attempt_at, true AS in_run
               FROM firsts
               WHERE status = 'queued' AND next_attempt_at <= now() AND NOT to_cli
                 AND NOT unordered
               UNION ALL
               SELECT s.* FROM accounts a CROSS JOIN LATERAL (
                   SELECT r.id, r.user_id, r.batch_id, r.position, r.next_attempt_at,
                          false AS in_run
                   FROM replays r
                   WHERE r.user_id = a.user_id AND r.status = 'queued' AND NOT r.to_cli
                     AND (r.batch_id IS NULL OR r.unordered) AND r.next_attempt_at <= now()
                   ORDER BY r.next_attempt_at, r.position LIMIT $1) s
               WHERE a.user_id IS NOT NULL
           ), busy AS (
               SELECT u.user_id, count(DISTINCT CASE WHEN u.unordered THEN u.id
                                                     ELSE COALESCE(u.batch_id, u.id) END) AS n
               FROM replays u
               WHERE u.status = 'running' AND u.user_id IN (SELECT user_id FROM heads)
               GROUP BY u.user_id
           ), chosen AS (
               SELECT t.id, t.batch_id, t.position, t.in_run FROM (
                   SELECT h.*, row_number() OVER (
                       PARTITION BY h.user_id ORDER BY h.position, h.next_attempt_at) AS turn
                   FROM heads h) t
               LEFT JOIN busy ON busy.user_id = t.user_id
               WHERE t.turn + COALESCE(busy.n, 0) <= $1
               ORDER BY t.turn, t.position, t.next_attempt_at
               LIMIT $2
           ), members AS (
               SELECT c.id AS head, c.position AS head_position, c.id, c.position FROM chosen c
               UNION ALL
               SELECT c.id, c.position, f.id, f.position FROM chosen c CROSS JOIN LATERAL (
                   SELECT w.id, w.position FROM (
                       SELECT r.id, r.position, r.status, r.next_attempt_at,
                              sum(q.body_size) OVER (ORDER BY r.position) AS bytes
                       FROM replays r JOIN requests q ON q.id = r.request_id
                       WHERE r.batch_id = c.batch_id AND r.status IN ('queued', 'running')
                         AND r.position > c.position
                       ORDER BY r.position LIMIT $3::int8 - 1) w
                   WHERE w.status = 'queued' AND w.next_attempt_at <= now() AND w.bytes <= $4
               ) f
               WHERE c.in_run
           ), locked AS (
               -- Row by row through the primary key (a join could scan the whole queue).
               SELECT m.head, m.head_position, m.position, r.id FROM members m
               CROSS JOIN LATERAL (
                   SELECT r.id FROM replays r
                   WHERE r.id = m.id AND r.status = 'queued' AND r.next_attempt_at <= now()
                   FOR UPDATE SKIP LOCKED) r
           ), kept AS (
               -- A run starts at its head and has no gap: a job whose head (or an earlier
               -- job of its run) another worker holds is not taken.
               SELECT l.id, l.head FROM (
                   SELECT l.*, row_number() OVER (PARTITION BY l.head ORDER BY l.position) AS n
                   FROM locked l) l
               WHERE l.n = l.position - l.head_position + 1
           )
           UPDATE replays r
           SET status = 'running', locked_at = now(), attempts_made = r.attempts_made + 1
           FROM kept, requests q
           WHERE r.id = kept.id AND q.id = r.request_id
           RETURNING r.id, r.user_id, r.endpoint_id, r.request_id, r.target_url,
                     r.scheme AS "scheme: _", r.secret_sealed, r.attempts_made, r.max_attempts,
                     q.method, q.headers AS "headers: _", q.body, kept.head AS "chain!: _", r.position"#,
        per_account,
        chains,
        run.max(1),
        run_bytes,
    )
    .fetch_all(ex)
    .await?;
    jobs.sort_by_key(|j| (j.chain, j.position));
    Ok(jobs)
}

/// Records finished attempts and moves their jobs on, in one transaction. A job only moves if
/// it is still `running` with `attempts_made` equal to its claim's (a job the recovery sweep
/// took back meanwhile is left alone); the attempt is recorded either way, since it really
/// happened. Returns the ids of the jobs that moved.
pub async fn finish_replay_attempts(
    ex: impl Acquire<'_, Database = Postgres>,
    finished: &[FinishedAttempt],
) -> Result<Vec<ReplayId>, StoreError> {
    let n = finished.len();
    let mut ids = Vec::with_capacity(n);
    let mut attempts = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut delays = Vec::with_capacity(n);
    for f in finished {
        let (status, delay) = match f.outcome {
            AttemptOutcome::Succeeded => (ReplayStatus::Succeeded, 0.0),
            AttemptOutcome::Failed => (ReplayStatus::Failed, 0.0),
            AttemptOutcome::RetryAfter(d) => (ReplayStatus::Queued, d.as_secs_f64()),
        };
        ids.push(Uuid::from(f.replay_id));
        attempts.push(f.attempt);
        statuses.push(status.as_str());
        delays.push(delay);
    }
    let mut tx = ex.begin().await?;
    let moved = sqlx::query_scalar!(
        r#"UPDATE replays r SET
               status = i.status,
               locked_at = NULL,
               next_attempt_at = CASE WHEN i.status = 'queued'
                   THEN now() + make_interval(secs => i.delay) ELSE r.next_attempt_at END,
               finished_at = CASE WHEN i.status = 'queued' THEN NULL ELSE now() END
           FROM UNNEST($1::uuid[], $2::int4[], $3::text[], $4::float8[])
               AS i(id, attempt, status, delay)
           WHERE r.id = i.id AND r.status = 'running' AND r.attempts_made = i.attempt
           RETURNING r.id AS "id!: ReplayId""#,
        &ids,
        &attempts,
        &statuses as &[&str],
        &delays,
    )
    .fetch_all(&mut *tx)
    .await?;
    let records: Vec<(ReplayId, &ReplayAttempt)> =
        finished.iter().map(|f| (f.replay_id, &f.record)).collect();
    record_attempts(&mut tx, &records).await?;
    tx.commit().await?;
    Ok(moved)
}

/// Puts claimed jobs back in the queue without counting an attempt (`jobs` holds each one's
/// id and `attempts_made` from its claim): unsent, because their destination is busy or their
/// run ended early. Due again after `delay`. Returns how many were put back; a job that is no
/// longer its claim's (the recovery sweep took it back) is left alone.
pub async fn requeue_replays(
    ex: impl PgExecutor<'_>,
    jobs: &[(ReplayId, i32)],
    delay: Duration,
) -> Result<u64, StoreError> {
    let ids: Vec<Uuid> = jobs.iter().map(|j| Uuid::from(j.0)).collect();
    let attempts: Vec<i32> = jobs.iter().map(|j| j.1).collect();
    let done = sqlx::query!(
        "UPDATE replays r
         SET status = 'queued', locked_at = NULL, attempts_made = r.attempts_made - 1,
             next_attempt_at = now() + make_interval(secs => $3)
         FROM UNNEST($1::uuid[], $2::int4[]) AS t(id, attempt)
         WHERE r.id = t.id AND r.status = 'running' AND r.attempts_made = t.attempt",
        &ids,
        &attempts,
        delay.as_secs_f64(),
    )
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

/// [`requeue_replays`] for one job; false when it is no longer this claim's.
pub async fn requeue_replay(
    ex: impl PgExecutor<'_>,
    replay_id: ReplayId,
    attempt: i32,
    delay: Duration,
) -> Result<bool, StoreError> {
    Ok(requeue_replays(ex, &[(replay_id, attempt)], delay).await? == 1)
}
