//! Queueing replays (one, a bulk batch, to the connected CLI) and saving targets: the checks
//! and actions that the replay pages and the replay API share.

use crate::error::AppError;
use crate::state::AppState;
use hookvault_core::ids::{BatchId, EndpointId, ReplayId, RequestId, TargetId, UserId};
use hookvault_core::signing::Scheme;
use hookvault_replay::order::{self, Candidate, ReplayOrder};
use hookvault_replay::target::{self, CheckedTarget, TargetError};
use hookvault_store::replays::{self as store, NewReplay, ReplayTarget};
use serde::Deserialize;

/// Most captures one bulk replay may name.
pub(crate) const MAX_BULK: usize = 1000;

/// Captures whose bodies are loaded at once to read their `created` field.
pub(crate) const CREATED_CHUNK: usize = 100;

/// Where a replay goes: a URL with its signing, a saved target, or the connected CLI.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[schema(as = ReplayTargetBody)]
pub(crate) struct TargetBody {
    pub target_url: Option<String>,
    pub target_id: Option<TargetId>,
    pub signing: Option<SigningBody>,
    pub max_attempts: Option<i64>,
    #[serde(default)]
    pub to_cli: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ReplaySigningBody)]
pub(crate) struct SigningBody {
    pub scheme: Option<String>,
    pub secret: Option<String>,
}

/// Queues one replay of a capture of the user's (at `endpoint_id`); returns its id.
pub(crate) async fn queue_one(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    request_id: RequestId,
    body: &TargetBody,
) -> Result<ReplayId, AppError> {
    let target = resolve_target(state, user_id, endpoint_id, body).await?;
    let replay = new_replay(state, user_id, endpoint_id, request_id, &target, None, 0);
    crate::usage::queue_replays(state, user_id, std::slice::from_ref(&replay)).await?;
    wake(state, &target, endpoint_id).await?;
    tracing::info!(replay.id = %replay.id, request.id = %request_id, "replay queued");
    Ok(replay.id)
}

/// Queues one batch of replays of the user's captures at `endpoint_id`, sent strictly in
/// `order` (or, for `none`, concurrently, each job on its own); returns the batch id and the
/// replays in sending (queueing) order.
pub(crate) async fn queue_bulk(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    request_ids: &[RequestId],
    order: ReplayOrder,
    target: &TargetBody,
) -> Result<(BatchId, Vec<NewReplay>), AppError> {
    let mut ids: Vec<RequestId> = Vec::with_capacity(request_ids.len());
    for id in request_ids {
        if !ids.contains(id) {
            ids.push(*id);
        }
    }
    if ids.is_empty() {
        return Err(AppError::Unprocessable(
            "request_ids must name at least one capture".into(),
        ));
    }
    if ids.len() > MAX_BULK {
        return Err(AppError::Unprocessable(format!(
            "a bulk replay can send at most {MAX_BULK} captures, not {}",
            ids.len()
        )));
    }
    let target = resolve_target(state, user_id, endpoint_id, target).await?;
    let mut candidates = candidates(state, user_id, endpoint_id, &ids, order).await?;
    if let Some(missing) = ids
        .iter()
        .find(|id| !candidates.iter().any(|c| c.id == **id))
    {
        return Err(AppError::Unprocessable(format!(
            "request {missing} is not a capture of this endpoint"
        )));
    }
    order::arrange(&mut candidates, order);
    let batch_id = BatchId::now_v7();
    let replays: Vec<NewReplay> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let position = i32::try_from(i).unwrap_or(i32::MAX);
            NewReplay {
                unordered: !order.is_ordered(),
                ..new_replay(
                    state,
                    user_id,
                    endpoint_id,
                    c.id,
                    &target,
                    Some(batch_id),
                    position,
                )
            }
        })
        .collect();
    crate::usage::queue_replays(state, user_id, &replays).await?;
    wake(state, &target, endpoint_id).await?;
    tracing::info!(batch.id = %batch_id, endpoint.id = %endpoint_id, count = replays.len(), order = order.as_str(), "bulk replay queued");
    Ok((batch_id, replays))
}

pub(crate) fn refusal(e: TargetError) -> AppError {
    AppError::Unprocessable(e.to_string())
}

/// Where a replay goes, checked; `saved` is the saved target it came from, if any.
/// A URL a worker sends to, or the endpoint's connected `hookvault listen`.
pub(crate) enum Dest {
    Http(CheckedTarget),
    /// The CLI forwards to the developer's local server and reports back; `forward_to` is
    /// what it said it forwards to, shown in the history until it reports.
    Cli {
        forward_to: String,
    },
}

pub(crate) struct Target {
    dest: Dest,
    saved: Option<TargetId>,
}

/// Wakes whoever sends the new replays: this process's workers, or the CLI streams (in any
/// process, through NOTIFY).
pub(crate) async fn wake(
    state: &AppState,
    target: &Target,
    endpoint_id: EndpointId,
) -> Result<(), AppError> {
    match target.dest {
        Dest::Http(_) => state.replay_wake.notify_waiters(),
        Dest::Cli { .. } => {
            hookvault_store::cli::notify_cli_replay(&state.pool, endpoint_id).await?;
        }
    }
    Ok(())
}

/// Checks where a replay goes. A saved target is looked up for this user (another account's
/// id is a 404) and its URL checked again, since the server's policy may have changed.
pub(crate) async fn resolve_target(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    body: &TargetBody,
) -> Result<Target, AppError> {
    if body.to_cli {
        if body.target_url.is_some() || body.target_id.is_some() {
            return Err(AppError::Unprocessable(
                "give either to_cli or a target, not both".into(),
            ));
        }
        // With none connected the replay waits (up to a day) for one: its target is filled in
        // by the CLI that takes it.
        let forward_to = connected_listener(state, user_id, endpoint_id)
            .await?
            .unwrap_or_default();
        return Ok(Target {
            dest: Dest::Cli { forward_to },
            saved: None,
        });
    }
    match (&body.target_url, body.target_id) {
        (Some(_), Some(_)) => Err(AppError::Unprocessable(
            "give either target_url or target_id, not both".into(),
        )),
        (None, None) => Err(AppError::Unprocessable(
            "target_url (or target_id, or to_cli) is required".into(),
        )),
        (Some(url), None) => {
            let signing = body.signing.as_ref();
            target::check_target(
                &state.replay_client,
                url,
                signing.and_then(|s| s.scheme.as_deref()),
                signing.and_then(|s| s.secret.as_deref()),
                body.max_attempts,
            )
            .map(|checked| Target {
                dest: Dest::Http(checked),
                saved: None,
            })
            .map_err(refusal)
        }
        (None, Some(id)) => {
            let saved = store::find_replay_target(&state.pool, user_id, id)
                .await?
                .ok_or(AppError::NotFound)?;
            let url = state
                .replay_client
                .check_url(&saved.url)
                .map_err(|e| refusal(e.into()))?;
            let scheme = saved.scheme;
            let secret = match &saved.secret_sealed {
                Some(sealed) => Some(open_secret(state, sealed, saved.id)?),
                None => None,
            };
            let max_attempts = match body.max_attempts {
                Some(n) => target::check_max_attempts(Some(n)).map_err(refusal)?,
                None => saved.max_attempts,
            };
            Ok(Target {
                dest: Dest::Http(CheckedTarget {
                    url,
                    scheme,
                    secret,
                    max_attempts,
                }),
                saved: Some(saved.id),
            })
        }
    }
}

/// What the endpoint's connected `hookvault listen` forwards to, or `None` when none is
/// connected.
pub(crate) async fn connected_listener(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
) -> Result<Option<String>, AppError> {
    let sessions =
        hookvault_store::cli::list_cli_sessions(&state.pool, user_id, endpoint_id).await?;
    Ok(sessions.into_iter().next().map(|s| s.forward_to))
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
    let plain = state.secret_key.open(sealed, owner).map_err(|e| {
        AppError::internal(anyhow::Error::new(e).context("opening a stored secret"))
    })?;
    String::from_utf8(plain).map_err(|e| {
        AppError::internal(anyhow::Error::new(e).context("a stored secret is not UTF-8"))
    })
}

/// A replay row to insert; the secret is sealed bound to the new replay's id.
pub(crate) fn new_replay(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    request_id: RequestId,
    target: &Target,
    batch_id: Option<BatchId>,
    position: i32,
) -> NewReplay {
    let id = ReplayId::now_v7();
    let saved = target.saved;
    match &target.dest {
        Dest::Http(target) => NewReplay {
            id,
            user_id,
            endpoint_id,
            request_id,
            target_id: saved,
            target_url: target.url.to_string(),
            scheme: target.scheme,
            secret_sealed: target
                .secret
                .as_ref()
                .map(|s| state.secret_key.seal(s.as_bytes(), id.as_bytes())),
            max_attempts: target.max_attempts,
            batch_id,
            position,
            unordered: false,
            to_cli: false,
        },
        // The CLI signs with the developer's own --sign/--secret; the server sends the
        // captured headers as they are.
        Dest::Cli { forward_to } => NewReplay {
            id,
            user_id,
            endpoint_id,
            request_id,
            target_id: None,
            target_url: forward_to.clone(),
            scheme: Scheme::Original,
            secret_sealed: None,
            max_attempts: 1,
            batch_id,
            position,
            unordered: false,
            to_cli: true,
        },
    }
}

/// The user's captures among `ids` at this endpoint, ready for ordering; for `created` their
/// bodies are read a chunk at a time for the event's own `created` field and then dropped.
pub(crate) async fn candidates(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    ids: &[RequestId],
    order: ReplayOrder,
) -> Result<Vec<Candidate>, AppError> {
    let with_body = order == ReplayOrder::Created;
    let chunk = if with_body { CREATED_CHUNK } else { MAX_BULK };
    let mut out = Vec::with_capacity(ids.len());
    for part in ids.chunks(chunk) {
        let rows =
            store::list_replay_sources(&state.pool, user_id, endpoint_id, part, with_body).await?;
        out.extend(rows.into_iter().map(|r| Candidate {
            id: r.id,
            seq: r.seq,
            received_at: r.received_at,
            created: r.body.as_deref().and_then(order::event_created),
        }));
    }
    Ok(out)
}

/// Checks and saves a replay target for one of the user's endpoints (404 if not theirs);
/// the secret is sealed bound to the target's id. Returns the new target's id.
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
    let checked = target::check_target(&state.replay_client, url, scheme, secret, max_attempts)
        .map_err(refusal)?;
    let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => crate::ops::endpoints::clean_name(name)?,
        None => checked.url.as_str().chars().take(100).collect(),
    };
    let id = TargetId::now_v7();
    let target = ReplayTarget {
        id,
        user_id,
        endpoint_id,
        name,
        url: checked.url.to_string(),
        scheme: checked.scheme,
        secret_sealed: checked
            .secret
            .as_ref()
            .map(|s| state.secret_key.seal(s.as_bytes(), id.as_bytes())),
        max_attempts: checked.max_attempts,
        created_at: time::OffsetDateTime::now_utc(),
    };
    if !store::insert_replay_target(&state.pool, &target).await? {
        return Err(AppError::NotFound);
    }
    Ok(id)
}

/// "Copy as curl" for a target: a command that sends the capture's exact body to the target
/// with the scheme's signature headers computed now (the captured ones go stale).
pub(crate) async fn signed_curl(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    req: &hookvault_store::requests::StoredRequest,
    body: &TargetBody,
) -> Result<String, AppError> {
    let target = resolve_target(state, user_id, endpoint_id, body).await?;
    let Dest::Http(t) = &target.dest else {
        return Err(AppError::Unprocessable(
            "A command cannot be made for the connected CLI: choose a URL or a saved target."
                .into(),
        ));
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let signed = hookvault_core::signing::resign(
        t.scheme,
        &req.headers,
        &req.body,
        t.secret.as_deref().unwrap_or_default(),
        now,
    )
    .map_err(|e| AppError::Unprocessable(e.to_string()))?;
    Ok(hookvault_core::render::curl_command(
        &req.method,
        t.url.as_str(),
        &signed,
        &req.body,
    ))
}

/// "Retry failed": the failed replays of a finished bulk replay, queued again as a new batch in
/// their order (an unordered batch's again unordered), to the same targets with the same
/// signing (each secret re-sealed for its new replay). Returns the new batch id and how many
/// were queued.
pub(crate) async fn retry_failed(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
    batch_id: BatchId,
) -> Result<(BatchId, usize), AppError> {
    let (failed, pending) =
        store::failed_batch_replays(&state.pool, user_id, endpoint_id, batch_id).await?;
    if pending > 0 {
        return Err(AppError::Unprocessable(format!(
            "This bulk replay is still sending ({pending} left); retry its failures once it has finished."
        )));
    }
    if failed.is_empty() {
        return Err(AppError::Unprocessable(
            "This bulk replay has no failed replays to retry.".into(),
        ));
    }
    let new_batch = BatchId::now_v7();
    let mut replays = Vec::with_capacity(failed.len());
    for (i, f) in failed.iter().enumerate() {
        let id = ReplayId::now_v7();
        let secret_sealed = match &f.secret_sealed {
            Some(sealed) => {
                let plain = open_bound(state, sealed, f.id.as_bytes())?;
                Some(state.secret_key.seal(plain.as_bytes(), id.as_bytes()))
            }
            None => None,
        };
        replays.push(NewReplay {
            id,
            user_id,
            endpoint_id,
            request_id: f.request_id,
            target_id: f.target_id,
            target_url: f.target_url.clone(),
            scheme: f.scheme,
            secret_sealed,
            max_attempts: f.max_attempts,
            batch_id: Some(new_batch),
            position: i32::try_from(i).unwrap_or(i32::MAX),
            unordered: f.unordered,
            to_cli: f.to_cli,
        });
    }
    crate::usage::queue_replays(state, user_id, &replays).await?;
    state.replay_wake.notify_waiters();
    if replays.iter().any(|r| r.to_cli) {
        hookvault_store::cli::notify_cli_replay(&state.pool, endpoint_id).await?;
    }
    tracing::info!(batch.id = %new_batch, retried_from = %batch_id, count = replays.len(), "failed replays retried");
    Ok((new_batch, replays.len()))
}
