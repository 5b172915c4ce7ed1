//! The search indexer: fills the search documents of new captures (see
//! `hookvault_store::search_index`) in batches, so a capture is indexed within about a second
//! of being stored while the capture path does none of the work.

use std::time::Duration;

use hookvault_store::{search_index, PgPool};

/// Captures indexed per transaction (also bounded by bytes, see `search_index::BATCH_BYTES`; kept small: the transaction is short, so it holds back
/// live streams' horizon only briefly).
const BATCH: i64 = 500;
/// The pause once caught up.
const IDLE: Duration = Duration::from_millis(250);

/// The indexer's share of one database connection's time while it is behind: after a batch
/// that took `t` it rests `t * REST_FACTOR`. Captures come first: on a busy machine the
/// indexer falls behind (searches then scan the captures above its progress, still exact) and
/// catches up when the load eases. It rests even when its database process runs at the lowest
/// CPU priority (see `hookvault_store::connect_background`): side by side, an indexer
/// that did not rest cost a third of the capture rate (its WAL, and, with the scheduler's
/// per-session groups, a database that always has work takes its group's full share).
const REST_FACTOR: u32 = 3;

/// Runs forever (roles all and worker).
pub async fn search_index_loop(pool: PgPool) {
    loop {
        let started = std::time::Instant::now();
        match search_index::index_next(&pool, BATCH).await {
            Ok((_, true)) => {
                tokio::time::sleep(started.elapsed() * REST_FACTOR).await;
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "search indexer: indexing new captures failed"),
        }
        tokio::time::sleep(IDLE.max(started.elapsed() * REST_FACTOR)).await;
    }
}
