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

/// The indexer's share of one database connection's time while it is behind, when its
/// database process keeps normal priority: after a batch that took `t` it rests
/// `t * REST_FACTOR`. Captures come first: on a busy machine the indexer falls behind
/// (searches then scan the captures above its progress, still exact) and catches up when the
/// load eases. With `lowered` (its process at the lowest CPU priority, see
/// `hookvault_store::connect_background`) the scheduler does that instead, so it does not rest
/// and catches up at full speed whenever the machine has idle time.
const REST_FACTOR: u32 = 3;

/// Runs forever (roles all and worker).
pub async fn search_index_loop(pool: PgPool, lowered: bool) {
    let rest = if lowered { 0 } else { REST_FACTOR };
    loop {
        let started = std::time::Instant::now();
        match search_index::index_next(&pool, BATCH).await {
            Ok((_, true)) => {
                tokio::time::sleep(started.elapsed() * rest).await;
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "search indexer: indexing new captures failed"),
        }
        tokio::time::sleep(IDLE.max(started.elapsed() * rest)).await;
    }
}
