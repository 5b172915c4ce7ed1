//! The replay workers: a dispatcher that claims queued replays from Postgres in batches, runs
//! up to N chains at once (each signs its jobs afresh, sends them through the
//! [`GuardedClient`] and hands every attempt to the [`Recorder`]), plus the recovery sweep
//! that takes back jobs whose worker died.
//!
//! A chain has at most one send in flight: a replay of no batch or of an unordered batch
//! (`"order":"none"`, whose jobs are each a chain of their own and so go out concurrently), or
//! a run of an ordered bulk batch, whose jobs are sent one after the other, each only once the
//! one before it has an answer (or failed for good), so a bulk replay keeps its order while
//! several batches and accounts are served at once. One claim statement serves every free
//! slot, rotating across accounts ([`replays::claim_replays`]); while chains run, claims are
//! at least [`CLAIM_GAP`] apart, so slots freed meanwhile are filled together.
//!
//! The dispatcher wakes when a replay is queued in this process (a [`Notify`] the API pokes),
//! when another process announces one (the server's LISTEN on `hookvault_replay_queued` pokes
//! the same [`Notify`]), when a chain ends, and once a second regardless, which also picks up
//! retries that became due.
//!
//! Signatures are computed immediately before each send, so their timestamps are fresh on every
//! attempt; the stored body bytes are sent unchanged with the stored method to the stored URL.
//! Logs carry `replay.id`, `replay.status` and `duration_ms`, never secrets or bodies.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hookvault_core::ids::ReplayId;
use hookvault_core::secretbox::SecretKey;
use hookvault_core::signing;
use hookvault_store::replays::{
    self, AttemptOutcome, ClaimedReplay, FinishedAttempt, ReplayAttempt, ReplayStatus,
};
use hookvault_store::{PgPool, StoreError};
use time::OffsetDateTime;
use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument;

use crate::guard::{GuardedClient, OutboundRequest, OutboundResponse, SendError};
use crate::limit::DestinationLimits;
use crate::record::Recorder;

/// How much of a target's answer is kept per attempt.
pub const RESPONSE_EXCERPT_BYTES: usize = 64 * 1024;

/// How often an idle dispatcher looks for due jobs even without a wake-up.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How often the recovery sweep runs (it also runs once at start).
pub const RECOVERY_INTERVAL: Duration = Duration::from_secs(15);

/// A `running` job is taken back when its lock is older than the send timeout plus this.
pub const RECOVERY_MARGIN: Duration = Duration::from_secs(30);

/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// Most jobs of one bulk batch claimed together as a run.
pub const RUN_JOBS: i64 = 32;

/// Most body bytes of one run (its first job is always taken).
pub const RUN_BYTES: i64 = 1024 * 1024;

/// Least time between two claims while chains are running: chains that end meanwhile are
/// refilled together by the next claim, so a stream of short chains (the jobs of an unordered
/// batch, each a chain of its own) costs one claim statement per group of finished jobs rather
/// than one per job. With nothing running the dispatcher claims at once.
pub const CLAIM_GAP: Duration = Duration::from_millis(5);

/// A run's jobs are sent only this long after its claim; the rest go back to the queue. Far
/// below [`RECOVERY_MARGIN`], so the recovery sweep never takes back a job still held here.
pub const RUN_BUDGET: Duration = Duration::from_secs(5);

/// What the workers share. Cheap to clone.
#[derive(Clone)]
pub struct WorkerContext {
    /// The store.
    pub pool: PgPool,
    /// The one guarded outbound client (its response cap should be [`RESPONSE_EXCERPT_BYTES`]).
    pub client: GuardedClient,
    /// Opens the sealed signing secrets of replays.
    pub secret_key: SecretKey,
    /// Poked when replays are queued.
    pub wake: Arc<Notify>,
    /// The client's total time limit per send; jobs locked longer than this plus
    /// [`RECOVERY_MARGIN`] are considered abandoned.
    pub send_timeout: Duration,
    /// Concurrency and rate limits per destination.
    pub limits: Arc<DestinationLimits>,
    /// Most chains (so sends) of one account in flight at once (over all processes).
    pub per_account: usize,
}

/// The running dispatcher and the recovery sweep.
pub struct ReplayWorkers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ReplayWorkers {
    /// Starts the dispatcher, running at most `workers` chains at once, and the recovery sweep
    /// (which runs once right away). With zero workers nothing is started.
    pub fn spawn(ctx: WorkerContext, workers: usize) -> Self {
        let (stop, rx) = watch::channel(false);
        let mut tasks = Vec::with_capacity(2);
        if workers > 0 {
            tasks.push(tokio::spawn(run_recovery(ctx.clone(), rx.clone())));
            let span = tracing::info_span!("replay_dispatcher");
            tasks.push(tokio::spawn(
                run_dispatcher(ctx, workers, rx).instrument(span),
            ));
        }
        tracing::info!(workers, "replay workers started");
        Self { stop, tasks }
    }

    /// Stops claiming new jobs and waits for the sends in flight to finish and be recorded
    /// (the unsent rest of every run goes back to the queue).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a replay worker task ended abnormally");
            }
        }
        tracing::info!("replay workers stopped");
    }
}

async fn run_dispatcher(ctx: WorkerContext, workers: usize, mut stop: watch::Receiver<bool>) {
    let (recorder, recording) = Recorder::spawn(ctx.pool.clone());
    let per_account = i64::try_from(ctx.per_account.max(1)).unwrap_or(i64::MAX);
    let mut chains: JoinSet<Option<Duration>> = JoinSet::new();
    // Look again no later than the soonest job put back for its destination's turn.
    let mut look_again = POLL_INTERVAL;
    // Whether something happened since the last claim that may have made work claimable.
    let mut want = true;
    let mut last_claim: Option<Instant> = None;
    loop {
        if *stop.borrow_and_update() {
            break;
        }
        // Registered before looking for work, so a wake-up that arrives while we look is kept.
        let notified = ctx.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // While chains run, claims are at least CLAIM_GAP apart (slots freed meanwhile are
        // filled by one statement); with none running, at once.
        let gap_over = last_claim.is_none_or(|at| at.elapsed() >= CLAIM_GAP);
        if want && chains.len() < workers && (gap_over || chains.is_empty()) {
            want = false;
            last_claim = Some(Instant::now());
            let limit = i64::try_from(workers - chains.len()).unwrap_or(i64::MAX);
            match replays::claim_replays(&ctx.pool, per_account, limit, RUN_JOBS, RUN_BYTES).await {
                Ok(jobs) => {
                    for chain in split_chains(jobs) {
                        let (ctx, recorder, stop) = (ctx.clone(), recorder.clone(), stop.clone());
                        chains.spawn(run_chain(ctx, chain, recorder, stop));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming replays failed"),
            }
            look_again = POLL_INTERVAL.min(look_again);
        }
        // A claim held back by the gap happens when the gap is over.
        let held_back = want && chains.len() < workers;
        let gap_end = last_claim.map_or_else(Instant::now, |at| at + CLAIM_GAP);
        tokio::select! {
            _ = &mut notified, if chains.len() < workers => want = true,
            () = tokio::time::sleep(look_again) => {
                look_again = POLL_INTERVAL;
                want = true;
            }
            () = tokio::time::sleep_until(gap_end.into()), if held_back => {}
            Some(ended) = chains.join_next(), if !chains.is_empty() => {
                want = true;
                match ended {
                    Ok(Some(wait)) => look_again = look_again.min(wait),
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "a replay chain ended abnormally"),
                }
            }
            changed = stop.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }
    while let Some(ended) = chains.join_next().await {
        if let Err(e) = ended {
            tracing::error!(error = %e, "a replay chain ended abnormally");
        }
    }
    drop(recorder);
    if let Err(e) = recording.await {
        tracing::error!(error = %e, "the replay attempt recorder ended abnormally");
    }
}

/// Groups claimed jobs (each chain's together, in position order) by chain.
fn split_chains(jobs: Vec<ClaimedReplay>) -> Vec<Vec<ClaimedReplay>> {
    let mut chains: Vec<Vec<ClaimedReplay>> = Vec::new();
    for job in jobs {
        match chains.last_mut() {
            Some(chain) if chain[0].chain == job.chain => chain.push(job),
            _ => chains.push(vec![job]),
        }
    }
    chains
}

/// Sends a chain's jobs one after the other. Each waits for its destination's turn without
/// holding anything: when the destination is busy, it and the rest of the run go back to the
/// queue, due when the turn comes, and the wait is returned. A retry scheduled for a job ends
/// the run (the jobs after it must wait for it). Each attempt is recorded before the next job
/// is sent, so the next claim sees the batch's next job.
async fn run_chain(
    ctx: WorkerContext,
    chain: Vec<ClaimedReplay>,
    recorder: Recorder,
    stop: watch::Receiver<bool>,
) -> Option<Duration> {
    let claimed = Instant::now();
    let mut deferred = None;
    let mut jobs = chain.into_iter();
    while let Some(job) = jobs.next() {
        if *stop.borrow() || claimed.elapsed() > RUN_BUDGET {
            put_back(&ctx.pool, std::iter::once(job).chain(jobs), Duration::ZERO).await;
            break;
        }
        // The destination's turn comes first (R13).
        let pass = match url::Url::parse(&job.target_url) {
            Ok(url) => {
                let key = ctx.limits.key(&url).await;
                match ctx.limits.try_enter(&key) {
                    Ok(pass) => Some(pass),
                    Err(wait) => {
                        put_back(&ctx.pool, std::iter::once(job).chain(jobs), wait).await;
                        deferred = Some(wait);
                        break;
                    }
                }
            }
            // `build_request` refuses it with the reason.
            Err(_) => None,
        };
        let (id, attempt) = (job.id, job.attempts_made);
        let span =
            tracing::info_span!("replay", replay.id = %id, request.id = %job.request_id, attempt);
        let finished = attempt_job(&ctx, job).instrument(span).await;
        drop(pass);
        let retry = matches!(finished.outcome, AttemptOutcome::RetryAfter(_));
        // The next job is sent only once this attempt is committed (the recorder still writes
        // the attempts of all chains together): of a run's jobs still `running`, only the
        // first can have been sent, which is what the recovery sweep relies on after a crash.
        let moved = recorder.submit(finished).await.await.unwrap_or(false);
        if retry || !moved {
            put_back(&ctx.pool, jobs, Duration::ZERO).await;
            break;
        }
    }
    deferred
}

/// Puts unsent claimed jobs back in the queue, due after `delay`.
async fn put_back(pool: &PgPool, jobs: impl Iterator<Item = ClaimedReplay>, delay: Duration) {
    let jobs: Vec<(ReplayId, i32)> = jobs.map(|j| (j.id, j.attempts_made)).collect();
    if jobs.is_empty() {
        return;
    }
    if let Err(e) = replays::requeue_replays(pool, &jobs, delay).await {
        // They stay `running` until the recovery sweep takes them back.
        tracing::warn!(error = %e, jobs = jobs.len(), "putting unsent replays back failed");
    }
}

/// Takes back jobs left `running` by a worker that died (see
/// [`replays::recover_stale_replays`]) and wakes the workers if any went back to the queue;
/// fails replays that waited a day for a `hookvault listen` to connect.
/// Returns how many jobs were moved.
pub async fn recover(ctx: &WorkerContext) -> Result<usize, StoreError> {
    let moved =
        replays::recover_stale_replays(&ctx.pool, ctx.send_timeout + RECOVERY_MARGIN).await?;
    for r in &moved {
        tracing::warn!(replay.id = %r.id, replay.status = %r.status, "took back an interrupted replay");
    }
    for id in
        hookvault_store::cli::expire_cli_replays(&ctx.pool, hookvault_store::cli::CLI_REPLAY_WAIT)
            .await?
    {
        tracing::info!(replay.id = %id, "a replay waiting for hookvault listen expired");
    }
    if moved.iter().any(|r| r.status == ReplayStatus::Queued) {
        ctx.wake.notify_waiters();
    }
    Ok(moved.len())
}

async fn run_recovery(ctx: WorkerContext, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(RECOVERY_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {
                if let Err(e) = recover(&ctx).await {
                    tracing::warn!(error = %e, "recovering interrupted replays failed");
                }
            }
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return;
                }
            }
        }
    }
}

/// Sends one claimed job and decides what follows; the attempt is ready to record.
async fn attempt_job(ctx: &WorkerContext, job: ClaimedReplay) -> FinishedAttempt {
    let (id, attempt, max_attempts) = (job.id, job.attempts_made, job.max_attempts);
    let record = send_job(ctx, job).await;
    let outcome = decide(&record.result, attempt, max_attempts);
    let status = match outcome {
        AttemptOutcome::Succeeded => ReplayStatus::Succeeded,
        AttemptOutcome::Failed => ReplayStatus::Failed,
        AttemptOutcome::RetryAfter(_) => ReplayStatus::Queued,
    };
    hookvault_metrics::replay_attempt(match status {
        ReplayStatus::Succeeded => "succeeded",
        ReplayStatus::Queued => "retrying",
        _ => "failed",
    });
    let duration_ms = millis(record.duration);
    match &record.result {
        Ok(r) => tracing::info!(
            replay.id = %id, replay.status = %status, duration_ms, http.status = r.status, attempt,
            "replay attempt finished"
        ),
        Err(e) => tracing::info!(
            replay.id = %id, replay.status = %status, duration_ms, error = %e, attempt,
            "replay attempt failed"
        ),
    }
    let error = record.result.as_ref().err().map(ToString::to_string);
    let (status_code, response_headers, response_body, response_truncated) = match record.result {
        Ok(r) => (
            Some(i32::from(r.status)),
            r.headers,
            r.body,
            r.body_truncated,
        ),
        Err(_) => (None, Vec::new(), Vec::new(), false),
    };
    FinishedAttempt {
        replay_id: id,
        attempt,
        record: ReplayAttempt {
            started_at: record.started_at,
            duration_ms: Some(duration_ms),
            status_code,
            response_headers,
            response_body,
            response_truncated,
            error,
        },
        outcome,
    }
}

/// Why an attempt got no response.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    /// The job cannot be sent as stored; retrying would not help.
    #[error("{0}")]
    Unsendable(String),
    /// The guarded client gave up (refusals are permanent, the rest may pass on a retry).
    #[error("{0}")]
    Send(#[from] SendError),
}

impl AttemptError {
    fn retryable(&self) -> bool {
        matches!(self, AttemptError::Send(e) if !matches!(e, SendError::Refused(_)))
    }
}

struct AttemptRecord {
    started_at: OffsetDateTime,
    duration: Duration,
    result: Result<OutboundResponse, AttemptError>,
}

async fn send_job(ctx: &WorkerContext, job: ClaimedReplay) -> AttemptRecord {
    let started_at = OffsetDateTime::now_utc();
    let started = Instant::now();
    let result = match build_request(ctx, job) {
        Ok(request) => ctx.client.send(request).await.map_err(AttemptError::from),
        Err(e) => Err(e),
    };
    let duration = match &result {
        Ok(r) => r.duration,
        Err(_) => started.elapsed(),
    };
    AttemptRecord {
        started_at,
        duration,
        result,
    }
}

/// Opens the secret and signs at the current second.
fn build_request(ctx: &WorkerContext, job: ClaimedReplay) -> Result<OutboundRequest, AttemptError> {
    let unsendable = |why: &str| AttemptError::Unsendable(why.to_owned());
    let scheme = job.scheme;
    let secret = match &job.secret_sealed {
        Some(sealed) => {
            let plain = ctx
                .secret_key
                .open(sealed, job.id.as_bytes())
                .map_err(|_| {
                    unsendable("the signing secret could not be decrypted with this server's key")
                })?;
            String::from_utf8(plain).map_err(|_| unsendable("the signing secret is not UTF-8"))?
        }
        None => String::new(),
    };
    let method = http::Method::from_bytes(job.method.as_bytes())
        .map_err(|_| unsendable("the captured method is not a valid HTTP method"))?;
    let url = ctx
        .client
        .check_url(&job.target_url)
        .map_err(SendError::from)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let signed = signing::resign(scheme, &job.headers, &job.body, &secret, now)
        .map_err(|e| AttemptError::Unsendable(e.to_string()))?;
    Ok(OutboundRequest {
        method,
        url,
        headers: signed.into_iter().map(|h| (h.name, h.value)).collect(),
        body: Bytes::from(job.body),
    })
}

/// What to do after attempt number `attempt` (1-based) of `max_attempts`: a 2xx succeeds;
/// otherwise retry after [`retry_delay`] while attempts remain and retrying can help, else fail.
fn decide(
    result: &Result<OutboundResponse, AttemptError>,
    attempt: i32,
    max_attempts: i32,
) -> AttemptOutcome {
    let retry_after = match result {
        Ok(r) if (200..300).contains(&r.status) => return AttemptOutcome::Succeeded,
        Ok(r) => retry_after_header(r.status, &r.headers),
        Err(e) if e.retryable() => None,
        Err(_) => return AttemptOutcome::Failed,
    };
    if attempt < max_attempts {
        AttemptOutcome::RetryAfter(retry_delay(attempt, retry_after))
    } else {
        AttemptOutcome::Failed
    }
}

/// Exponential backoff: the wait after failed attempt number `attempt` (1-based) is
/// 2^(attempt-1) s — 1 s, 2 s, 4 s, … — capped at [`MAX_BACKOFF`].
pub fn backoff(attempt: i32) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    Duration::from_secs(1u64 << exp).min(MAX_BACKOFF)
}

/// The wait before the next attempt: the backoff, or longer if the target asked for it with
/// `Retry-After`, never more than [`MAX_BACKOFF`].
pub fn retry_delay(attempt: i32, retry_after: Option<Duration>) -> Duration {
    backoff(attempt)
        .max(retry_after.unwrap_or_default())
        .min(MAX_BACKOFF)
}

/// `Retry-After` in seconds, honoured on 429 and 503 (Standard Webhooks); HTTP dates are not.
pub fn retry_after_header(status: u16, headers: &[(String, String)]) -> Option<Duration> {
    if status != 429 && status != 503 {
        return None;
    }
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, value)| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)]) -> Result<OutboundResponse, AttemptError> {
        Ok(OutboundResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
            body_truncated: false,
            duration: Duration::from_millis(3),
        })
    }

    #[test]
    fn backoff_doubles_from_one_second_and_is_capped() {
        let secs: Vec<u64> = (1..=6).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 32]);
        assert_eq!(backoff(40), MAX_BACKOFF);
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(i32::MIN), Duration::from_secs(1));
    }

    #[test]
    fn a_2xx_succeeds_even_on_the_last_attempt() {
        assert_eq!(decide(&response(204, &[]), 3, 3), AttemptOutcome::Succeeded);
    }

    #[test]
    fn a_failure_is_retried_only_while_attempts_remain() {
        assert_eq!(
            decide(&response(500, &[]), 1, 3),
            AttemptOutcome::RetryAfter(Duration::from_secs(1))
        );
        assert_eq!(
            decide(&response(500, &[]), 2, 3),
            AttemptOutcome::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(decide(&response(500, &[]), 3, 3), AttemptOutcome::Failed);
        assert_eq!(decide(&response(302, &[]), 1, 1), AttemptOutcome::Failed);
    }

    #[test]
    fn connection_errors_are_retried_but_refusals_and_unsendable_jobs_are_not() {
        let refused = Err(AttemptError::Send(SendError::Connect(
            "connection refused".into(),
        )));
        assert_eq!(
            decide(&refused, 1, 2),
            AttemptOutcome::RetryAfter(Duration::from_secs(1))
        );
        let ssrf = Err(AttemptError::Send(SendError::Refused(
            crate::guard::Refusal::Port(0),
        )));
        assert_eq!(decide(&ssrf, 1, 5), AttemptOutcome::Failed);
        let corrupt = Err(AttemptError::Unsendable("corrupt".into()));
        assert_eq!(decide(&corrupt, 1, 5), AttemptOutcome::Failed);
    }

    #[test]
    fn retry_after_lengthens_the_wait_on_429_and_503_only() {
        assert_eq!(
            decide(&response(503, &[("Retry-After", "30")]), 1, 2),
            AttemptOutcome::RetryAfter(Duration::from_secs(30))
        );
        assert_eq!(
            decide(&response(500, &[("Retry-After", "30")]), 1, 2),
            AttemptOutcome::RetryAfter(Duration::from_secs(1))
        );
        assert_eq!(
            retry_delay(1, Some(Duration::from_secs(86_400))),
            MAX_BACKOFF
        );
        assert_eq!(
            retry_after_header(
                429,
                &[("retry-after".into(), "Wed, 21 Oct 2015 07:28:00 GMT".into())]
            ),
            None
        );
    }
}
