//! Heavy work per account: free-text and JSON-path searches scan an endpoint's bodies, exports
//! read all of them. Each account may run only a few at once in this process, so one account's
//! searches cannot take the database connections and cores everyone shares; a request that
//! finds no free slot within a few seconds gets 429 with the reason.
//!
//! Each account also has a **share of time**: every slot's time is charged to the account, whose
//! allowance refills at [`HeavyShare::per_second`] seconds per second up to
//! [`HeavyShare::burst`]; a request of an account
//! that used it up waits for it to refill (at most as long as for a slot), then gets 429 with
//! how long to wait. So a client that searches in a tight
//! loop gets about a tenth of one connection's time, however cheap or dear each search is,
//! and the rest of the machine stays with everyone else.
//!
//! A slot carries the pool heavy work runs on: the server gives it connections of their own
//! (so heavy work never takes the dashboard's), which, with the embedded cluster, run at the
//! lowest CPU priority (`hookvault_store::connect_background`), so the scheduler prefers the
//! database's other processes (the capture writers) over them, whoever asked for the work.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hookvault_core::ids::UserId;
use hookvault_store::PgPool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::AppError;

/// Searches and exports at once per account (per process).
pub const PER_ACCOUNT: usize = 2;
/// How long a request waits for one of its account's slots.
const WAIT: Duration = Duration::from_secs(5);

/// Each account's share of heavy work's time (`hookvault serve --search-share`, `--search-burst-secs`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeavyShare {
    /// Seconds of heavy work an account earns per second.
    pub per_second: f64,
    /// The most an account can save up (and the most it can owe: one long export does not lock
    /// its searches out for longer than `burst / per_second`).
    pub burst: Duration,
}

impl Default for HeavyShare {
    /// A tenth of a second per second, up to 5 s saved.
    fn default() -> Self {
        Self {
            per_second: 0.1,
            burst: Duration::from_secs(5),
        }
    }
}

/// The allowance, in seconds, a request waits for when its account is over its share: enough
/// for a typical search to start.
const TO_START: f64 = 0.01;

/// One account's slots and time allowance.
struct Account {
    slots: Arc<Semaphore>,
    allowance: Mutex<Allowance>,
}

/// Seconds of heavy work the account may still start with (negative: owed), as of `at`.
struct Allowance {
    share: HeavyShare,
    seconds: f64,
    at: Instant,
}

impl Allowance {
    fn refilled(&mut self, now: Instant) -> f64 {
        let earned = now.saturating_duration_since(self.at).as_secs_f64() * self.share.per_second;
        self.seconds = (self.seconds + earned).min(self.share.burst.as_secs_f64());
        self.at = now;
        self.seconds
    }

    fn full(&self) -> bool {
        self.seconds >= self.share.burst.as_secs_f64()
    }
}

/// The slots of every account, and the pool heavy work runs on. Cheap to clone.
#[derive(Clone)]
pub struct HeavyWork {
    accounts: Arc<Mutex<HashMap<UserId, Arc<Account>>>>,
    pool: PgPool,
    share: HeavyShare,
}

/// A slot, held while the work runs; its time is charged to the account when it ends.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    pool: PgPool,
    account: Arc<Account>,
    started: Instant,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut a = self
            .account
            .allowance
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        a.refilled(now);
        let spent = now.duration_since(self.started).as_secs_f64();
        a.seconds = (a.seconds - spent).max(-a.share.burst.as_secs_f64());
    }
}

impl Slot {
    /// The connections to do the work on.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl HeavyWork {
    /// Heavy work on `pool`, each account with `share` of its time.
    pub fn new(pool: PgPool, share: HeavyShare) -> Self {
        Self {
            accounts: Arc::default(),
            pool,
            share,
        }
    }

    /// Waits for one of `user_id`'s slots.
    pub async fn enter(&self, user_id: UserId) -> Result<Slot, AppError> {
        self.enter_within(user_id, WAIT).await
    }

    async fn enter_within(&self, user_id: UserId, wait: Duration) -> Result<Slot, AppError> {
        let account = {
            let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
            // Forget accounts with nothing running and a full allowance.
            if accounts.len() > 1024 {
                let now = Instant::now();
                accounts.retain(|_, a| {
                    let mut allowance = a.allowance.lock().unwrap_or_else(PoisonError::into_inner);
                    allowance.refilled(now);
                    Arc::strong_count(a) > 1 || !allowance.full()
                });
            }
            accounts
                .entry(user_id)
                .or_insert_with(|| {
                    Arc::new(Account {
                        slots: Arc::new(Semaphore::new(PER_ACCOUNT)),
                        allowance: Mutex::new(Allowance {
                            share: self.share,
                            seconds: self.share.burst.as_secs_f64(),
                            at: Instant::now(),
                        }),
                    })
                })
                .clone()
        };
        // Over its share, a request waits for its account's allowance (as for a slot), so a
        // client that retries at once is slowed down instead of being answered in a loop.
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = account
                .allowance
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .refilled(Instant::now());
            if left > 0.0 {
                break;
            }
            let need = Duration::from_secs_f64((TO_START - left) / self.share.per_second);
            if tokio::time::Instant::now() + need > deadline {
                tokio::time::sleep_until(deadline).await;
                let secs = need.saturating_sub(wait).as_secs_f64().ceil().max(1.0);
                return Err(AppError::TryLater(
                    format!(
                        "this account's searches and exports have used their share of the server for now; try again in {secs:.0} s"
                    ),
                    secs as u64,
                ));
            }
            tokio::time::sleep(need).await;
        }
        let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(wait, account.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Slot {
                _permit: permit,
                pool: self.pool.clone(),
                account,
                started: Instant::now(),
            }),
            _ => Err(AppError::TryLater(
                format!(
                    "this account already runs {PER_ACCOUNT} searches or exports; try again when one has finished"
                ),
                1,
            )),
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
        let heavy = HeavyWork::new(pool, HeavyShare::default());
        let a = UserId::now_v7();
        let _one = heavy.enter(a).await.ok().unwrap();
        let two = heavy.enter(a).await.ok().unwrap();
        let third = heavy.enter_within(a, Duration::from_millis(50)).await;
        let third = third.err().expect("a third waits, then 429");
        let answer = axum::response::IntoResponse::into_response(third);
        assert_eq!(answer.status(), 429);
        assert_eq!(answer.headers()["retry-after"], "1");
        assert!(
            heavy.enter(UserId::now_v7()).await.is_ok(),
            "another account"
        );
        drop(two);
        assert!(heavy.enter(a).await.is_ok(), "a finished one frees a slot");
    }

    #[tokio::test]
    async fn an_account_that_used_its_share_of_time_gets_429_until_it_refills() {
        let pool = PgPool::connect_lazy("postgres://nobody@127.0.0.1:1/none").unwrap();
        let share = HeavyShare::default();
        let heavy = HeavyWork::new(pool, share);
        let a = UserId::now_v7();
        let slot = heavy.enter(a).await.ok().unwrap();
        // Ten seconds of work done (the slot started long ago).
        let mut slot = slot;
        slot.started = Instant::now() - share.burst - Duration::from_secs(1);
        drop(slot);
        let refused = heavy
            .enter_within(a, Duration::from_millis(50))
            .await
            .err()
            .expect("over its share");
        let text = refused.to_string();
        assert!(text.contains("used their share"), "{text}");
        assert!(text.contains("try again in"), "{text}");
        let answer = axum::response::IntoResponse::into_response(crate::error::ApiError(refused));
        assert_eq!(answer.status(), 429);
        let after: u64 = answer.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            text.contains(&format!("try again in {after} s")),
            "{text} / {after}"
        );
        assert!(
            heavy.enter(UserId::now_v7()).await.is_ok(),
            "another account is not held up"
        );
        // It owes at most the burst: after burst / per_second it may search again.
        let account = heavy.accounts.lock().unwrap()[&a].clone();
        account.allowance.lock().unwrap().at -=
            Duration::from_secs_f64(share.burst.as_secs_f64() / share.per_second);
        assert!(heavy.enter(a).await.is_ok(), "refilled");
    }
}
