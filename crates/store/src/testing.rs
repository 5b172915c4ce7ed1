//! Throwaway databases for tests (feature `testing`, turned on by the store's, the capture
//! crate's and the server's tests only): the test database server, and one fresh database per
//! test that is dropped when the test lets go of it; and a plain capture to store.
//!
//! The database server is `DATABASE_URL` when set; otherwise the embedded cluster in
//! `$TMPDIR/hookvault-test-cluster`, started once per test binary (and left running for the
//! next one; the README's test command stops it at the end).

use std::sync::OnceLock;

use sqlx::{ConnectOptions, Connection};

use crate::embedded::EmbeddedCluster;
use crate::PgConnectOptions;

/// Every test database's name starts with this.
const PREFIX: &str = "hv_test_";

/// A database left behind by a run that was killed (and so never dropped its own) is dropped
/// by a later run once it is this old (seconds): the cluster may be shared by runs going on at
/// the same time, whose databases are younger.
const LEFTOVER_AGE_SECS: i64 = 3600;

/// Connection options for the database server the tests use (its `postgres` database).
pub fn server_options() -> PgConnectOptions {
    static OPTS: OnceLock<PgConnectOptions> = OnceLock::new();
    OPTS.get_or_init(|| {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            let options: PgConnectOptions = url
                .parse()
                .expect("DATABASE_URL is not a valid PostgreSQL URL");
            return options.database("postgres");
        }
        // In the temp directory rather than target/: when tests run as root the cluster runs as
        // the `postgres` user, which must be able to reach it (a checkout under /root is not).
        let dir = std::env::temp_dir().join("hookvault-test-cluster");
        // Started on a thread with its own runtime: each test has its own runtime, and the
        // cluster must outlive all of them.
        on_own_runtime(move || async move {
            let c = EmbeddedCluster::start(&dir)
                .await
                .unwrap_or_else(|e| panic!("embedded test cluster: {e}"));
            let options = c.connect_options_for("postgres");
            drop_old_test_databases(&options).await;
            options
        })
    })
    .clone()
}

/// Runs `f`'s future to completion on a new thread with a runtime of its own (usable from
/// sync code such as `Drop`, inside or outside a test's runtime).
fn on_own_runtime<F, Fut, T>(f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(f())
    })
    .join()
    .expect("the thread finished")
}

/// Drops the databases that killed runs left behind (see [`LEFTOVER_AGE_SECS`]; the name holds
/// its creation time). One still in use cannot be dropped and is left alone.
async fn drop_old_test_databases(options: &PgConnectOptions) {
    let Ok(mut conn) = options.connect().await else {
        return;
    };
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database
         WHERE substring(datname FROM '^hv_test_[a-z]+_([0-9]{1,12})_')::int8
               < extract(epoch FROM now())::int8 - $1",
    )
    .bind(LEFTOVER_AGE_SECS)
    .fetch_all(&mut conn)
    .await
    .unwrap_or_default();
    for name in names {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\""))
            .execute(&mut conn)
            .await;
    }
    conn.close().await.ok();
}

/// An empty database of its own on the test server, dropped (`WITH (FORCE)`: connections still
/// open to it are closed) when this value is dropped.
pub struct TestDatabase {
    name: String,
}

impl TestDatabase {
    /// Creates a database named `hv_test_<kind>_<unix seconds>_<random>` (`kind`, lowercase
    /// letters, says whose: `store`, `server`).
    pub async fn create(kind: &str) -> TestDatabase {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let name = format!("{PREFIX}{kind}_{now}_{}", uuid::Uuid::new_v4().simple());
        let mut conn = server_options()
            .connect()
            .await
            .expect("connect to the test database server");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        conn.close().await.ok();
        TestDatabase { name }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connection options for it.
    pub fn options(&self) -> PgConnectOptions {
        server_options().database(&self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // `Drop` is sync and a test's runtime may be single-threaded (or gone): the statement
        // runs on a thread of its own, and the test waits for it so the database is gone
        // when the value is.
        let name = self.name.clone();
        let dropped = on_own_runtime(move || async move {
            let mut conn = server_options().connect().await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut conn)
                .await?;
            conn.close().await
        });
        if let Err(e) = dropped {
            eprintln!("test database {} was not dropped: {e}", self.name);
        }
    }
}

/// A plain capture for tests: `POST` to `endpoint` with `body`, no headers, nothing detected.
pub fn capture(
    endpoint: hookvault_core::ids::EndpointId,
    body: &'static [u8],
) -> crate::requests::NewCapture {
    crate::requests::NewCapture {
        id: hookvault_core::ids::RequestId::now_v7(),
        endpoint_id: endpoint,
        received_at: time::OffsetDateTime::now_utc(),
        method: "POST".into(),
        path: String::new(),
        query: None,
        http_version: "HTTP/1.1".into(),
        remote_addr: "127.0.0.1".into(),
        headers: hookvault_core::headers::encode(&[]),
        content_type: None,
        body: bytes::Bytes::from_static(body),
        provider: None,
        event_type: None,
        event_id: None,
        signature_scheme: None,
        signature_status: None,
        signature_reason: None,
        stripe: None,
    }
}
