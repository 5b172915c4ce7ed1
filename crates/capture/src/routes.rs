//! A small cache of capture routes by token, so the hot path does not query the endpoint for
//! every capture. Entries expire after a short time, and every server process drops an entry
//! as soon as it hears (LISTEN/NOTIFY) that the endpoint changed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use hookvault_store::endpoints::{find_capture_route, CaptureRoute};
use hookvault_store::{PgPool, StoreError};

const TTL: Duration = Duration::from_secs(30);

/// Routes by token, each with the time it was loaded.
type Entries = HashMap<String, (Arc<CaptureRoute>, Instant)>;

/// Cached capture routes. Cheap to clone.
#[derive(Clone, Default)]
pub struct RouteCache {
    inner: Arc<RwLock<Entries>>,
}

impl RouteCache {
    /// The route for `token`, from the cache or the store. `Ok(None)` for an unknown token.
    pub async fn get(
        &self,
        pool: &PgPool,
        token: &str,
    ) -> Result<Option<Arc<CaptureRoute>>, StoreError> {
        if let Ok(map) = self.inner.read() {
            if let Some((route, at)) = map.get(token) {
                if at.elapsed() < TTL {
                    return Ok(Some(route.clone()));
                }
            }
        }
        let Some(route) = find_capture_route(pool, token).await? else {
            return Ok(None);
        };
        let route = Arc::new(route);
        if let Ok(mut map) = self.inner.write() {
            map.insert(token.to_string(), (route.clone(), Instant::now()));
        }
        Ok(Some(route))
    }

    /// Forgets `token` (its endpoint changed or was deleted).
    pub fn invalidate(&self, token: &str) {
        if let Ok(mut map) = self.inner.write() {
            map.remove(token);
        }
    }

    /// Forgets everything (after the notification connection was lost, changes may be missed).
    pub fn clear(&self) {
        if let Ok(mut map) = self.inner.write() {
            map.clear();
        }
    }
}
