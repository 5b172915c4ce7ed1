//! The batching writer. Capture handlers hand their request to the writer and wait; a few
//! writer tasks each take every capture that is waiting (up to a batch limit), insert them
//! with one statement in one transaction, commit, and only then answer each handler. So
//! concurrent captures share a commit (one WAL flush), and nothing is acknowledged before it
//! is durable.

use std::sync::Arc;

use hookvault_store::requests::{insert_captures, NewCapture};
use hookvault_store::PgPool;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Most captures in one transaction.
const MAX_BATCH: usize = 512;
/// Most body bytes in one transaction (a batch always takes at least one capture).
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// Why a capture was not stored.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the store is unavailable")]
    Unavailable,
    #[error("the store rejected the capture: {0}")]
    Failed(String),
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
    /// Starts `tasks` writer tasks on `pool`.
    pub fn spawn(pool: PgPool, tasks: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(8192);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..tasks.max(1) {
            let rx = rx.clone();
            let pool = pool.clone();
            tokio::spawn(async move { run(pool, rx).await });
        }
        Self { tx }
    }

    /// Stores one capture; returns its `seq` once committed.
    pub async fn write(&self, capture: NewCapture) -> Result<i64, WriteError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Job { capture, done })
            .await
            .map_err(|_| WriteError::Unavailable)?;
        wait.await.map_err(|_| WriteError::Unavailable)?
    }
}

async fn run(pool: PgPool, rx: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut bytes = first.capture.body.len();
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
                match rx.try_recv() {
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
        match store(&pool, &captures).await {
            Ok(seqs) => {
                for (w, seq) in waiters.into_iter().zip(seqs) {
                    let _ = w.send(Ok(seq));
                }
            }
            Err(e) => {
                let unavailable = e.is_unavailable();
                tracing::warn!(error = %e, batch.len = captures.len(), "capture batch not stored");
                for w in waiters {
                    let _ = w.send(Err(if unavailable {
                        WriteError::Unavailable
                    } else {
                        WriteError::Failed(e.to_string())
                    }));
                }
            }
        }
    }
}

async fn store(
    pool: &PgPool,
    captures: &[NewCapture],
) -> Result<Vec<i64>, hookvault_store::StoreError> {
    let mut tx = pool.begin().await?;
    let seqs = insert_captures(&mut tx, captures).await?;
    tx.commit().await?;
    Ok(seqs)
}
