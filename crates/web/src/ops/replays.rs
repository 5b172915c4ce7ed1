//! Replay queueing as the pages and the API call it: the work is the replay crate's
//! ([`hookvault_replay::queue`]); here are only what is the web's: the state it runs with, the
//! refusal of a request over the plan's replays per day (with the account's usage), and the
//! mapping of its errors to HTTP answers.

use hookvault_core::ids::{BatchId, EndpointId, ReplayId, RequestId, TargetId, UserId};
use hookvault_replay::order::{Candidate, ReplayOrder};
use hookvault_replay::queue::{Queue, QueueError, Target};
use hookvault_store::replays::NewReplay;
use hookvault_store::requests::StoredRequest;

use crate::error::AppError;
use crate::state::AppState;

pub(crate) use hookvault_core::api::{SigningBody, TargetBody};
pub(crate) use hookvault_replay::queue::MAX_BULK;

/// The replay crate's queue on this server's pool, client, key and workers.
fn queue(state: &AppState) -> Queue<'_> {
    Queue {
        pool: &state.pool,
        client: &state.replay_client,
        key: &state.secret_key,
        wake: &state.replay_wake,
    }
}

/// The HTTP answer to a queueing error; over the plan, the refusal says what the plan allows
/// and what was used today.
async fn answer(state: &AppState, user_id: UserId, e: QueueError) -> AppError {
    match e {
        QueueError::Invalid(m) => AppError::invalid(m),
        QueueError::Target(t) => AppError::invalid_field(t.field(), t.to_string()),
        QueueError::NotFound => AppError::NotFound,
        QueueError::OverPlan { asked } => crate::usage::over_plan(state, user_id, asked).await,
        QueueError::Store(e) => e.into(),
        e @ QueueError::Sealed(_) => AppError::internal(e),
    }
}

/// Runs one queue operation and answers its error.
macro_rules! queued {
    ($state:expr, $user_id:expr, $call:expr) => {
        match $call.await {
            Ok(v) => Ok(v),
            Err(e) => Err(answer($state, $user_id, e).await),
        }
    };
}

/// Queues one replay of a capture of the user's (at `endpoint_id`); returns its id.
pub(crate) async fn queue_one(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    request_id: RequestId,
    body: &TargetBody,
) -> Result<ReplayId, AppError> {
    queued!(
        state,
        user_id,
        queue(state).queue_one(user_id, endpoint_id, request_id, body)
    )
}

/// Queues one bulk replay; see [`Queue::queue_bulk`].
pub(crate) async fn queue_bulk(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    request_ids: &[RequestId],
    order: ReplayOrder,
    target: &TargetBody,
) -> Result<(BatchId, Vec<NewReplay>), AppError> {
    queued!(
        state,
        user_id,
        queue(state).queue_bulk(user_id, endpoint_id, request_ids, order, target)
    )
}

/// Queues the failed replays of a finished bulk replay again; see [`Queue::retry_failed`].
pub(crate) async fn retry_failed(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    batch_id: BatchId,
) -> Result<(BatchId, usize), AppError> {
    queued!(
        state,
        user_id,
        queue(state).retry_failed(user_id, endpoint_id, batch_id)
    )
}

/// Checks where a replay goes (nothing is stored).
pub(crate) async fn resolve_target(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    body: &TargetBody,
) -> Result<Target, AppError> {
    queued!(
        state,
        user_id,
        queue(state).resolve_target(user_id, endpoint_id, body)
    )
}

/// The user's captures among `ids` at this endpoint, ready for ordering.
pub(crate) async fn candidates(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    ids: &[RequestId],
    order: ReplayOrder,
) -> Result<Vec<Candidate>, AppError> {
    queued!(
        state,
        user_id,
        queue(state).candidates(user_id, endpoint_id, ids, order)
    )
}

/// What the endpoint's connected `hookvault listen` forwards to, or `None` when none is
/// connected.
pub(crate) async fn connected_listener(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
) -> Result<Option<String>, AppError> {
    queued!(
        state,
        user_id,
        queue(state).connected_listener(user_id, endpoint_id)
    )
}

/// Whether a `hookvault listen` is connected to the endpoint (the replay form then sends to
/// it by default).
pub(crate) async fn listener_connected(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
) -> Result<bool, AppError> {
    Ok(connected_listener(state, user_id, endpoint_id)
        .await?
        .is_some())
}

/// Opens a saved target's secret.
pub(crate) fn open_secret(
    state: &AppState,
    sealed: &[u8],
    target: TargetId,
) -> Result<String, AppError> {
    open_bound(state, sealed, target.as_bytes())
}

/// Opens a secret sealed bound to `owner` (the id of the row that holds it).
pub(crate) fn open_bound(
    state: &AppState,
    sealed: &[u8],
    owner: &[u8; 16],
) -> Result<String, AppError> {
    queue(state)
        .open_bound(sealed, owner)
        .map_err(AppError::internal)
}

/// Checks and saves a replay target for one of the user's endpoints; `name` is checked with
/// the endpoint name rule. Returns the new target's id.
#[expect(
    clippy::too_many_arguments,
    reason = "one argument per field of the form"
)]
pub(crate) async fn save_target(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    name: Option<&str>,
    url: &str,
    scheme: Option<&str>,
    secret: Option<&str>,
    max_attempts: Option<i64>,
) -> Result<TargetId, AppError> {
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(crate::ops::endpoints::clean_name)
        .transpose()?;
    queued!(
        state,
        user_id,
        queue(state).save_target(
            user_id,
            endpoint_id,
            name,
            url,
            scheme,
            secret,
            max_attempts
        )
    )
}

/// "Copy as curl" for a target; see [`Queue::signed_curl`].
pub(crate) async fn signed_curl(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    req: &StoredRequest,
    body: &TargetBody,
) -> Result<String, AppError> {
    queued!(
        state,
        user_id,
        queue(state).signed_curl(user_id, endpoint_id, req, body)
    )
}
