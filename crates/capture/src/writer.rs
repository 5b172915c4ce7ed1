//! The batching writer. Capture handlers hand their request to the writer and wait; a few
//! writer tasks each take every capture that is waiting (up to a batch limit), insert them
//! with one statement in one transaction, commit, and only then answer each handler. So
//! concurrent captures share a commit (one WAL flush), and nothing is acknowledged before it
//! is durable.

use std::sync::Arc;

use hookvault_store::requests::{insert_captures, insert_captures_counted, NewCapture, Stored};
use hookvault_store::{PgPool, PooledConnection, StoreError};
use tokio::sync::{mpsc, oneshot, Mutex};

/// Most captures in one transaction.
const MAX_BATCH: usize = 512;
/// Most body bytes in one transaction (a batch always takes at least one capture).
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;
/// Most captures waiting for a writer; more get 503 at once instead of waiting in line.
const QUEUE: usize = 8192;

/// Why a capture was not stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    #[error("the store is unavailable")]
    Unavailable,
    /// The endpoint was deleted between the route lookup and the insert (nothing was stored).
    #[error("the endpoint no longer exists")]
    EndpointGone,
    /// The account's captures this month reached its plan's limit (nothing was stored).
    #[error("the account's monthly capture quota is used up")]
    OverQuota,
    #[error("the store rejected the capture: {0}")]
    Failed(String),
    /// Not committed by the capture's deadline (the database is stalled or overloaded).
    #[error("the store did not commit the capture in time")]
    TimedOut,
}

struct Job {
    capture: NewCapture,
    done: oneshot::Sender<Result<i64, WriteError>>,
}

/// Handle to the writer tasks. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts `tasks` writer tasks on `pool`. With `plan_quotas`, every batch is counted against
    /// the accounts' monthly capture quotas in the insert statement itself
    /// ([`insert_captures_counted`]); without, captures are never refused for quota.
    pub fn spawn(pool: PgPool, tasks: usize, plan_quotas: bool) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..tasks.max(1) {
            let rx = rx.clone();
            let pool = pool.clone();
            tokio::spawn(async move { run(pool, rx, plan_quotas).await });
        }
        Self { tx }
    }

    /// Stores one capture; returns its `seq` once committed. Refused at once when the queue
    /// is full. A caller that stops waiting (its deadline passed) withdraws the capture unless
    /// a writer already took it.
    pub async fn write(&self, capture: NewCapture) -> Result<i64, WriteError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .try_send(Job { capture, done })
            .map_err(|_| WriteError::Unavailable)?;
        wait.await.map_err(|_| WriteError::Unavailable)?
    }
}

async fn run(pool: PgPool, rx: Arc<Mutex<mpsc::Receiver<Job>>>, plan_quotas: bool) {
    let mut conn = Connection {
        conn: None,
        plan_quotas,
    };
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let mut batch = Vec::new();
            let mut bytes = 0;
            while batch.is_empty() {
                let Some(first) = rx.recv().await else { return };
                // Captures whose sender was already answered 503 are not stored.
                if !first.done.is_closed() {
                    bytes += first.capture.body.len();
                    batch.push(first);
                }
            }
            while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
                match rx.try_recv() {
                    Ok(job) if job.done.is_closed() => {}
                    Ok(job) => {
                        bytes += job.capture.body.len();
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
            batch
        };
        let (captures, waiters): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|j| (j.capture, j.done)).unzip();
        match conn.insert(&pool, &captures).await {
            Ok(seqs) => {
                hookvault_metrics::writer_batch(captures.len());
                for (w, stored) in waiters.into_iter().zip(seqs) {
                    let _ = w.send(outcome(stored));
                }
            }
            Err(e) if e.is_unavailable() || captures.len() == 1 => {
                tracing::warn!(error = %e, batch.len = captures.len(), "capture batch not stored");
                let err = classify(&e);
                for w in waiters {
                    let _ = w.send(Err(err.clone()));
                }
            }
            // One capture spoiled the batch: store the others one by one so only that capture
            // fails.
            Err(_) => {
                for (capture, w) in captures.iter().zip(waiters) {
                    let result = match conn.insert(&pool, std::slice::from_ref(capture)).await {
                        Ok(seqs) => seqs
                            .first()
                            .copied()
                            .map_or(Err(WriteError::EndpointGone), outcome),
                        Err(e) => Err(classify(&e)),
                    };
                    let _ = w.send(result);
                }
            }
        }
    }
}

/// The connection a writer task keeps between batches. Taking one from the pool for every
/// batch would cost two more round trips (the pool checks a connection when it is acquired
/// and when it is returned); a connection that fails is dropped and replaced on next use.
struct Connection {
    conn: Option<PooledConnection>,
    plan_quotas: bool,
}

impl Connection {
    async fn insert(
        &mut self,
        pool: &PgPool,
        captures: &[NewCapture],
    ) -> Result<Vec<Stored>, StoreError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(pool.acquire().await?),
        };
        let result = if self.plan_quotas {
            insert_captures_counted(&mut **conn, captures).await
        } else {
            insert_captures(&mut **conn, captures).await.map(|seqs| {
                seqs.into_iter()
                    .map(|s| s.map_or(Stored::EndpointGone, Stored::Seq))
                    .collect()
            })
        };
        if result.as_ref().is_err_and(StoreError::is_unavailable) {
            self.conn = None;
        }
        result
    }
}

fn outcome(stored: Stored) -> Result<i64, WriteError> {
    match stored {
        Stored::Seq(seq) => Ok(seq),
        Stored::OverQuota => Err(WriteError::OverQuota),
        Stored::EndpointGone => Err(WriteError::EndpointGone),
    }
}

fn classify(e: &StoreError) -> WriteError {
    if e.is_unavailable() {
        WriteError::Unavailable
    } else {
        WriteError::Failed(e.to_string())
    }
}
