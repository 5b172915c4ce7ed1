//! Hookvault's Postgres store: the pool, the migrations, the embedded cluster and every SQL
//! query. Query functions take `impl PgExecutor<'_>` so the caller picks a pool or a transaction,
//! and every query on user data is scoped by its owner.

pub mod accounts;
pub mod audits;
pub mod billing;
pub mod cli;
pub mod embedded;
pub mod endpoints;
pub mod export;
pub mod feed;
pub mod notify;
pub mod plans;
pub mod rechecks;
mod redact;
pub mod related;
pub mod replays;
pub mod requests;
pub mod search;
pub mod search_index;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tokens;
pub mod users;

use std::time::Duration;

pub use sqlx::postgres::{PgConnectOptions, PgPool};
pub use sqlx::{Error as SqlxError, PgExecutor};
/// A connection taken from a [`PgPool`] (returned to it when dropped).
pub type PooledConnection = sqlx::pool::PoolConnection<sqlx::Postgres>;
/// A transaction begun on a [`PgPool`].
pub type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Errors the store reports to its callers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint said no (the constraint name tells which).
    #[error("already exists ({0})")]
    Conflict(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// True when the database could not be reached at all (pool timeout, connection refused):
    /// callers answer 503 and let the pool reconnect by itself.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(e) => is_unavailable(e),
            StoreError::Conflict(_) => false,
        }
    }
}

/// True for errors that mean "the database is down or unreachable", as opposed to a bad query.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
    ) || matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")))
}

/// Maps a unique-violation into [`StoreError::Conflict`] with the constraint name.
pub(crate) fn conflict(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.code().as_deref() == Some("23505") {
            return StoreError::Conflict(db.constraint().unwrap_or("unique").to_string());
        }
    }
    StoreError::Database(e)
}

/// How long the database may work on one request of a pool's users: every wait has a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Acquiring a connection waits at most this long, so a database outage turns into a quick
    /// 503 instead of a hung request (the pool reconnects on its own).
    pub acquire: Duration,
    /// `statement_timeout` of every connection: the server cancels a statement that runs longer.
    /// A transaction may raise it for itself (`SET LOCAL`), as exports do.
    pub statement: Duration,
}

impl Deadlines {
    /// The capture path: a capture answers 503 within seconds whatever the database does.
    pub const CAPTURE: Deadlines = Deadlines {
        acquire: Duration::from_secs(2),
        statement: Duration::from_secs(5),
    };
    /// Pages, the API, streams and replay workers.
    pub const WEB: Deadlines = Deadlines {
        acquire: Duration::from_secs(3),
        statement: Duration::from_secs(15),
    };
}

/// Opens a pool whose connections carry `deadlines.statement` as their `statement_timeout` (and
/// end a transaction left idle for a minute, and never JIT-compile), and whose acquisitions
/// wait at most `deadlines.acquire`.
pub async fn connect(
    options: PgConnectOptions,
    max_connections: u32,
    deadlines: Deadlines,
) -> Result<PgPool, sqlx::Error> {
    // JIT off: every statement here is short, and compiling one costs tens of milliseconds
    // whenever its plan's estimate passes `jit_above_cost` — the replay claim's generic plan
    // did, spending 46 ms compiling for 5 ms of work on every claim.
    let options = options.options([("jit", "off")]);
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(deadlines.acquire)
        .connect_with(with_timeouts(options, deadlines))
        .await
}

/// `options` with `deadlines.statement` as `statement_timeout`, and a transaction left idle for
/// a minute ended.
fn with_timeouts(options: PgConnectOptions, deadlines: Deadlines) -> PgConnectOptions {
    let statement_ms = deadlines.statement.as_millis().to_string();
    options.options([
        ("statement_timeout", statement_ms.as_str()),
        ("idle_in_transaction_session_timeout", "60000"),
    ])
}

/// The niceness of [`connect_background`]'s database processes: the lowest CPU priority.
pub const BACKGROUND_NICENESS: i32 = 19;

/// The `application_name` of [`connect_background`]'s connections (seen in
/// `pg_stat_activity`).
pub const BACKGROUND_APPLICATION: &str = "hookvault background";

/// Like [`connect`], for work that may wait: the search indexer, searches and exports. With
/// `lower_priority` (only when PostgreSQL runs on this machine and its processes can be seen,
/// i.e. the embedded cluster), each connection's server process is set to the lowest CPU
/// priority ([`BACKGROUND_NICENESS`]) as it connects, so that on a busy machine the scheduler
/// prefers the database's other processes (capture writers, pages) over it, and still gives it
/// every idle cycle. (Between processes of different sessions — the database and the
/// application — Linux's autogroups share the CPU per session first; niceness orders the
/// database's own processes.) A process that cannot be re-prioritised is logged and used as it
/// is.
pub async fn connect_background(
    options: PgConnectOptions,
    max_connections: u32,
    deadlines: Deadlines,
    lower_priority: bool,
) -> Result<PgPool, sqlx::Error> {
    let options = with_timeouts(options.application_name(BACKGROUND_APPLICATION), deadlines);
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(deadlines.acquire)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if lower_priority {
                    let pid = sqlx::query_scalar!(r#"SELECT pg_backend_pid() AS "pid!""#)
                        .fetch_one(&mut *conn)
                        .await?;
                    if let Err(e) = lower_cpu_priority(pid) {
                        tracing::warn!(pid, error = %e, "could not lower a background database process's CPU priority");
                    }
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
}

/// Sets process `pid` to [`BACKGROUND_NICENESS`] (allowed for a process of our own user, or
/// any as root).
fn lower_cpu_priority(pid: i32) -> std::io::Result<()> {
    let pid = rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| std::io::Error::other("not a process id"))?;
    rustix::process::setpriority_process(Some(pid), BACKGROUND_NICENESS)?;
    Ok(())
}

/// Applies pending migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// True when a trivial query succeeds within a second (for `/readyz`).
pub async fn ping(pool: &PgPool) -> bool {
    let query = sqlx::query_scalar!("SELECT 1 AS \"one!\"").fetch_one(pool);
    matches!(
        tokio::time::timeout(Duration::from_secs(1), query).await,
        Ok(Ok(_))
    )
}
