//! Heavy work per account: free-text and JSON-path searches scan an endpoint's bodies, exports
//! read all of them. Each account may run only a few at once in this process, so one account's
//! searches cannot take the database connections and cores everyone shares; a request that
//! finds no free slot within a few seconds gets 429 with the reason.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hookvault_core::ids::UserId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::AppError;

/// Searches and exports at once per account (per process).
pub const PER_ACCOUNT: usize = 2;
/// How long a request waits for one of its account's slots.
const WAIT: Duration = Duration::from_secs(5);

/// The slots of every account. Cheap to clone.
#[derive(Clone, Default)]
pub struct HeavyWork {
    accounts: Arc<Mutex<HashMap<UserId, Arc<Semaphore>>>>,
}

/// A slot, held while the work runs.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl HeavyWork {
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
            Ok(Ok(permit)) => Ok(Slot { _permit: permit }),
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
        let heavy = HeavyWork::default();
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
