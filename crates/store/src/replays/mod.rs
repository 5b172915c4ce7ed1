//! Replays: saved targets, the job queue the replay workers claim from (`FOR UPDATE SKIP
//! LOCKED`), attempt records, the recovery of jobs whose worker died, and owner-scoped history.
//!
//! Decisions (when to retry, how long to wait) are made by the caller; these functions only
//! store them. Jobs of one ordered batch run strictly in `position` order: [`claim_replays`]
//! never returns a job while an earlier job of its batch is queued or running. Jobs of an
//! unordered batch are claimed on their own, like jobs of no batch.

use std::time::Duration;

use hookvault_core::ids::{BatchId, EndpointId, ReplayId, RequestId, TargetId, UserId};
use hookvault_core::signing::Scheme;
use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool};
use time::OffsetDateTime;

use crate::StoreError;

/// The error recorded on an attempt whose worker disappeared while sending.
pub const INTERRUPTED_ERROR: &str = "interrupted: the server stopped while sending";

/// Recorded when a replay handed to `hookvault listen` got no result back in time.
pub const CLI_GONE_ERROR: &str = "the hookvault listen CLI disconnected before reporting a result";

/// Recorded when a replay handed to `hookvault listen` waited a day without one connecting.
pub const CLI_EXPIRED_ERROR: &str =
    "expired: no hookvault listen connected to this endpoint within a day";

pub use hookvault_core::stored::ReplayStatus;

/// A replay to queue. `secret_sealed` must be sealed with `id` as associated data.
#[derive(Debug, Clone)]
pub struct NewReplay {
    pub id: ReplayId,
    pub user_id: UserId,
    pub endpoint_id: EndpointId,
    pub request_id: RequestId,
    pub target_id: Option<TargetId>,
    pub target_url: String,
    pub scheme: Scheme,
    pub secret_sealed: Option<Vec<u8>>,
    pub max_attempts: i32,
    pub batch_id: Option<BatchId>,
    pub position: i32,
    /// A job of an unordered batch (`"order":"none"`): claimed on its own, like a job of no
    /// batch, so the batch's jobs are sent concurrently. Only with a `batch_id`.
    pub unordered: bool,
    /// Handed to the endpoint's connected `hookvault listen` instead of a worker.
    pub to_cli: bool,
}

/// A replay as stored (without its sealed secret).
#[derive(Debug, Clone)]
pub struct Replay {
    pub id: ReplayId,
    pub user_id: UserId,
    pub endpoint_id: EndpointId,
    pub request_id: RequestId,
    pub target_id: Option<TargetId>,
    pub target_url: String,
    pub scheme: Scheme,
    pub status: ReplayStatus,
    pub attempts_made: i32,
    pub max_attempts: i32,
    pub next_attempt_at: OffsetDateTime,
    pub batch_id: Option<BatchId>,
    pub position: i32,
    pub created_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

/// A replay in a history list, with the outcome of its latest attempt.
#[derive(Debug, Clone)]
pub struct ReplaySummary {
    pub id: ReplayId,
    pub endpoint_id: EndpointId,
    pub request_id: RequestId,
    pub target_id: Option<TargetId>,
    pub target_url: String,
    pub scheme: Scheme,
    pub status: ReplayStatus,
    pub attempts_made: i32,
    pub max_attempts: i32,
    pub batch_id: Option<BatchId>,
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

/// One attempt of a replay: what is recorded ([`record_attempts`]) and what the history reads
/// back.
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
/// headers and body bytes. (`Debug` in `redact.rs` hides headers, body and secret.)
#[derive(Clone)]
pub struct ClaimedReplay {
    pub id: ReplayId,
    pub user_id: UserId,
    pub endpoint_id: EndpointId,
    pub request_id: RequestId,
    pub target_url: String,
    pub scheme: Scheme,
    pub secret_sealed: Option<Vec<u8>>,
    /// Including this attempt; pass it back to [`finish_replay_attempt`] as the fencing token.
    pub attempts_made: i32,
    pub max_attempts: i32,
    pub method: String,
    /// Decoded from the stored blob as the row is read.
    pub headers: hookvault_core::headers::Headers,
    pub body: Vec<u8>,
    /// The chain the job was claimed for: the id of its run's first job.
    pub chain: ReplayId,
    /// Its place in its batch (0 for a job of no batch).
    pub position: i32,
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
    pub id: ReplayId,
    /// `queued` (attempts remain) or `failed`.
    pub status: ReplayStatus,
}

/// A saved target (the sealed secret is bound to `id`).
#[derive(Debug, Clone)]
pub struct ReplayTarget {
    pub id: TargetId,
    pub user_id: UserId,
    pub endpoint_id: EndpointId,
    pub name: String,
    pub url: String,
    pub scheme: Scheme,
    pub secret_sealed: Option<Vec<u8>>,
    pub max_attempts: i32,
    pub created_at: OffsetDateTime,
}

/// A capture chosen for a bulk replay: what ordering needs. `body` is loaded only on request.
#[derive(Debug, Clone)]
pub struct ReplaySource {
    pub id: RequestId,
    pub seq: i64,
    pub received_at: OffsetDateTime,
    pub body: Option<Vec<u8>>,
}

mod attempts;
mod batches;
mod claim;
mod history;
mod queue;
mod targets;

pub use attempts::*;
pub use batches::*;
pub use claim::*;
pub use history::*;
pub use queue::*;
pub use targets::*;
