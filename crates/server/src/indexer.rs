//! The search indexer: fills the search documents of new captures (see
//! `hookvault_store::search_index`) in batches, so a capture is indexed within about a second
//! of being stored while the capture path does none of the work.

use std::time::{Duration, Instant};

use hookvault_store::{search_index, PgPool};

/// Captures indexed per transaction (also bounded by bytes, see `search_index::BATCH_BYTES`;
/// kept small: the transaction is short, so it holds back live streams' horizon only briefly).
const BATCH: i64 = 500;
/// The pause once caught up.
const IDLE: Duration = Duration::from_millis(250);

/// The indexer's share of one database connection's time while captures are arriving: after a
/// batch that took `t` it rests `t * REST_FACTOR`. Captures come first: on a busy machine the
/// indexer falls behind (searches then scan the captures above its progress, still exact) and
/// catches up when the load eases. It rests even when its database process runs at the lowest
/// CPU priority (see `hookvault_store::connect_background`): side by side, an indexer
/// that did not rest cost a third of the capture rate (its WAL, and, with the scheduler's
/// per-session groups, a database that always has work takes its group's full share).
const REST_FACTOR: u32 = 3;

/// Captures arriving on the database (from every process) faster than this per second mean
/// capture is busy: the indexer rests between batches. Slower, it works through its backlog
/// without resting.
const BUSY_PER_SECOND: f64 = 100.0;

/// How long to rest after a batch that took `took`, when `arrived` captures were numbered in
/// the `between` since the previous batch started.
fn rest_after(took: Duration, arrived: i64, between: Duration) -> Duration {
    let per_second = arrived as f64 / between.as_secs_f64().max(0.001);
    if per_second > BUSY_PER_SECOND {
        took * REST_FACTOR
    } else {
        Duration::ZERO
    }
}

/// Runs forever (roles all and worker).
pub async fn search_index_loop(pool: PgPool) {
    // The capture count and time at the previous batch's start.
    let mut previous: Option<(i64, Instant)> = None;
    loop {
        let started = Instant::now();
        match search_index::index_next(&pool, BATCH).await {
            Ok(pass) => {
                let rest = previous.map_or(Duration::ZERO, |(numbered, at)| {
                    rest_after(
                        started.elapsed(),
                        pass.numbered - numbered,
                        started.duration_since(at),
                    )
                });
                previous = Some((pass.numbered, started));
                if pass.more {
                    tokio::time::sleep(rest).await;
                } else {
                    tokio::time::sleep(IDLE.max(rest)).await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "search indexer: indexing new captures failed");
                tokio::time::sleep(IDLE).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BATCH_TOOK: Duration = Duration::from_millis(200);

    #[test]
    fn the_indexer_rests_three_times_a_batch_while_captures_arrive_quickly() {
        // 2,000 captures in the 0.8 s since the previous batch: 2,500 a second.
        assert_eq!(
            rest_after(BATCH_TOOK, 2_000, Duration::from_millis(800)),
            Duration::from_millis(600)
        );
    }

    #[test]
    fn the_indexer_works_through_its_backlog_without_rest_when_captures_are_few() {
        assert_eq!(
            rest_after(BATCH_TOOK, 0, Duration::from_millis(200)),
            Duration::ZERO
        );
        // 50 a second.
        assert_eq!(
            rest_after(BATCH_TOOK, 10, Duration::from_millis(200)),
            Duration::ZERO
        );
    }
}
