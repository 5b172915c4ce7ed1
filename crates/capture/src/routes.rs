//! A cache of capture routes by token, so the hot path does not query the endpoint for every
//! capture. Entries expire after a short time, and every server process drops an entry as soon
//! as it hears (LISTEN/NOTIFY) that the endpoint changed.
//!
//! Capture URLs are public, so the cache is built for strangers too: unknown tokens are cached
//! (briefly) as unknown, so a flood of made-up tokens does not become a flood of queries, and
//! the cache is bounded in bytes (custom responses can be large): when full, the entries used
//! least recently go first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use hookvault_store::endpoints::{find_capture_route, CaptureRoute};
use hookvault_store::{PgPool, StoreError};

/// How long a known route is trusted without hearing of a change.
const TTL: Duration = Duration::from_secs(30);
/// How long an unknown token stays known as unknown.
const NEGATIVE_TTL: Duration = Duration::from_secs(5);
/// Default bound of the cache, in bytes.
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;
/// What an entry costs besides its token and custom response.
const ENTRY_OVERHEAD: usize = 256;

struct Entry {
    /// `None`: no endpoint has this token.
    route: Option<Arc<CaptureRoute>>,
    loaded: Instant,
    /// Milliseconds since the cache's epoch when last used.
    used: AtomicU64,
    bytes: usize,
}

struct Inner {
    entries: HashMap<String, Entry>,
    bytes: usize,
}

/// Cached capture routes. Cheap to clone.
#[derive(Clone)]
pub struct RouteCache {
    inner: Arc<RwLock<Inner>>,
    epoch: Instant,
    limit: usize,
}

impl Default for RouteCache {
    fn default() -> Self {
        Self::with_limit(DEFAULT_CACHE_BYTES)
    }
}

impl RouteCache {
    /// A cache holding at most about `limit` bytes of routes.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            inner: Arc::new(RwLock::new(Inner {
                entries: HashMap::new(),
                bytes: 0,
            })),
            epoch: Instant::now(),
            limit,
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The route for `token`, from the cache or the store. `Ok(None)` for an unknown token.
    pub async fn get(
        &self,
        pool: &PgPool,
        token: &str,
    ) -> Result<Option<Arc<CaptureRoute>>, StoreError> {
        if let Some(hit) = self.cached(token) {
            return Ok(hit);
        }
        let route = find_capture_route(pool, token).await?.map(Arc::new);
        self.insert(token, route.clone());
        Ok(route)
    }

    /// A fresh cache entry for `token`: `Some(None)` means known to be unknown.
    fn cached(&self, token: &str) -> Option<Option<Arc<CaptureRoute>>> {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let e = inner.entries.get(token)?;
        let ttl = if e.route.is_some() { TTL } else { NEGATIVE_TTL };
        if e.loaded.elapsed() >= ttl {
            return None;
        }
        e.used.store(self.now_ms(), Ordering::Relaxed);
        Some(e.route.clone())
    }

    fn insert(&self, token: &str, route: Option<Arc<CaptureRoute>>) {
        let bytes = ENTRY_OVERHEAD
            + token.len()
            + route.as_ref().map_or(0, |r| {
                r.response.body.len()
                    + r.response.content_type.len()
                    + r.response
                        .headers
                        .iter()
                        .map(|(n, v)| n.len() + v.len())
                        .sum::<usize>()
                    + r.signing_secret_sealed.as_ref().map_or(0, Vec::len)
            });
        if bytes > self.limit {
            return;
        }
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let entry = Entry {
            route,
            loaded: Instant::now(),
            used: AtomicU64::new(self.now_ms()),
            bytes,
        };
        if let Some(old) = inner.entries.insert(token.to_string(), entry) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        if inner.bytes > self.limit {
            evict(&mut inner, self.limit);
        }
    }

    /// Forgets `token` (its endpoint changed or was deleted).
    pub fn invalidate(&self, token: &str) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = inner.entries.remove(token) {
            inner.bytes -= old.bytes;
        }
    }

    /// Forgets everything (after the notification connection was lost, changes may be missed).
    pub fn clear(&self) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.entries.clear();
        inner.bytes = 0;
    }

    /// Bytes the cache holds now.
    pub fn bytes(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .bytes
    }
}

/// Drops the least recently used entries until the cache is a tenth below its limit (so that
/// the scan runs once per many inserts, not on each).
fn evict(inner: &mut Inner, limit: usize) {
    let target = limit - limit / 10;
    let mut by_use: Vec<(u64, String)> = inner
        .entries
        .iter()
        .map(|(k, e)| (e.used.load(Ordering::Relaxed), k.clone()))
        .collect();
    by_use.sort_unstable();
    for (_, token) in by_use {
        if inner.bytes <= target {
            break;
        }
        if let Some(old) = inner.entries.remove(&token) {
            inner.bytes -= old.bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookvault_store::endpoints::EndpointResponse;

    fn route(body: usize) -> Option<Arc<CaptureRoute>> {
        Some(Arc::new(CaptureRoute {
            endpoint_id: hookvault_core::ids::EndpointId::now_v7(),
            user_id: hookvault_core::ids::UserId::now_v7(),
            response: EndpointResponse {
                status: 200,
                content_type: String::new(),
                body: vec![b'x'; body],
                headers: Vec::new(),
                delay_ms: 0,
            },
            signing_scheme: None,
            signing_secret_sealed: None,
            owner_verified: true,
            max_body_bytes: 1024,
            suspended_reason: None,
        }))
    }

    #[test]
    fn the_cache_stays_within_its_bytes_dropping_the_least_recently_used_first() {
        let cache = RouteCache::with_limit(9_000);
        cache.insert("a", route(3_000));
        cache.insert("b", route(3_000));
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.cached("a").is_some(), "a is used again");
        cache.insert("c", route(3_000));
        assert!(cache.bytes() <= 9_000);
        assert!(
            cache.cached("b").is_none(),
            "b, used least recently, went first"
        );
        assert!(cache.cached("a").is_some() && cache.cached("c").is_some());
    }

    #[test]
    fn unknown_tokens_are_remembered_as_unknown_and_large_routes_are_not_cached() {
        let cache = RouteCache::with_limit(1_000);
        cache.insert("nope", None);
        assert!(matches!(cache.cached("nope"), Some(None)));
        cache.insert("huge", route(5_000));
        assert!(cache.cached("huge").is_none());
        cache.invalidate("nope");
        assert_eq!(cache.bytes(), 0);
    }
}
