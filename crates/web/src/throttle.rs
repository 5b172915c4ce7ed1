//! Login and sign-up throttles.
//!
//! Both are kept in memory, per process: they are consulted before every password check, which
//! must stay cheap while a flood is going on, and a process that restarts forgets them (at worst
//! an attacker gets a fresh allowance after a restart). With several `--role web` processes,
//! each counts on its own, so the allowances below multiply by the number of processes.
//!
//! **Logins** count failures per email and per client address. An attempt is counted *before*
//! its password is checked (a reservation under the same lock that reads the counter), so
//! concurrent guesses cannot all slip past the check: with 10 free failures per email, 100
//! simultaneous wrong passwords get at most 10 password checks and 90 refusals. Past the free
//! failures, each further attempt must wait a delay that doubles with every failure (30 s, 1 min,
//! 2 min, … up to 15 min) and is tried alone; a success clears the email's failures. A stranger
//! guessing someone's password gets about 100 guesses a day. Attempts from a browser that signed
//! in to the account before (it holds the account's device cookie, see `auth`) count in a bucket
//! of their own, which strangers cannot reach: however long a stranger keeps guessing, the owner
//! still signs in from their usual browser, and a new browser waits at most 15 minutes for a try.
//!
//! **Sign-ups** are limited per client address: at most 10 in an hour.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How failures of one kind of key turn into waiting.
#[derive(Debug, Clone, Copy)]
struct Policy {
    /// Failures allowed before any delay.
    free: u32,
    /// The delay after the last free failure; it doubles with each further failure.
    base: Duration,
    /// The longest delay.
    max: Duration,
    /// Failures are forgotten this long after the last one.
    forget: Duration,
}

impl Policy {
    /// The wait after `failures` consecutive failures (zero while some are still free).
    fn delay(&self, failures: u32) -> Duration {
        match failures.checked_sub(self.free) {
            None => Duration::ZERO,
            Some(beyond) => self
                .base
                .saturating_mul(2u32.saturating_pow(beyond.min(16)))
                .min(self.max),
        }
    }
}

/// Per email: 10 free failures, then 30 s doubling up to 15 min; forgotten after a quiet day.
const EMAIL: Policy = Policy {
    free: 10,
    base: Duration::from_secs(30),
    max: Duration::from_secs(15 * 60),
    forget: Duration::from_secs(24 * 60 * 60),
};

/// Per client address (many people may share one): 30 free failures, then the same delays;
/// forgotten after a quiet hour.
const ADDRESS: Policy = Policy {
    free: 30,
    base: Duration::from_secs(30),
    max: Duration::from_secs(15 * 60),
    forget: Duration::from_secs(60 * 60),
};

/// Entries kept before forgotten ones are swept out.
const SWEEP_ABOVE: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    /// Attempts reserved and not finished yet.
    in_flight: u32,
    last: Instant,
}

impl Failures {
    /// How long an attempt must wait now, or `None` when it may go ahead.
    fn wait(&self, policy: &Policy, now: Instant) -> Option<Duration> {
        if self.count + self.in_flight < policy.free {
            return None;
        }
        let until = self.last + policy.delay(self.count);
        if self.in_flight > 0 {
            // Past the free failures, attempts go one at a time.
            return Some(
                until
                    .saturating_duration_since(now)
                    .max(Duration::from_secs(1)),
            );
        }
        (now < until).then(|| until - now)
    }

    fn forgotten(&self, policy: &Policy, now: Instant) -> bool {
        self.in_flight == 0 && now.saturating_duration_since(self.last) >= policy.forget
    }
}

#[derive(Default)]
struct Counters {
    by_key: HashMap<String, Failures>,
}

/// Counts failed logins per email and per client address. Cheap to clone.
#[derive(Clone, Default)]
pub struct LoginLimiter {
    inner: Arc<Mutex<Counters>>,
}

/// A reserved login attempt: call [`LoginAttempt::failed`] or [`LoginAttempt::succeeded`]
/// once the password was checked. Dropped unfinished (the request was abandoned or failed for
/// another reason), it only gives its reservation back.
#[must_use]
pub struct LoginAttempt {
    limiter: LoginLimiter,
    keys: [(String, Policy); 2],
    finished: bool,
}

impl LoginLimiter {
    fn lock(&self) -> MutexGuard<'_, Counters> {
        // A panic while holding the lock cannot leave the counters inconsistent in a way that
        // matters more than losing them, so a poisoned lock is used as is.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn keys(email: &str, ip: &str, known_device: bool) -> [(String, Policy); 2] {
        let bucket = if known_device {
            "known-device"
        } else {
            "email"
        };
        [
            (format!("{bucket}:{}", email.trim().to_lowercase()), EMAIL),
            (format!("ip:{ip}"), ADDRESS),
        ]
    }

    /// Reserves an attempt to log in as `email` from `ip` (from a browser that signed in to this
    /// account before, when `known_device`), or says how long to wait.
    pub fn begin(
        &self,
        email: &str,
        ip: &str,
        known_device: bool,
    ) -> Result<LoginAttempt, Duration> {
        self.begin_at(email, ip, known_device, Instant::now())
    }

    fn begin_at(
        &self,
        email: &str,
        ip: &str,
        known_device: bool,
        now: Instant,
    ) -> Result<LoginAttempt, Duration> {
        let keys = Self::keys(email, ip, known_device);
        let mut counters = self.lock();
        if counters.by_key.len() > SWEEP_ABOVE {
            counters.by_key.retain(|k, f| {
                let policy = if k.starts_with("ip:") { ADDRESS } else { EMAIL };
                !f.forgotten(&policy, now)
            });
        }
        let mut wait = None::<Duration>;
        for (key, policy) in &keys {
            if let Some(f) = counters.by_key.get(key) {
                if f.forgotten(policy, now) {
                    counters.by_key.remove(key);
                } else if let Some(w) = f.wait(policy, now) {
                    wait = Some(wait.map_or(w, |x| x.max(w)));
                }
            }
        }
        if let Some(w) = wait {
            return Err(w);
        }
        for (key, _) in &keys {
            counters
                .by_key
                .entry(key.clone())
                .or_insert(Failures {
                    count: 0,
                    in_flight: 0,
                    last: now,
                })
                .in_flight += 1;
        }
        drop(counters);
        Ok(LoginAttempt {
            limiter: self.clone(),
            keys,
            finished: false,
        })
    }
}

impl LoginAttempt {
    /// The password was wrong (or the email unknown): one more failure for both keys.
    pub fn failed(self) {
        self.finish(Some(Instant::now()), false);
    }

    /// The password was right: the email's failures are cleared (the address's stay).
    pub fn succeeded(self) {
        self.finish(None, true);
    }

    fn finish(mut self, failed_at: Option<Instant>, success: bool) {
        self.release(failed_at, success);
        self.finished = true;
    }

    fn release(&self, failed_at: Option<Instant>, success: bool) {
        let mut counters = self.limiter.lock();
        for (i, (key, _)) in self.keys.iter().enumerate() {
            if success && i == 0 {
                counters.by_key.remove(key);
                continue;
            }
            if let Some(f) = counters.by_key.get_mut(key) {
                f.in_flight = f.in_flight.saturating_sub(1);
                if let Some(at) = failed_at {
                    f.count = f.count.saturating_add(1);
                    f.last = at;
                }
            }
        }
    }
}

impl Drop for LoginAttempt {
    fn drop(&mut self) {
        if !self.finished {
            self.release(None, false);
        }
    }
}

/// Sign-ups per client address: at most [`SIGNUPS_PER_HOUR`] in any hour.
#[derive(Clone, Default)]
pub struct SignupLimiter {
    inner: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

/// Sign-ups allowed per client address in an hour.
pub const SIGNUPS_PER_HOUR: usize = 10;
const SIGNUP_WINDOW: Duration = Duration::from_secs(60 * 60);

impl SignupLimiter {
    /// Counts a sign-up attempt from `ip`, or says how long to wait.
    pub fn attempt(&self, ip: &str) -> Result<(), Duration> {
        self.attempt_at(ip, Instant::now())
    }

    fn attempt_at(&self, ip: &str, now: Instant) -> Result<(), Duration> {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < SIGNUP_WINDOW)
            });
        }
        let times = map.entry(ip.to_string()).or_default();
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= SIGNUP_WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= SIGNUPS_PER_HOUR {
            let oldest = times.front().copied().unwrap_or(now);
            return Err((oldest + SIGNUP_WINDOW).saturating_duration_since(now));
        }
        times.push_back(now);
        Ok(())
    }
}

/// Mails an account can be sent on request (verification resends, password resets; issue 13),
/// per key (the account or the email asked for): one a minute and [`MAILS_PER_HOUR`] an hour.
/// A refused request sends nothing; for password resets the page answers the same either way.
#[derive(Clone, Default)]
pub struct MailThrottle {
    inner: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

/// Mails one key can be sent in an hour.
pub const MAILS_PER_HOUR: usize = 5;
const MAIL_GAP: Duration = Duration::from_secs(60);

impl MailThrottle {
    /// Counts a mail for `key`, or says how long to wait.
    pub fn attempt(&self, key: &str) -> Result<(), Duration> {
        self.attempt_at(key, Instant::now())
    }

    fn attempt_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < SIGNUP_WINDOW)
            });
        }
        let times = map.entry(key.to_string()).or_default();
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= SIGNUP_WINDOW)
        {
            times.pop_front();
        }
        if let Some(last) = times.back() {
            let since = now.saturating_duration_since(*last);
            if since < MAIL_GAP {
                return Err(MAIL_GAP - since);
            }
        }
        if times.len() >= MAILS_PER_HOUR {
            let oldest = times.front().copied().unwrap_or(now);
            return Err((oldest + SIGNUP_WINDOW).saturating_duration_since(now));
        }
        times.push_back(now);
        Ok(())
    }
}

/// "30 seconds", "1 minute", "15 minutes": a wait in words, rounded up.
pub fn wait_in_words(wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    if secs < 60 {
        format!("{secs} second{}", if secs == 1 { "" } else { "s" })
    } else {
        let mins = secs.div_ceil(60);
        format!("{mins} minute{}", if mins == 1 { "" } else { "s" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: &str = "198.51.100.1";

    #[test]
    fn mails_are_one_a_minute_and_five_an_hour() {
        let t = MailThrottle::default();
        let start = Instant::now();
        assert!(t.attempt_at("a", start).is_ok());
        assert!(t.attempt_at("a", start + Duration::from_secs(30)).is_err());
        assert!(t.attempt_at("b", start).is_ok(), "keys count apart");
        for i in 1..5 {
            assert!(t
                .attempt_at("a", start + Duration::from_secs(61 * i))
                .is_ok());
        }
        let wait = t
            .attempt_at("a", start + Duration::from_secs(61 * 6))
            .expect_err("the sixth in an hour waits");
        assert!(wait > Duration::from_secs(60 * 50));
    }

    fn fail(l: &LoginLimiter, email: &str, ip: &str, at: Instant) {
        l.begin_at(email, ip, false, at)
            .expect("allowed")
            .failed_at(at);
    }

    impl LoginAttempt {
        fn failed_at(self, at: Instant) {
            self.finish(Some(at), false);
        }
    }

    #[test]
    fn concurrent_attempts_for_one_email_beyond_the_free_ones_are_refused_before_any_check() {
        let l = LoginLimiter::default();
        let now = Instant::now();
        let attempts: Vec<Result<LoginAttempt, Duration>> = (0..100)
            .map(|i| l.begin_at("victim@example.com", &format!("203.0.113.{i}"), false, now))
            .collect();
        let allowed = attempts.iter().filter(|a| a.is_ok()).count();
        assert_eq!(allowed, 10, "only ten attempts may be checked at once");
    }

    #[test]
    fn past_the_free_failures_the_wait_doubles_up_to_fifteen_minutes_and_then_a_try_is_allowed() {
        let l = LoginLimiter::default();
        let mut t = Instant::now();
        for _ in 0..10 {
            fail(&l, "owner@example.com", IP, t);
        }
        let mut waits = Vec::new();
        for _ in 0..8 {
            let wait = l
                .begin_at("owner@example.com", IP, false, t)
                .err()
                .expect("blocked right after a failure");
            waits.push(wait.as_secs());
            t += wait;
            // After the wait one attempt goes through (and fails again).
            fail(&l, "owner@example.com", IP, t);
        }
        assert_eq!(waits, [30, 60, 120, 240, 480, 900, 900, 900]);
    }

    #[test]
    fn a_stranger_s_guesses_never_lock_the_owner_out_for_more_than_fifteen_minutes() {
        let l = LoginLimiter::default();
        let mut t = Instant::now();
        // A stranger guesses every time it is allowed to, for a day, from many addresses.
        let mut guesses = 0;
        let end = t + Duration::from_secs(24 * 60 * 60);
        while t < end {
            match l.begin_at(
                "owner@example.com",
                &format!("192.0.2.{}", guesses % 200),
                false,
                t,
            ) {
                Ok(a) => {
                    a.failed_at(t);
                    guesses += 1;
                }
                Err(wait) => {
                    assert!(wait <= Duration::from_secs(15 * 60), "waited {wait:?}");
                    t += wait;
                }
            }
        }
        assert!(guesses < 120, "{guesses} guesses in a day");
        // From the browser they signed in with before, the owner is not held up at all.
        l.begin_at("owner@example.com", "203.0.113.50", true, t)
            .expect("a known device has its own bucket")
            .succeeded();
        // From a new browser the owner waits at most 15 minutes, then gets a try.
        let wait = l
            .begin_at("owner@example.com", "203.0.113.50", false, t)
            .err()
            .unwrap_or_default();
        assert!(wait <= Duration::from_secs(15 * 60));
        l.begin_at("owner@example.com", "203.0.113.50", false, t + wait)
            .expect("the owner gets a try")
            .succeeded();
        assert!(l
            .begin_at("owner@example.com", "203.0.113.50", false, t + wait)
            .is_ok());
    }

    #[test]
    fn an_abandoned_attempt_gives_its_reservation_back_without_counting_a_failure() {
        let l = LoginLimiter::default();
        let now = Instant::now();
        for _ in 0..50 {
            drop(
                l.begin_at("a@example.com", IP, false, now)
                    .expect("allowed"),
            );
        }
        for _ in 0..10 {
            fail(&l, "a@example.com", IP, now);
        }
        assert!(l.begin_at("a@example.com", IP, false, now).is_err());
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_day() {
        let l = LoginLimiter::default();
        let now = Instant::now();
        for _ in 0..10 {
            fail(&l, "b@example.com", IP, now);
        }
        assert!(l.begin_at("b@example.com", IP, false, now).is_err());
        let later = now + Duration::from_secs(24 * 60 * 60);
        assert!(l.begin_at("b@example.com", IP, false, later).is_ok());
    }

    #[test]
    fn many_emails_from_one_address_are_limited_by_the_address() {
        let l = LoginLimiter::default();
        let now = Instant::now();
        for i in 0..30 {
            fail(&l, &format!("user{i}@example.com"), IP, now);
        }
        assert!(l.begin_at("fresh@example.com", IP, false, now).is_err());
        assert!(l
            .begin_at("fresh@example.com", "192.0.2.9", false, now)
            .is_ok());
    }

    #[test]
    fn the_eleventh_sign_up_from_one_address_in_an_hour_waits() {
        let l = SignupLimiter::default();
        let now = Instant::now();
        for _ in 0..10 {
            assert!(l.attempt_at(IP, now).is_ok());
        }
        let wait = l.attempt_at(IP, now).expect_err("the 11th is refused");
        assert_eq!(wait, Duration::from_secs(3600));
        assert!(l.attempt_at("192.0.2.1", now).is_ok(), "another address");
        assert!(l.attempt_at(IP, now + Duration::from_secs(3600)).is_ok());
    }

    #[test]
    fn waits_are_said_in_words() {
        assert_eq!(wait_in_words(Duration::from_secs(30)), "30 seconds");
        assert_eq!(wait_in_words(Duration::from_secs(61)), "2 minutes");
        assert_eq!(wait_in_words(Duration::from_secs(60)), "1 minute");
    }
}
