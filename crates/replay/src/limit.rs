//! Per-destination limits on replays (security rule R13, amplification): at most `concurrency`
//! sends in flight to one destination, and sends to one destination started at most `rate`
//! times a second, spaced evenly. A destination is a resolved address and port
//! ([`destination_key`]). Nobody waits here: [`DestinationLimits::try_enter`] says how long
//! until the destination has room, and the worker puts the job back until then. The limits
//! hold per process, like the other limiters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::Url;

/// Hosts remembered before idle ones are forgotten.
const MAX_IDLE_HOSTS: usize = 1024;
/// How long a host name's destination key is remembered: the jobs of an unordered batch are
/// chains of their own, and without it each would look its host up again.
pub const KEY_TTL: Duration = Duration::from_secs(10);
/// When a destination has no free slot, ask again after this long.
pub const BUSY_RETRY: Duration = Duration::from_millis(100);

/// The limits for every destination host.
pub struct DestinationLimits {
    concurrency: usize,
    /// Time between two starts to one host; `None` = no rate limit.
    spacing: Option<Duration>,
    hosts: Mutex<HashMap<String, Host>>,
    /// `host:port` → its destination key and when it was looked up.
    keys: Mutex<HashMap<String, (String, Instant)>>,
}

struct Host {
    /// One permit per send in flight. Every send in flight holds a clone, so a host whose
    /// count is 1 has nothing going on.
    slots: Arc<Semaphore>,
    /// When the next send to this host may start.
    next_start: Instant,
}

/// Held while a send is in flight; dropping it frees the host's slot.
pub struct Pass {
    _permit: OwnedSemaphorePermit,
}

impl DestinationLimits {
    /// At most `concurrency` (at least 1) sends in flight per host, and at most
    /// `rate_per_second` starts per second per host (`None` or 0: no rate limit).
    pub fn new(concurrency: usize, rate_per_second: Option<u32>) -> Self {
        Self {
            concurrency: concurrency.max(1),
            spacing: rate_per_second
                .filter(|r| *r > 0)
                .map(|r| Duration::from_secs(1) / r),
            hosts: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// [`destination_key`], remembered for [`KEY_TTL`] per `host:port`.
    pub async fn key(&self, url: &Url) -> String {
        let name = host_key(url);
        let now = Instant::now();
        {
            let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((key, at)) = keys.get(&name) {
                if now.duration_since(*at) < KEY_TTL {
                    return key.clone();
                }
            }
        }
        let key = destination_key(url).await;
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= MAX_IDLE_HOSTS {
            keys.retain(|_, (_, at)| now.duration_since(*at) < KEY_TTL);
        }
        keys.insert(name, (key.clone(), now));
        key
    }

    /// A pass for a send to the destination `key` if one may start now; otherwise how long to
    /// wait before asking again. Never waits: a worker whose destination is busy puts the job
    /// back and does other work.
    pub fn try_enter(&self, key: &str) -> Result<Pass, Duration> {
        let slots = self.with_host(key, |h| h.slots.clone());
        let Ok(permit) = slots.try_acquire_owned() else {
            return Err(BUSY_RETRY);
        };
        if let Some(spacing) = self.spacing {
            let now = Instant::now();
            let wait = self.with_host(key, |h| {
                if h.next_start > now {
                    return Some(h.next_start - now);
                }
                h.next_start = now + spacing;
                None
            });
            if let Some(wait) = wait {
                return Err(wait);
            }
        }
        Ok(Pass { _permit: permit })
    }

    /// Runs `f` on the host's state, creating it if needed (and forgetting idle hosts when
    /// there are many).
    fn with_host<T>(&self, key: &str, f: impl FnOnce(&mut Host) -> T) -> T {
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        if hosts.len() >= MAX_IDLE_HOSTS && !hosts.contains_key(key) {
            let now = Instant::now();
            hosts.retain(|_, h| Arc::strong_count(&h.slots) > 1 || h.next_start > now);
        }
        let host = hosts.entry(key.to_owned()).or_insert_with(|| Host {
            slots: Arc::new(Semaphore::new(self.concurrency)),
            next_start: Instant::now(),
        });
        f(host)
    }
}

/// The key a destination is limited by: its first resolved address and port, so that many
/// names for one server share its limit; the host name when it does not resolve (the send
/// then fails on its own).
pub async fn destination_key(url: &Url) -> String {
    let port = url.port_or_known_default().unwrap_or_default();
    if let Some(host) = url.host_str() {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(Ok(mut addrs)) = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::lookup_host((host, port)),
        )
        .await
        {
            if let Some(addr) = addrs.next() {
                return addr.to_string();
            }
        }
    }
    host_key(url)
}

/// `host:port` of a URL (the URL parser already lowercases domain names).
fn host_key(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn hosts_are_told_apart_by_name_and_port_whatever_the_path_or_case() {
        assert_eq!(
            host_key(&url("https://Example.COM/a")),
            host_key(&url("https://example.com:443/b"))
        );
        assert_ne!(
            host_key(&url("http://example.com/")),
            host_key(&url("http://example.com:8080/"))
        );
    }

    #[tokio::test]
    async fn starts_to_one_host_are_spaced_by_the_rate_and_other_hosts_are_not_held_up() {
        let limits = DestinationLimits::new(10, Some(20));
        let t0 = Instant::now();
        let mut started = Vec::new();
        while started.len() < 4 {
            match limits.try_enter("a.example:80") {
                Ok(pass) => started.push((t0.elapsed(), pass)),
                Err(wait) => {
                    assert!(
                        wait > Duration::ZERO && wait <= Duration::from_millis(50),
                        "too soon: told to come back after {wait:?}"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
        for (n, (at, _)) in started.iter().enumerate() {
            let n = u32::try_from(n).unwrap();
            assert!(*at >= Duration::from_millis(50) * n, "start {n} at {at:?}");
        }
        assert!(
            limits.try_enter("b.example:80").is_ok(),
            "b waits for nobody"
        );
    }

    #[tokio::test]
    async fn a_destination_key_is_remembered_per_host_and_port() {
        let limits = DestinationLimits::new(1, None);
        let a = url("http://localhost:9/a");
        assert_eq!(limits.key(&a).await, destination_key(&a).await);
        assert_eq!(
            limits.key(&url("http://localhost:9/b")).await,
            limits.key(&a).await
        );
        let keys = limits.keys.lock().unwrap();
        assert_eq!(keys.len(), 1, "one entry for localhost:9 whatever the path");
    }

    #[tokio::test]
    async fn many_names_for_one_address_share_its_limit() {
        assert_eq!(
            destination_key(&url("http://localhost:9/")).await,
            destination_key(&url("http://127.0.0.1:9/")).await
        );
    }

    #[test]
    fn a_host_gets_at_most_its_concurrency_in_flight() {
        let limits = DestinationLimits::new(2, None);
        let first = limits.try_enter("a.example:80").expect("a free slot");
        let _second = limits.try_enter("a.example:80").expect("a second slot");
        assert_eq!(
            limits.try_enter("a.example:80").err(),
            Some(BUSY_RETRY),
            "a third send to a.example is told to come back"
        );
        assert!(
            limits.try_enter("b.example:80").is_ok(),
            "another host is not held up"
        );
        drop(first);
        assert!(
            limits.try_enter("a.example:80").is_ok(),
            "a finished send frees its slot"
        );
    }
}
