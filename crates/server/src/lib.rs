//! Wiring of the `hookvault` server: configuration, the database (external or embedded), the
//! services of each role, the notification listener, and graceful shutdown. Tests start the
//! real server through [`Server::start`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hookvault_capture::body::BodyBudget;
use hookvault_capture::listener::ConnectionLimits;
use hookvault_capture::quota::Quota;
use hookvault_capture::routes::RouteCache;
use hookvault_capture::writer::Writer;
use hookvault_capture::{CaptureConfig, CaptureState};
use hookvault_core::secretbox::SecretKey;
use hookvault_replay::guard::{GuardedClient, PrivateTargets};
use hookvault_replay::limit::DestinationLimits;
use hookvault_replay::worker::{ReplayWorkers, WorkerContext, RESPONSE_EXCERPT_BYTES};
use hookvault_store::embedded::EmbeddedCluster;
use hookvault_store::notify::Notice;
use hookvault_store::{Deadlines, PgConnectOptions, PgPool};
use hookvault_web::{AppState, Hub, WebConfig};
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

pub mod billing;
mod hosting;
mod indexer;
mod metrics;
pub mod plans;
pub use hosting::{origins, private_targets_policy, url_host_is_loopback, Origins};

/// Which services a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    All,
    Capture,
    Web,
    Worker,
}

/// Where the database is.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per process; boxing would only complicate every caller"
)]
pub enum Database {
    /// An existing server.
    External(PgConnectOptions),
    /// The private cluster in this data directory.
    Embedded(PathBuf),
}

/// Everything `hookvault serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    /// Base of capture URLs (`{capture_url}/in/{token}`); `None` = the public URL. On another
    /// host than the public URL, requests are routed by `Host` (see [`hosting::origins`]).
    pub capture_url: Option<String>,
    /// Accept capture URLs on the dashboard's host although the public URL is https.
    pub shared_capture_origin: bool,
    pub data_dir: PathBuf,
    pub database: Database,
    pub role: Role,
    pub max_body_bytes: usize,
    pub trusted_proxies: Vec<IpNet>,
    pub secret_key: Option<SecretKey>,
    pub writer_tasks: usize,
    /// Connections of the main pool (dashboard, API, replay workers).
    pub max_connections: u32,
    /// Connections of the capture path's own pool.
    pub capture_db_connections: u32,
    /// A capture body must be complete this long after its head.
    pub body_deadline: Duration,
    /// Bytes of capture bodies buffered at once.
    pub body_budget_bytes: usize,
    /// Open HTTP connections, in all and per client address (trusted proxies are exempt).
    pub connection_limits: ConnectionLimits,
    /// Open event streams per account, per process.
    pub max_streams_per_account: usize,
    /// Whether replays may go to loopback and private addresses; `None`: only when the public
    /// URL's host is loopback (see [`private_targets_policy`]).
    pub private_targets: Option<PrivateTargets>,
    /// Total time limit of one replay send.
    pub replay_timeout: Duration,
    /// Replay worker tasks in roles `all` and `worker`.
    pub replay_workers: usize,
    /// Most replay sends in flight to one destination (per process).
    pub replay_host_concurrency: usize,
    /// Most replays of one account in flight at once (over all processes).
    pub replay_account_concurrency: usize,
    /// Each account's share of the time of searches and exports.
    pub search_share: hookvault_web::HeavyShare,
    /// Most replay sends started per second to one destination host (per process;
    /// `None` = no limit).
    pub replay_host_rate: Option<u32>,
    /// Most captures per endpoint per minute in this process (`None` = unlimited).
    pub capture_quota_per_minute: Option<u32>,
    /// Accounts (issue 13): SMTP, the sender address, whether captures need a verified email.
    pub accounts: hookvault_web::AccountsConfig,
    /// Plans from the operator's plans file, written to the database at start.
    pub plans: std::collections::BTreeMap<String, plans::PlanLimits>,
    /// Count captures against the accounts' monthly plan quotas (on unless turned off).
    pub plan_quotas: bool,
    /// Where to serve Prometheus `/metrics`; `None` serves none.
    pub metrics_listen: Option<SocketAddr>,
    /// Stripe billing (issue 13); `None`: billing is off (`hookvault admin set-plan` only).
    pub billing: Option<hookvault_web::BillingConfig>,
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub public_url: String,
    /// Base of capture URLs, without a trailing slash.
    pub capture_url: String,
    pub pool: PgPool,
    /// Where `/metrics` is served (`--metrics-listen`), if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    workers: Option<ReplayWorkers>,
    cluster: Option<Arc<EmbeddedCluster>>,
    supervisor: Option<JoinHandle<()>>,
}

impl Server {
    /// Connects (or starts the embedded cluster), migrates, binds and starts serving.
    pub async fn start(config: ServeConfig) -> anyhow::Result<Server> {
        // Refuse a shared https origin before starting anything (the port may still be 0).
        origins(
            config
                .public_url
                .as_deref()
                .unwrap_or(&format!("http://{}", config.listen)),
            config.capture_url.as_deref(),
            config.shared_capture_origin,
        )?;
        let (options, cluster) = match &config.database {
            Database::External(o) => (o.clone(), None),
            Database::Embedded(dir) => {
                let cluster = EmbeddedCluster::start(dir).await?;
                tracing::info!(data_dir = %dir.display(), "embedded PostgreSQL cluster running");
                (cluster.connect_options(), Some(cluster))
            }
        };
        let cluster = cluster.map(Arc::new);
        let supervisor = cluster.clone().map(|c| tokio::spawn(supervise(c)));
        let pool =
            hookvault_store::connect(options.clone(), config.max_connections, Deadlines::WEB)
                .await
                .context("connecting to PostgreSQL")?;
        hookvault_store::migrate(&pool)
            .await
            .context("applying migrations")?;
        // Searches, exports and the search indexer have connections of their own; with the
        // embedded cluster (whose processes are ours) they run at the lowest CPU priority, so
        // the scheduler prefers the database's other processes (the capture writers) over them.
        let lowered = cluster.is_some();
        let background = hookvault_store::connect_background(
            options.clone(),
            BACKGROUND_CONNECTIONS,
            Deadlines::WEB,
            lowered,
        )
        .await
        .context("connecting the background pool to PostgreSQL")?;
        plans::apply_plans(&pool, &config.plans)
            .await
            .context("applying the plans file")?;
        let sessions = hookvault_web::session_store(&pool)
            .await
            .context("preparing the session table")?;

        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        let Origins {
            public_url,
            capture_url,
            capture_host,
        } = origins(
            config
                .public_url
                .as_deref()
                .unwrap_or(&format!("http://{addr}")),
            config.capture_url.as_deref(),
            config.shared_capture_origin,
        )?;
        let secret_key = match &config.secret_key {
            Some(k) => k.clone(),
            None => load_or_create_key(&config.data_dir)?,
        };

        let private_targets = private_targets_policy(config.private_targets, &public_url);

        let hub = Hub::default();
        let routes = RouteCache::default();
        let replay_wake = Arc::new(Notify::new());
        // As many idle connections per host as sends may be in flight to it, so a busy
        // destination's connections are all reused (keep-alive) rather than reopened.
        let replay_client = GuardedClient::with_idle_per_host(
            private_targets,
            config.replay_timeout,
            RESPONSE_EXCERPT_BYTES,
            config.replay_host_concurrency,
        );
        let mut capture_app = None;
        if matches!(config.role, Role::All | Role::Capture) {
            // The capture path's own connections: no dashboard or API load can take them. Each
            // writer task keeps one; route lookups need at least two more.
            let writers = u32::try_from(config.writer_tasks).unwrap_or(u32::MAX);
            let capture_pool = hookvault_store::connect(
                options.clone(),
                config.capture_db_connections.max(writers.saturating_add(2)),
                Deadlines::CAPTURE,
            )
            .await
            .context("connecting the capture pool to PostgreSQL")?;
            let capture = CaptureState {
                pool: capture_pool.clone(),
                writer: Writer::spawn(capture_pool, config.writer_tasks, config.plan_quotas),
                routes: routes.clone(),
                config: Arc::new(CaptureConfig {
                    max_body_bytes: config.max_body_bytes,
                    trusted_proxies: config.trusted_proxies.clone(),
                    body_deadline: config.body_deadline,
                    require_verified_email: config.accounts.require_verified_email,
                }),
                budget: BodyBudget::new(config.body_budget_bytes),
                secret_key: secret_key.clone(),
                quota: Arc::new(Quota::new(config.capture_quota_per_minute)),
            };
            capture_app = Some(hookvault_capture::router(capture));
        }
        let mut web_app = None;
        let mut billing_worker = None;
        if matches!(config.role, Role::All | Role::Web) {
            let state = AppState::new(
                pool.clone(),
                WebConfig {
                    public_url: public_url.clone(),
                    max_streams_per_account: config.max_streams_per_account,
                    capture_url: capture_url.clone(),
                    trusted_proxies: config.trusted_proxies.clone(),
                },
                secret_key.clone(),
                hub.clone(),
                replay_client.clone(),
                replay_wake.clone(),
            );
            // Accounts (issue 13): the mailer; said once here when mails go to the log.
            let mailer = hookvault_web::Mailer::new(&config.accounts)?;
            let state = state.with_accounts(config.accounts.clone(), mailer);
            // Billing (issue 13): the Stripe client, and the worker that applies the billing
            // webhook's events (one per process with the dashboard; they share the queue).
            let billing = config
                .billing
                .clone()
                .map(hookvault_web::Billing::new)
                .transpose()?;
            let state = state
                .with_billing(billing)
                .with_heavy(background.clone(), config.search_share);
            if state.billing.is_some() {
                billing_worker = Some(tokio::spawn(hookvault_web::run_billing_worker(
                    state.clone(),
                )));
            }
            tokio::spawn(hookvault_web::resume_deletions(state.clone()));
            tokio::spawn(hookvault_web::resume_rechecks(state.clone()));
            web_app = Some(hookvault_web::router(state, sessions.clone()));
        }
        let app = match (capture_app, web_app) {
            // A capture host of its own: it serves only /in/… and health checks, the
            // dashboard's host serves no /in/….
            (Some(capture), Some(web)) => match &capture_host {
                Some(host) => hosting::route_by_host(
                    host.clone(),
                    hosting::capture_only(capture, pool.clone()),
                    web,
                ),
                None => capture.merge(web),
            },
            (Some(capture), None) => hosting::capture_only(capture, pool.clone()),
            (None, Some(web)) => web,
            (None, None) => Router::new(),
        };
        let workers = matches!(config.role, Role::All | Role::Worker).then(|| {
            ReplayWorkers::spawn(
                WorkerContext {
                    pool: pool.clone(),
                    client: replay_client.clone(),
                    secret_key: secret_key.clone(),
                    wake: replay_wake.clone(),
                    send_timeout: config.replay_timeout,
                    limits: Arc::new(DestinationLimits::new(
                        config.replay_host_concurrency,
                        config.replay_host_rate,
                    )),
                    per_account: config.replay_account_concurrency,
                },
                config.replay_workers,
            )
        });
        tokio::spawn(listen_for_notifications(
            pool.clone(),
            hub,
            routes,
            replay_wake,
        ));
        let pruner = tokio::spawn(plans::retention_loop(pool.clone()));
        let search_indexer = matches!(config.role, Role::All | Role::Worker)
            .then(|| tokio::spawn(indexer::search_index_loop(background.clone())));
        let sweeper = tokio::spawn(async move {
            use tower_sessions::ExpiredDeletion;
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                every.tick().await;
                if let Err(e) = sessions.delete_expired().await {
                    tracing::warn!(error = %e, "deleting expired sessions");
                }
            }
        });

        let mut limits = config.connection_limits.clone();
        limits.exempt.extend(config.trusted_proxies.iter().copied());
        let (shutdown, mut rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let signal = async move {
                let _ = rx.wait_for(|stop| *stop).await;
            };
            hookvault_capture::listener::serve(
                listener,
                app,
                limits,
                signal,
                Duration::from_secs(30),
            )
            .await;
            sweeper.abort();
            pruner.abort();
            if let Some(indexer) = search_indexer {
                indexer.abort();
            }
            if let Some(worker) = billing_worker {
                worker.abort();
            }
        });
        let metrics_addr = match config.metrics_listen {
            Some(at) => Some(metrics::serve(at, shutdown.subscribe()).await?),
            None => None,
        };
        tracing::info!(%addr, %public_url, %capture_url, %private_targets, "hookvault serving");
        Ok(Server {
            addr,
            metrics_addr,
            public_url,
            capture_url,
            pool,
            shutdown,
            task,
            workers,
            cluster,
            supervisor,
        })
    }

    /// Stops accepting, finishes requests in flight, stops the replay workers (sends in flight
    /// finish and are recorded), closes the pool and stops the embedded cluster.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let stop_workers = async {
            if let Some(workers) = self.workers {
                workers.shutdown().await;
            }
        };
        let (_, ()) = tokio::join!(self.task, stop_workers);
        self.pool.close().await;
        if let Some(supervisor) = self.supervisor {
            supervisor.abort();
            let _ = supervisor.await;
        }
        if let Some(cluster) = self.cluster {
            if let Err(e) = tokio::task::spawn_blocking(move || cluster.stop()).await {
                tracing::warn!(error = %e, "stopping the embedded cluster");
            }
        }
    }
}

/// What this process does with what it hears (`hookvault_store::notify`): new captures and
/// CLI hand-offs go to the live hub, route changes drop cache entries, queued replays wake this
/// process's replay workers. After a reconnect the route cache is cleared, since announcements
/// may have been missed meanwhile (followers re-read the store; missed replay announcements only
/// cost the workers' 1 s poll).
async fn listen_for_notifications(
    pool: PgPool,
    hub: Hub,
    routes: RouteCache,
    replay_wake: Arc<Notify>,
) {
    hookvault_store::notify::listen(pool, move |notice| {
        match &notice {
            Notice::RouteChanged { token } => routes.invalidate(token),
            Notice::ReplayQueued => replay_wake.notify_waiters(),
            Notice::Resync => routes.clear(),
            Notice::Captures { .. } | Notice::CliReplay { .. } => {}
        }
        hub.publish(notice);
    })
    .await;
}

/// Keeps the embedded cluster running: when its PostgreSQL is gone (killed, crashed), starts it
/// again (it recovers every committed transaction from its WAL), with backoff while that fails.
/// The pools reconnect by themselves, so captures recover without a restart.
async fn supervise(cluster: Arc<EmbeddedCluster>) {
    let mut wait = SUPERVISE_EVERY;
    loop {
        tokio::time::sleep(wait).await;
        let c = cluster.clone();
        match tokio::task::spawn_blocking(move || c.ensure_running()).await {
            Ok(Ok(false)) => wait = SUPERVISE_EVERY,
            Ok(Ok(true)) => {
                tracing::warn!("the embedded PostgreSQL cluster was down and has been restarted");
                wait = SUPERVISE_EVERY;
            }
            Ok(Err(e)) => {
                wait = (wait * 2).min(Duration::from_secs(30));
                tracing::error!(error = %e, retry_in_s = wait.as_secs(), "restarting the embedded PostgreSQL cluster failed");
            }
            Err(e) => tracing::error!(error = %e, "embedded cluster supervisor task failed"),
        }
    }
}

/// Connections of the background pool: searches and exports of every account together (each
/// account may run two at once, see `hookvault_web`'s heavy work), plus the search indexer.
const BACKGROUND_CONNECTIONS: u32 = 5;

/// How often the supervisor checks that the embedded cluster runs.
const SUPERVISE_EVERY: Duration = Duration::from_secs(1);

/// The server key that seals users' signing secrets: `data_dir/secret.key`, created (mode 0600)
/// on first start.
fn load_or_create_key(data_dir: &std::path::Path) -> anyhow::Result<SecretKey> {
    let path = data_dir.join("secret.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return SecretKey::parse(text.trim())
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let key = SecretKey::generate();
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(key.to_base64().as_bytes())?;
    Ok(key)
}
