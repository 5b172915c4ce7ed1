//! The replay workers: N tasks that claim queued replays from Postgres, sign them afresh, send
//! them through the [`GuardedClient`] and record every attempt; plus the recovery sweep that
//! takes back jobs whose worker died.
//!
//! A worker wakes when a replay is queued in this process (a [`Notify`] the API pokes), when
//! another process announces one (the server's LISTEN on `hookvault_replay_queued` pokes the
//! same [`Notify`]), and once a second regardless, which also picks up retries that became due.
//!
//! Signatures are computed immediately before each send, so their timestamps are fresh on every
//! attempt; the stored body bytes are sent unchanged with the stored method to the stored URL.
//! Logs carry `replay.id`, `replay.status` and `duration_ms`, never secrets or bodies.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hookvault_core::headers;
use hookvault_core::ids::ReplayId;
use hookvault_core::secretbox::SecretKey;
use hookvault_core::signing;
use hookvault_store::replays::{self, AttemptOutcome, ClaimedReplay, NewAttempt, ReplayStatus};
use hookvault_store::{PgPool, StoreError};
use time::OffsetDateTime;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::guard::{GuardedClient, OutboundRequest, OutboundResponse, SendError};
use crate::limit::{destination_key, DestinationLimits};

/// How much of a target's answer is kept per attempt.
pub const RESPONSE_EXCERPT_BYTES: usize = 64 * 1024;

/// How often an idle worker looks for due jobs even without a wake-up.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How often the recovery sweep runs (it also runs once at start).
pub const RECOVERY_INTERVAL: Duration = Duration::from_secs(15);

/// A `running` job is taken back when its lock is older than the send timeout plus this.
pub const RECOVERY_MARGIN: Duration = Duration::from_secs(30);

/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);

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
    /// Most replays of one account in flight at once (over all processes).
    pub per_account: usize,
}

/// The result of one processed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// The replay.
    pub id: ReplayId,
    /// Its status after the attempt (`queued` when a retry is scheduled).
    pub status: ReplayStatus,
    /// False when the job had meanwhile been taken back by the recovery sweep, so the attempt
    /// was recorded but the job was left as the sweep put it.
    pub moved: bool,
    /// `Some(wait)` when its destination was busy: the job went back to the queue unsent,
    /// due again after `wait`.
    pub deferred: Option<Duration>,
}

/// Running worker tasks and the recovery sweep.
pub struct ReplayWorkers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ReplayWorkers {
    /// Starts `workers` worker tasks and the recovery sweep (which runs once right away).
    /// With zero workers nothing is started.
    pub fn spawn(ctx: WorkerContext, workers: usize) -> Self {
        let (stop, rx) = watch::channel(false);
        let mut tasks = Vec::with_capacity(workers + 1);
        if workers > 0 {
            tasks.push(tokio::spawn(run_recovery(ctx.clone(), rx.clone())));
            for n in 0..workers {
                let span = tracing::info_span!("replay_worker", worker = n);
                tasks.push(tokio::spawn(
                    run_worker(ctx.clone(), rx.clone()).instrument(span),
                ));
            }
        }
        tracing::info!(workers, "replay workers started");
        Self { stop, tasks }
    }

    /// Stops claiming new jobs and waits for the sends in flight to finish and be recorded.
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

async fn run_worker(ctx: WorkerContext, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        // Registered before looking for work, so a wake-up that arrives while we look is kept.
        let notified = ctx.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // Look again no later than the soonest job put back for its destination's turn.
        let mut look_again = POLL_INTERVAL;
        loop {
            if *stop.borrow() {
                return;
            }
            match process_next(&ctx).await {
                Ok(Some(p)) => {
                    if let Some(wait) = p.deferred {
                        look_again = look_again.min(wait);
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "claiming or finishing a replay failed"),
            }
            break;
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep(look_again) => {}
            changed = stop.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
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

/// Takes back jobs left `running` by a worker that died (see
/// [`replays::recover_stale_replays`]) and wakes the workers if any went back to the queue.
/// Returns how many jobs were moved.
pub async fn recover(ctx: &WorkerContext) -> Result<usize, StoreError> {
    let moved =
        replays::recover_stale_replays(&ctx.pool, ctx.send_timeout + RECOVERY_MARGIN).await?;
    for r in &moved {
        tracing::warn!(replay.id = %r.id, replay.status = %r.status, "took back an interrupted replay");
    }
    if moved.iter().any(|r| r.status == ReplayStatus::Queued) {
        ctx.wake.notify_waiters();
    }
    Ok(moved.len())
}

/// Claims one due job, sends it and records the attempt. `Ok(None)` when nothing is due.
/// Tests and benchmarks can drain the queue synchronously by calling this in a loop.
pub async fn process_next(ctx: &WorkerContext) -> Result<Option<Processed>, StoreError> {
    let per_account = i64::try_from(ctx.per_account.max(1)).unwrap_or(i64::MAX);
    let Some(job) = replays::claim_next_replay(&ctx.pool, per_account).await? else {
        return Ok(None);
    };
    let id = job.id;
    let attempt = job.attempts_made;
    let max_attempts = job.max_attempts;
    // The destination's turn comes first (R13). A worker never waits for it: when the
    // destination is busy the job goes back to the queue, due when its turn comes, and the
    // worker takes other work (another account's black-hole target cannot hold it).
    let _pass = match url::Url::parse(&job.target_url) {
        Ok(url) => match ctx.limits.try_enter(&destination_key(&url).await) {
            Ok(pass) => Some(pass),
            Err(wait) => {
                let moved = replays::requeue_replay(&ctx.pool, id, attempt, wait).await?;
                return Ok(Some(Processed {
                    id,
                    status: ReplayStatus::Queued,
                    moved,
                    deferred: Some(wait),
                }));
            }
        },
        // `build_request` refuses it with the reason.
        Err(_) => None,
    };
    let span =
        tracing::info_span!("replay", replay.id = %id, request.id = %job.request_id, attempt);
    let record = send_job(ctx, job).instrument(span).await;
    let outcome = decide(&record.result, attempt, max_attempts);
    let new = NewAttempt {
        started_at: record.started_at,
        duration_ms: Some(millis(record.duration)),
        status_code: record.result.as_ref().ok().map(|r| i32::from(r.status)),
        response_headers: record
            .result
            .as_ref()
            .map(|r| r.headers.clone())
            .unwrap_or_default(),
        response_body: record
            .result
            .as_ref()
            .map(|r| r.body.clone())
            .unwrap_or_default(),
        response_truncated: record.result.as_ref().is_ok_and(|r| r.body_truncated),
        error: record.result.as_ref().err().map(ToString::to_string),
    };
    let moved = replays::finish_replay_attempt(&ctx.pool, id, attempt, &new, outcome).await?;
    let status = match outcome {
        AttemptOutcome::Succeeded => ReplayStatus::Succeeded,
        AttemptOutcome::Failed => ReplayStatus::Failed,
        AttemptOutcome::RetryAfter(_) => ReplayStatus::Queued,
    };
    let duration_ms = new.duration_ms.unwrap_or_default();
    match (&record.result, moved) {
        (_, false) => tracing::warn!(
            replay.id = %id, duration_ms,
            "attempt recorded, but the replay had been taken back by the recovery sweep"
        ),
        (Ok(r), true) => tracing::info!(
            replay.id = %id, replay.status = %status, duration_ms, http.status = r.status, attempt,
            "replay attempt finished"
        ),
        (Err(e), true) => tracing::info!(
            replay.id = %id, replay.status = %status, duration_ms, error = %e, attempt,
            "replay attempt failed"
        ),
    }
    Ok(Some(Processed {
        id,
        status,
        moved,
        deferred: None,
    }))
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

/// Decodes the stored request, opens the secret and signs at the current second.
fn build_request(ctx: &WorkerContext, job: ClaimedReplay) -> Result<OutboundRequest, AttemptError> {
    let unsendable = |why: &str| AttemptError::Unsendable(why.to_owned());
    let captured = headers::decode(&job.headers)
        .map_err(|_| unsendable("the stored headers of the capture are corrupt"))?;
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
    let signed = signing::resign(scheme, &captured, &job.body, &secret, now)
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
