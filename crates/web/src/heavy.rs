//! Heavy work per account: free-text and JSON-path searches scan an endpoint's bodies, exports
//! read all of them. Each account may run only a few at once in this process, so one account's
//! searches cannot take the database connections and cores everyone shares; a request that
//! finds no free slot within a few seconds gets 429 with the reason.
//!
//! A slot carries the pool heavy work runs on: the server gives it connections of their own
//! (so heavy work never takes the dashboard's), which, with the embedded cluster, run at the
//! lowest CPU priority (`hookvault_store::connect_background`): heavy work then gets the cores
//! that captures and pages leave idle, whoever asked for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hookvault_core::ids::UserId;
use hookvault_store::PgPool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::AppError;

/// Searches and exports at once per account (per process).
pub const PER_ACCOUNT: usize = 2;
/// How long a request waits for one of its account's slots.
const WAIT: Duration = Duration::from_secs(5);

/// The slots of every account, and the pool heavy work runs on. Cheap to clone.
#[derive(Clone)]
pub struct HeavyWork {
    accounts: Arc<Mutex<HashMap<UserId, Arc<Semaphore>>>>,
    pool: PgPool,
}

/// A slot, held while the work runs.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    pool: PgPool,
}

impl Slot {
    /// The connections to do the work on.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl HeavyWork {
    /// Heavy work on `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self {
            accounts: Arc::default(),
            pool,
        }
    }

    /// Waits for one of `user_id`'s slots.
    pub async fn enter(&self, user_id: UserId) -> Result<Slot, AppError> {
        self.enter_within(user_id, WAIT).await
    }

    async fn enter_within(&self, user_id: UserId, wait: Duration) -> Result<Slot, AppError> {
        let slots = {
            let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
            // Forget accounts with nothing running (only the map holds their semaphore).
            if accounts.len() > 1024 {
                accounts.retain(|_, s| Arc::strong_count(s) > 1);
            }
            accounts
                .entry(user_id)
                .or_insert_with(|| Arc::new(Semaphore::new(PER_ACCOUNT)))
                .clone()
        };
        match tokio::time::timeout(wait, slots.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Slot {
                _permit: permit,
                pool: self.pool.clone(),
            }),
            _ => Err(AppError::TooManyRequests(format!(
                "this account already runs {PER_ACCOUNT} searches or exports; try again when one has finished"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_account_gets_two_slots_and_others_are_not_held_up() {
        // A pool that never connects: the slots alone are tested.
        let pool = PgPool::connect_lazy("postgres://nobody@127.0.0.1:1/none").unwrap();
        let heavy = HeavyWork::new(pool);
        let a = UserId::now_v7();
        let _one = heavy.enter(a).await.ok().unwrap();
        let two = heavy.enter(a).await.ok().unwrap();
        let third = heavy.enter_within(a, Duration::from_millis(50)).await;
        assert!(third.is_err(), "a third waits, then 429");
        assert!(
            heavy.enter(UserId::now_v7()).await.is_ok(),
            "another account"
        );
        drop(two);
        assert!(heavy.enter(a).await.is_ok(), "a finished one frees a slot");
    }
}
