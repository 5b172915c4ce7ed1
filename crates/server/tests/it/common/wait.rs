//! The one polling helper: re-check something until it holds, for a bounded time.

use std::fmt::Display;
use std::time::{Duration, Instant};

/// How long a test waits for something that normally takes milliseconds (a page step, a
/// replay, a live row) before it gives up.
pub const STEP: Duration = Duration::from_secs(20);

/// How often a condition is checked again.
const EVERY: Duration = Duration::from_millis(50);

/// Runs `probe` until it gives `Ok(v)`, and returns `v`; after `within` it panics, saying
/// what it waited for and what it saw last (`probe`'s last `Err`).
pub async fn wait_for<T, E: Display>(
    what: &str,
    within: Duration,
    mut probe: impl AsyncFnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(seen) => {
                if Instant::now() >= deadline {
                    panic!("timed out after {within:?} waiting for {what}; last seen: {seen}");
                }
                tokio::time::sleep(EVERY).await;
            }
        }
    }
}

/// [`wait_for`] for a condition that is just true or false.
pub async fn wait_until(what: &str, within: Duration, mut holds: impl AsyncFnMut() -> bool) {
    wait_for(what, within, async || {
        if holds().await {
            Ok(())
        } else {
            Err("not yet")
        }
    })
    .await
}

/// [`wait_for`] for an expression, within [`STEP`] or the time given:
/// `eventually!("the row", text_of(&c, "tr").await)`,
/// `eventually!(within Duration::from_secs(60); "the row", …)`.
macro_rules! eventually {
    (within $within:expr; $what:expr, $probe:expr) => {
        $crate::common::wait::wait_for(&$what, $within, async || $probe).await
    };
    ($what:expr, $probe:expr) => {
        $crate::common::wait::wait_for(&$what, $crate::common::wait::STEP, async || $probe).await
    };
}
pub(crate) use eventually;
