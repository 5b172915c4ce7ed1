//! The batching writer. Capture handlers hand their request to the writer and wait; a few
//! writer tasks each take every capture that is waiting (up to a batch limit), insert them
//! with one statement in one transaction, commit, and only then answer each handler. So
//! concurrent captures share a commit (one WAL flush), and nothing is acknowledged before it
//! is durable. While one writer stores a batch, the next gathers the captures that arrive
//! meanwhile (for at most [`LINGER`]) rather than storing them one or two at a time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hookvault_store::requests::{insert_captures, insert_captures_counted, NewCapture, Stored};
use hookvault_store::{PgPool, PooledConnection, StoreError};
use tokio::sync::{mpsc, oneshot, Mutex, Notify};

/// Most captures in one transaction.
const MAX_BATCH: usize = 512;
/// Most body bytes in one transaction (a batch always takes at least one capture).
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;
/// Longest a capture waits for another writer's batch to finish before its own batch starts.
const LINGER: Duration = Duration::from_millis(3);
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
        let shared = Arc::new(Shared {
            rx: Mutex::new(rx),
            busy: AtomicUsize::new(0),
            finished: Notify::new(),
            linger: LINGER,
        });
        for _ in 0..tasks.max(1) {
            let shared = shared.clone();
            let pool = pool.clone();
            tokio::spawn(async move { run(pool, shared, plan_quotas).await });
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

/// What the writer tasks share: the queue, and how many of them are storing a batch now.
struct Shared {
    rx: Mutex<mpsc::Receiver<Job>>,
    busy: AtomicUsize,
    /// Signalled when a writer finishes a batch.
    finished: Notify,
    /// [`LINGER`] (tests set their own).
    linger: Duration,
}

async fn run(pool: PgPool, shared: Arc<Shared>, plan_quotas: bool) {
    let mut conn = Connection {
        conn: None,
        plan_quotas,
    };
    loop {
        let Some((batch, _busy)) = next_batch(&shared).await else {
            return;
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

/// A writer storing a batch; dropping it (the batch answered, or the task gone) tells the
/// writer that is gathering.
struct Busy<'a>(&'a Shared);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
        self.0.finished.notify_one();
    }
}

/// The next batch: every capture waiting, up to the batch limits. While another writer is
/// storing its batch, this one keeps collecting until that writer finishes (or [`LINGER`]
/// after its first capture): its batch then shares one statement and one commit instead of
/// being split into batches of one or two that each pay a statement's and a commit's fixed
/// cost. With no other writer busy, a capture is stored at once. `None` once the queue is
/// closed and empty; with `Some`, this writer counts as busy until the [`Busy`] is dropped.
async fn next_batch(shared: &Shared) -> Option<(Vec<Job>, Busy<'_>)> {
    let mut rx = shared.rx.lock().await;
    let batch = collect(shared, &mut rx).await?;
    // Still holding the queue: the next writer to take it sees this one busy.
    shared.busy.fetch_add(1, Ordering::SeqCst);
    Some((batch, Busy(shared)))
}

async fn collect(shared: &Shared, rx: &mut mpsc::Receiver<Job>) -> Option<Vec<Job>> {
    let mut batch = Vec::new();
    let mut bytes = 0;
    let mut take = |job: Job, batch: &mut Vec<Job>| {
        // Captures whose sender was already answered 503 are not stored.
        if !job.done.is_closed() {
            bytes += job.capture.body.len();
            batch.push(job);
        }
        batch.len() >= MAX_BATCH || bytes >= MAX_BATCH_BYTES
    };
    let mut full = false;
    while batch.is_empty() {
        full = take(rx.recv().await?, &mut batch);
    }
    let linger = tokio::time::sleep(shared.linger);
    tokio::pin!(linger);
    loop {
        while !full {
            match rx.try_recv() {
                Ok(job) => full = take(job, &mut batch),
                Err(_) => break,
            }
        }
        if full || shared.busy.load(Ordering::SeqCst) == 0 {
            return Some(batch);
        }
        tokio::select! {
            job = rx.recv() => match job {
                Some(job) => full = take(job, &mut batch),
                None => return Some(batch),
            },
            () = shared.finished.notified() => {}
            () = &mut linger => return Some(batch),
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

#[cfg(test)]
mod tests {
    use super::*;
    use hookvault_core::ids::EndpointId;

    fn job() -> (Job, oneshot::Receiver<Result<i64, WriteError>>) {
        let (done, wait) = oneshot::channel();
        let capture = hookvault_store::testing::capture(EndpointId::now_v7(), b"{}");
        (Job { capture, done }, wait)
    }

    /// The writers' shared state with `busy` writers storing a batch.
    fn shared(busy: usize, linger: Duration) -> (Arc<Shared>, mpsc::Sender<Job>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let shared = Arc::new(Shared {
            rx: Mutex::new(rx),
            busy: AtomicUsize::new(busy),
            finished: Notify::new(),
            linger,
        });
        (shared, tx)
    }

    #[tokio::test]
    async fn with_no_other_writer_busy_a_capture_is_stored_at_once_on_its_own() {
        let (shared, tx) = shared(0, Duration::from_secs(600));
        let (first, _keep) = job();
        tx.send(first).await.expect("queued");
        let (batch, busy) = tokio::time::timeout(Duration::from_secs(5), next_batch(&shared))
            .await
            .expect("no lingering while no writer is busy")
            .expect("a batch");
        assert_eq!(batch.len(), 1);
        assert_eq!(shared.busy.load(Ordering::SeqCst), 1, "this writer is busy");
        drop(busy);
        assert_eq!(shared.busy.load(Ordering::SeqCst), 0, "until it is done");
    }

    #[tokio::test]
    async fn while_another_writer_is_busy_captures_gather_into_one_batch_until_it_finishes() {
        let (shared, tx) = shared(1, Duration::from_secs(600));
        let mut keep = Vec::new();
        let (first, wait) = job();
        keep.push(wait);
        tx.send(first).await.expect("queued");
        let collecting = tokio::spawn({
            let shared = shared.clone();
            async move { next_batch(&shared).await.map(|(batch, _)| batch.len()) }
        });
        tokio::task::yield_now().await;
        for _ in 0..5 {
            let (j, wait) = job();
            keep.push(wait);
            tx.send(j).await.expect("queued");
        }
        // The busy writer finishes: the one collecting starts with all six.
        drop(Busy(&shared));
        let gathered = collecting.await.expect("joined").expect("a batch");
        assert_eq!(gathered, 6, "one batch, not one of one and another of five");
    }

    #[tokio::test]
    async fn a_capture_waits_for_a_busy_writer_no_longer_than_the_linger_time() {
        let linger = Duration::from_millis(50);
        let (shared, tx) = shared(1, linger);
        let (first, _keep) = job();
        tx.send(first).await.expect("queued");
        let started = std::time::Instant::now();
        let (batch, _busy) = tokio::time::timeout(Duration::from_secs(5), next_batch(&shared))
            .await
            .expect("the batch starts although the other writer is still busy")
            .expect("a batch");
        assert_eq!(batch.len(), 1);
        assert!(started.elapsed() >= linger, "it lingered first");
    }

    #[tokio::test]
    async fn captures_whose_sender_gave_up_are_left_out_of_the_batch() {
        let (shared, tx) = shared(0, LINGER);
        let (gone, wait) = job();
        drop(wait);
        tx.send(gone).await.expect("queued");
        let (kept, _keep) = job();
        tx.send(kept).await.expect("queued");
        let (batch, _busy) = next_batch(&shared).await.expect("a batch");
        assert_eq!(batch.len(), 1);
    }
}
