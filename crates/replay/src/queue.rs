//! Queueing replays (one, a bulk batch, to the connected CLI, again for a batch's failures),
//! saving targets and "copy as curl": the checks and actions the replay pages and the replay
//! API share. Each queueing inserts its replays within the account's plan, all or none; over
//! it, [`QueueError::OverPlan`] says nothing was queued (the caller words the refusal).

use hookvault_core::api::TargetBody;
use hookvault_core::ids::{BatchId, EndpointId, ReplayId, RequestId, TargetId, UserId};
use hookvault_core::secretbox::SecretKey;
use hookvault_core::signing::{self, Scheme};
use hookvault_store::replays::{self as store, NewReplay, ReplayTarget};
use hookvault_store::requests::StoredRequest;
use hookvault_store::{PgPool, StoreError};
use tokio::sync::Notify;

use crate::guard::GuardedClient;
use crate::order::{self, Candidate, ReplayOrder};
use crate::target::{self, CheckedTarget, TargetError};

/// Most captures one bulk replay may name.
pub const MAX_BULK: usize = 1000;

/// Captures whose bodies are loaded at once to read their `created` field.
pub const CREATED_CHUNK: usize = 100;

/// What queueing needs: the database, the guarded client (whose policy checks target URLs),
/// the key that seals secrets, and the wake-up of this process's workers.
#[derive(Clone, Copy)]
pub struct Queue<'a> {
    pub pool: &'a PgPool,
    pub client: &'a GuardedClient,
    pub key: &'a SecretKey,
    pub wake: &'a Notify,
}

/// Why nothing was queued (or saved). `Display` of the first two is a one-line reason for the
/// user.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Refused input, in words.
    #[error("{0}")]
    Invalid(String),
    /// The target was refused (URL policy, scheme, secret, attempts), in words.
    #[error("{0}")]
    Target(#[from] TargetError),
    /// The capture, endpoint or saved target is not the user's (or is gone).
    #[error("not found")]
    NotFound,
    /// The account's plan allows fewer replays today than the `asked` ones: none was queued.
    #[error("over the plan's replays per day ({asked} asked)")]
    OverPlan { asked: usize },
    /// A stored secret could not be opened with this server's key.
    #[error("a stored secret cannot be opened")]
    Sealed(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a replay goes, checked.
pub enum Dest {
    /// A URL a worker sends to.
    Http(CheckedTarget),
    /// The endpoint's connected `hookvault listen`, which forwards to the developer's local
    /// server and reports back; `forward_to` is what it said it forwards to, shown in the
    /// history until it reports.
    Cli { forward_to: String },
}

/// A checked destination and the saved target it came from, if any.
pub struct Target {
    pub dest: Dest,
    pub saved: Option<TargetId>,
}

/// A second "Retry failed" of the same failures.
const ALREADY_RETRIED: &str =
    "This bulk replay's failed replays were already retried: see the newer bulk replay above.";

impl Queue<'_> {
    /// Queues one replay of a capture of the user's (at `endpoint_id`); returns its id.
    pub async fn queue_one(
        &self,
        user_id: UserId,
        endpoint_id: EndpointId,
        request_id: RequestId,
        body: &TargetBody,
    ) -> Result<ReplayId, QueueError> {
        let target = self.resolve_target(user_id, endpoint_id, body).await?;
        let replay = self.new_replay(user_id, endpoint_id, request_id, &target, None, 0);
        self.insert(user_id, std::slice::from_ref(&replay)).await?;
        self.wake(&target, endpoint_id).await?;
        tracing::info!(replay.id = %replay.id, request.id = %request_id, "replay queued");
        Ok(replay.id)
    }

    /// Queues one batch of replays of the user's captures at `endpoint_id`, sent strictly in
    /// `order` (or, for `none`, concurrently, each job on its own); returns the batch id and
    /// the replays in sending (queueing) order.
    pub async fn queue_bulk(
        &self,
        user_id: UserId,
        endpoint_id: EndpointId,
        request_ids: &[RequestId],
        order: ReplayOrder,
        target: &TargetBody,
    ) -> Result<(BatchId, Vec<NewReplay>), QueueError> {
        let mut ids: Vec<RequestId> = Vec::with_capacity(request_ids.len());
        for id in request_ids {
            if !ids.contains(id) {
                ids.push(*id);
            }
        }
        if ids.is_empty() {
            return Err(QueueError::Invalid(
                "request_ids must name at least one capture".into(),
            ));
        }
        if ids.len() > MAX_BULK {
            return Err(QueueError::Invalid(format!(
                "a bulk replay can send at most {MAX_BULK} captures, not {}",
                ids.len()
            )));
        }
        let target = self.resolve_target(user_id, endpoint_id, target).await?;
        let mut candidates = self.candidates(user_id, endpoint_id, &ids, order).await?;
        if let Some(missing) = ids
            .iter()
            .find(|id| !candidates.iter().any(|c| c.id == **id))
        {
            return Err(QueueError::Invalid(format!(
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
                    ..self.new_replay(
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
        self.insert(user_id, &replays).await?;
        self.wake(&target, endpoint_id).await?;
        tracing::info!(batch.id = %batch_id, endpoint.id = %endpoint_id, count = replays.len(), order = order.as_str(), "bulk replay queued");
        Ok((batch_id, replays))
    }

    /// "Retry failed": the failed replays of a finished bulk replay, queued again as a new
    /// batch in their order (an unordered batch's again unordered), to the same targets with
    /// the same signing (each secret re-sealed for its new replay). Returns the new batch id
    /// and how many were queued.
    pub async fn retry_failed(
        &self,
        user_id: UserId,
        endpoint_id: EndpointId,
        batch_id: BatchId,
    ) -> Result<(BatchId, usize), QueueError> {
        let store::BatchFailures {
            failed,
            pending,
            retried,
        } = store::failed_batch_replays(self.pool, user_id, endpoint_id, batch_id).await?;
        if pending > 0 {
            return Err(QueueError::Invalid(format!(
                "This bulk replay is still sending ({pending} left); retry its failures once it has finished."
            )));
        }
        if failed.is_empty() && retried > 0 {
            return Err(QueueError::Invalid(ALREADY_RETRIED.into()));
        }
        if failed.is_empty() {
            return Err(QueueError::Invalid(
                "This bulk replay has no failed replays to retry.".into(),
            ));
        }
        let new_batch = BatchId::now_v7();
        let mut replays = Vec::with_capacity(failed.len());
        for (i, f) in failed.iter().enumerate() {
            let id = ReplayId::now_v7();
            let secret_sealed = match &f.secret_sealed {
                Some(sealed) => {
                    let plain = self.open_bound(sealed, f.id.as_bytes())?;
                    Some(self.key.seal(plain.as_bytes(), id.as_bytes()))
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
        let originals: Vec<ReplayId> = failed.iter().map(|f| f.id).collect();
        match store::insert_retry_within_plan(self.pool, user_id, new_batch, &originals, &replays)
            .await?
        {
            store::Retry::Queued => {}
            store::Retry::OverPlan => {
                return Err(QueueError::OverPlan {
                    asked: replays.len(),
                })
            }
            store::Retry::AlreadyRetried => {
                return Err(QueueError::Invalid(ALREADY_RETRIED.into()))
            }
        }
        self.wake.notify_waiters();
        if replays.iter().any(|r| r.to_cli) {
            hookvault_store::cli::notify_cli_replay(self.pool, endpoint_id).await?;
        }
        tracing::info!(batch.id = %new_batch, retried_from = %batch_id, count = replays.len(), "failed replays retried");
        Ok((new_batch, replays.len()))
    }

    /// Inserts the replays if the account's plan still allows them today, all or none.
    async fn insert(&self, user_id: UserId, replays: &[NewReplay]) -> Result<(), QueueError> {
        if store::insert_replays_within_plan(self.pool, user_id, replays).await? {
            Ok(())
        } else {
            Err(QueueError::OverPlan {
                asked: replays.len(),
            })
        }
    }

    /// Wakes whoever sends the new replays: this process's workers, or the CLI streams (in
    /// any process, through NOTIFY).
    async fn wake(&self, target: &Target, endpoint_id: EndpointId) -> Result<(), QueueError> {
        match target.dest {
            Dest::Http(_) => self.wake.notify_waiters(),
            Dest::Cli { .. } => {
                hookvault_store::cli::notify_cli_replay(self.pool, endpoint_id).await?;
            }
        }
        Ok(())
    }

    /// Checks where a replay goes. A saved target is looked up for this user (another
    /// account's id is not found) and its URL checked again, since the server's policy may
    /// have changed.
    pub async fn resolve_target(
        &self,
        user_id: UserId,
        endpoint_id: EndpointId,
        body: &TargetBody,
    ) -> Result<Target, QueueError> {
        if body.to_cli {
            if body.target_url.is_some() || body.target_id.is_some() {
                return Err(QueueError::Invalid(
                    "give either to_cli or a target, not both".into(),
                ));
            }
            // With none connected the replay waits (up to a day) for one: its target is
            // filled in by the CLI that takes it.
            let forward_to = self
                .connected_listener(user_id, endpoint_id)
                .await?
                .unwrap_or_default();
            return Ok(Target {
                dest: Dest::Cli { forward_to },
                saved: None,
            });
        }
        match (&body.target_url, body.target_id) {
            (Some(_), Some(_)) => Err(QueueError::Invalid(
                "give either target_url or target_id, not both".into(),
            )),
            (None, None) => Err(QueueError::Invalid(
                "target_url (or target_id, or to_cli) is required".into(),
            )),
            (Some(url), None) => {
                let signing = body.signing.as_ref();
                let checked = target::check_target(
                    self.client,
                    url,
                    signing.and_then(|s| s.scheme.as_deref()),
                    signing.and_then(|s| s.secret.as_deref()),
                    body.max_attempts,
                )?;
                Ok(Target {
                    dest: Dest::Http(checked),
                    saved: None,
                })
            }
            (None, Some(id)) => {
                let saved = store::find_replay_target(self.pool, user_id, id)
                    .await?
                    .ok_or(QueueError::NotFound)?;
                let url = self
                    .client
                    .check_url(&saved.url)
                    .map_err(TargetError::from)?;
                let secret = match &saved.secret_sealed {
                    Some(sealed) => Some(self.open_bound(sealed, saved.id.as_bytes())?),
                    None => None,
                };
                let max_attempts = match body.max_attempts {
                    Some(n) => target::check_max_attempts(Some(n))?,
                    None => saved.max_attempts,
                };
                Ok(Target {
                    dest: Dest::Http(CheckedTarget {
                        url,
                        scheme: saved.scheme,
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
    pub async fn connected_listener(
        &self,
        user_id: UserId,
        endpoint_id: EndpointId,
    ) -> Result<Option<String>, QueueError> {
        let sessions =
            hookvault_store::cli::list_cli_sessions(self.pool, user_id, endpoint_id).await?;
        Ok(sessions.into_iter().next().map(|s| s.forward_to))
    }

    /// Opens a secret sealed bound to `owner` (the id of the row that holds it).
    pub fn open_bound(&self, sealed: &[u8], owner: &[u8; 16]) -> Result<String, QueueError> {
        let plain = self
            .key
            .open(sealed, owner)
            .map_err(|e| QueueError::Sealed(Box::new(e)))?;
        String::from_utf8(plain).map_err(|e| QueueError::Sealed(Box::new(e)))
    }

    /// A replay row to insert; the secret is sealed bound to the new replay's id.
    fn new_replay(
        &self,
        user_id: UserId,
        endpoint_id: EndpointId,
        request_id: RequestId,
        target: &Target,
        batch_id: Option<BatchId>,
        position: i32,
    ) -> NewReplay {
        let id = ReplayId::now_v7();
        match &target.dest {
            Dest::Http(checked) => NewReplay {
                id,
                user_id,
                endpoint_id,
                request_id,
                target_id: target.saved,
                target_url: checked.url.to_string(),
                scheme: checked.scheme,
                secret_sealed: checked
                    .secret
                    .as_ref()
                    .map(|s| self.key.seal(s.as_bytes(), id.as_bytes())),
                max_attempts: checked.max_attempts,
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

    /// The user's captures among `ids` at this endpoint, ready for ordering; for `created`
    /// their bodies are read a chunk at a time for the event's own `created` field and then
    /// dropped.
    pub async fn candidates(
        &self,
        user_id: UserId,
        endpoint_id: EndpointId,
        ids: &[RequestId],
        order: ReplayOrder,
    ) -> Result<Vec<Candidate>, QueueError> {
        let with_body = order == ReplayOrder::Created;
        let chunk = if with_body { CREATED_CHUNK } else { MAX_BULK };
        let mut out = Vec::with_capacity(ids.len());
        for part in ids.chunks(chunk) {
            let rows = store::list_replay_sources(self.pool, user_id, endpoint_id, part, with_body)
                .await?;
            out.extend(rows.into_iter().map(|r| Candidate {
                id: r.id,
                seq: r.seq,
                received_at: r.received_at,
                created: r.body.as_deref().and_then(order::event_created),
            }));
        }
        Ok(out)
    }

    /// Checks and saves a replay target for one of the user's endpoints (not found if not
    /// theirs); the secret is sealed bound to the target's id. `name` is checked by the caller;
    /// without one the target is named after its URL. Returns the new target's id.
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per field of the form"
    )]
    pub async fn save_target(
        &self,
        user_id: UserId,
        endpoint_id: EndpointId,
        name: Option<String>,
        url: &str,
        scheme: Option<&str>,
        secret: Option<&str>,
        max_attempts: Option<i64>,
    ) -> Result<TargetId, QueueError> {
        let checked = target::check_target(self.client, url, scheme, secret, max_attempts)?;
        let name = name.unwrap_or_else(|| checked.url.as_str().chars().take(100).collect());
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
                .map(|s| self.key.seal(s.as_bytes(), id.as_bytes())),
            max_attempts: checked.max_attempts,
            created_at: time::OffsetDateTime::now_utc(),
        };
        if !store::insert_replay_target(self.pool, &target).await? {
            return Err(QueueError::NotFound);
        }
        Ok(id)
    }

    /// "Copy as curl" for a target: a command that sends the capture's exact body to the
    /// target with the scheme's signature headers computed now (the captured ones go stale).
    pub async fn signed_curl(
        &self,
        user_id: UserId,
        endpoint_id: EndpointId,
        req: &StoredRequest,
        body: &TargetBody,
    ) -> Result<String, QueueError> {
        let target = self.resolve_target(user_id, endpoint_id, body).await?;
        let Dest::Http(t) = &target.dest else {
            return Err(QueueError::Invalid(
                "A command cannot be made for the connected CLI: choose a URL or a saved target."
                    .into(),
            ));
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let signed = signing::resign(
            t.scheme,
            &req.headers,
            &req.body,
            t.secret.as_deref().unwrap_or_default(),
            now,
        )
        .map_err(|e| QueueError::Invalid(e.to_string()))?;
        Ok(hookvault_core::render::curl_command(
            &req.method,
            t.url.as_str(),
            &signed,
            &req.body,
        ))
    }
}
