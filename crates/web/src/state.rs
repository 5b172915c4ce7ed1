//! Shared state of the web routes.

use std::sync::Arc;

use hookvault_core::secretbox::SecretKey;
use hookvault_replay::guard::GuardedClient;
use hookvault_store::PgPool;
use tokio::sync::{Notify, Semaphore};

use crate::heavy::{HeavyShare, HeavyWork};
use crate::live::{Hub, StreamCounts};
use crate::mail::{AccountsConfig, Mailer};
use crate::throttle::{LoginLimiter, SignupLimiter};

/// Web settings.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Base URL users reach the dashboard at, without a trailing slash.
    pub public_url: String,
    /// Most open event streams (live lists, `hookvault listen`) per account in this process.
    pub max_streams_per_account: usize,
    /// Base of capture URLs, without a trailing slash: the public URL, or the capture origin
    /// (`--capture-url`) when capture has a host of its own.
    pub capture_url: String,
    /// Proxies whose `X-Forwarded-For` is believed when telling who a client is.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<WebConfig>,
    pub secret_key: SecretKey,
    pub hub: Hub,
    /// The guarded outbound client; the API uses it to check replay targets before queueing.
    pub replay_client: GuardedClient,
    /// Wakes this process's replay workers when replays are queued.
    pub replay_wake: Arc<Notify>,
    pub(crate) limiter: LoginLimiter,
    /// Open event streams per account.
    pub(crate) streams: StreamCounts,
    /// Searches and exports running per account.
    pub(crate) heavy: HeavyWork,
    pub(crate) signups: SignupLimiter,
    /// The session store, for re-checking a running stream's session (set by `crate::router`).
    pub(crate) sessions: Option<tower_sessions_sqlx_store::PostgresStore>,
    /// Bounds concurrent password hashing (each costs ~19 MiB and tens of ms of CPU).
    pub(crate) hashing: Arc<Semaphore>,
    /// Accounts (issue 13): mail settings and whether captures wait for a verified email.
    pub accounts: Arc<AccountsConfig>,
    pub mailer: Mailer,
    /// Resends of verification mails and password-reset requests (issue 13).
    pub(crate) mail_throttle: crate::throttle::MailThrottle,
    /// Stripe billing (issue 13); `None`: billing is off.
    pub billing: Option<crate::billing::Billing>,
}

impl AppState {
    pub fn new(
        pool: PgPool,
        config: WebConfig,
        secret_key: SecretKey,
        hub: Hub,
        replay_client: GuardedClient,
        replay_wake: Arc<Notify>,
    ) -> Self {
        Self {
            pool: pool.clone(),
            config: Arc::new(config),
            secret_key,
            hub,
            replay_client,
            replay_wake,
            limiter: LoginLimiter::default(),
            streams: StreamCounts::default(),
            heavy: HeavyWork::new(pool.clone(), HeavyShare::default()),
            signups: SignupLimiter::default(),
            sessions: None,
            hashing: Arc::new(Semaphore::new(2)),
            accounts: Arc::new(AccountsConfig::default()),
            mailer: Mailer::log_only(),
            mail_throttle: Default::default(),
            billing: None,
        }
    }

    /// Sets the account settings and the mailer (issue 13); without it mails go to the log.
    pub fn with_accounts(mut self, accounts: AccountsConfig, mailer: Mailer) -> Self {
        self.accounts = Arc::new(accounts);
        self.mailer = mailer;
        self
    }

    /// Runs searches and exports on `pool` (by default they share the main pool), each account
    /// with `share` of their time.
    pub fn with_heavy(mut self, pool: PgPool, share: HeavyShare) -> Self {
        self.heavy = HeavyWork::new(pool, share);
        self
    }

    /// Turns billing on (issue 13).
    pub fn with_billing(mut self, billing: Option<crate::billing::Billing>) -> Self {
        self.billing = billing;
        self
    }

    /// The capture URL for a token, on the capture origin: every page, API answer and curl
    /// example shows this one.
    pub fn capture_url(&self, token: &str) -> String {
        format!("{}/in/{token}", self.config.capture_url)
    }
}
