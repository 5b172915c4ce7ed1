//! The attempt recorder: workers hand finished attempts to one task that writes everything
//! waiting in one transaction ([`replays::finish_replay_attempts`]), so recording costs one
//! commit per group of attempts instead of one per attempt, and a worker goes on sending while
//! its attempt is being written.

use std::collections::HashSet;

use hookvault_store::replays::{self, FinishedAttempt};
use hookvault_store::PgPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Most attempts written by one statement.
const MAX_GROUP: usize = 256;
/// Attempts waiting to be written before workers wait for room.
const QUEUE: usize = 4096;

struct Entry {
    finished: FinishedAttempt,
    /// Told whether the job moved, once the attempt is committed (false when writing failed).
    done: Option<oneshot::Sender<bool>>,
}

/// Hands attempts to the recorder task. Cheap to clone; the task ends (after writing what is
/// waiting) when every handle is dropped.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Entry>,
}

impl Recorder {
    /// Starts the recorder task on `pool`.
    pub fn spawn(pool: PgPool) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Self { tx }, tokio::spawn(run(pool, rx)))
    }

    /// Queues an attempt to be recorded; the returned receiver says, once it is committed,
    /// whether its job moved (false as well when it could not be written: the job then stays
    /// `running` until the recovery sweep takes it back, which records it as interrupted).
    pub async fn submit(&self, finished: FinishedAttempt) -> oneshot::Receiver<bool> {
        let (done, moved) = oneshot::channel();
        let entry = Entry {
            finished,
            done: Some(done),
        };
        if let Err(mpsc::error::SendError(mut entry)) = self.tx.send(entry).await {
            tracing::error!("the replay attempt recorder is gone; an attempt was not recorded");
            if let Some(done) = entry.done.take() {
                let _ = done.send(false);
            }
        }
        moved
    }
}

async fn run(pool: PgPool, mut rx: mpsc::Receiver<Entry>) {
    let mut group: Vec<Entry> = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (finished, dones): (Vec<FinishedAttempt>, Vec<_>) =
            group.drain(..).map(|e| (e.finished, e.done)).unzip();
        let moved = match replays::finish_replay_attempts(&pool, &finished).await {
            Ok(ids) => ids.into_iter().collect::<HashSet<_>>(),
            Err(e) => {
                tracing::warn!(error = %e, attempts = finished.len(), "recording replay attempts failed");
                for (f, done) in finished.iter().zip(dones) {
                    tracing::warn!(replay.id = %f.replay_id, "attempt not recorded");
                    if let Some(done) = done {
                        let _ = done.send(false);
                    }
                }
                continue;
            }
        };
        for (f, done) in finished.iter().zip(dones) {
            let applied = moved.contains(&f.replay_id);
            if !applied {
                tracing::warn!(
                    replay.id = %f.replay_id,
                    "attempt recorded, but the replay had been taken back by the recovery sweep"
                );
            }
            if let Some(done) = done {
                let _ = done.send(applied);
            }
        }
    }
}
