//! Hookvault's Postgres store: the pool, the migrations, the embedded cluster and every SQL
//! query. Query functions take `impl PgExecutor<'_>` so the caller picks a pool or a transaction,
//! and every query on user data is scoped by its owner.

pub mod audits;
pub mod cli;
pub mod embedded;
pub mod endpoints;
pub mod export;
pub mod feed;
pub mod notify;
pub mod related;
pub mod replays;
pub mod requests;
pub mod search;
pub mod tokens;
pub mod users;

use std::time::Duration;

pub use sqlx::postgres::{PgConnectOptions, PgPool};
pub use sqlx::{Error as SqlxError, PgExecutor};
/// A connection taken from a [`PgPool`] (returned to it when dropped).
pub type PooledConnection = sqlx::pool::PoolConnection<sqlx::Postgres>;

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

/// Opens a pool. Acquiring a connection waits at most `acquire_timeout`, so a database outage
/// turns into a quick 503 instead of a hung request; the pool reconnects on its own.
pub async fn connect(
    options: PgConnectOptions,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<PgPool, sqlx::Error> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await
}

/// Applies pending migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// True when a trivial query succeeds (for `/readyz`).
pub async fn ping(pool: &PgPool) -> bool {
    sqlx::query_scalar!("SELECT 1 AS \"one!\"")
        .fetch_one(pool)
        .await
        .is_ok()
}
