//! Per-endpoint capture quota: at most N captures per endpoint per minute (fixed one-minute
//! windows), counted in this process. Over it, senders get `429` with `Retry-After` and nothing
//! is stored, so a well-behaved sender retries later and nothing acknowledged is lost.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hookvault_core::ids::EndpointId;

const WINDOW: Duration = Duration::from_secs(60);

/// Counts captures per endpoint.
#[derive(Default)]
pub struct Quota {
    per_minute: Option<u32>,
    windows: Mutex<HashMap<EndpointId, (Instant, u32)>>,
}

impl Quota {
    /// `None` = unlimited.
    pub fn new(per_minute: Option<u32>) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one capture for `endpoint` at `now`; `Err(wait)` when over the quota.
    pub fn take(&self, endpoint: EndpointId, now: Instant) -> Result<(), Duration> {
        let Some(limit) = self.per_minute else {
            return Ok(());
        };
        let Ok(mut windows) = self.windows.lock() else {
            return Ok(());
        };
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let (start, count) = windows.entry(endpoint).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            *start = now;
            *count = 0;
        }
        if *count >= limit {
            return Err(WINDOW.saturating_sub(now.duration_since(*start)));
        }
        *count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_over_the_quota_wait_for_the_next_window() {
        let q = Quota::new(Some(2));
        let e = EndpointId::now_v7();
        let t0 = Instant::now();
        assert!(q.take(e, t0).is_ok());
        assert!(q.take(e, t0).is_ok());
        let wait = q.take(e, t0 + Duration::from_secs(20)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        assert!(
            q.take(EndpointId::now_v7(), t0).is_ok(),
            "other endpoints have their own quota"
        );
        assert!(
            q.take(e, t0 + Duration::from_secs(60)).is_ok(),
            "a new window starts"
        );
    }

    #[test]
    fn no_quota_means_unlimited() {
        let q = Quota::new(None);
        let e = EndpointId::now_v7();
        for _ in 0..10_000 {
            assert!(q.take(e, Instant::now()).is_ok());
        }
    }
}
