//! Background connections against a real PostgreSQL on this machine (the shared embedded test
//! cluster): their server processes run at the lowest CPU priority, other connections' do not.

use hookvault_store::testing::server_options;
use hookvault_store::{Deadlines, PgPool, BACKGROUND_NICENESS};

/// The niceness of the server process behind one of `pool`'s connections, or `None` when that
/// process is not on this machine (an external `DATABASE_URL`).
async fn niceness(pool: &PgPool) -> Option<i32> {
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(pool)
        .await
        .expect("pid");
    let pid = rustix::process::Pid::from_raw(pid).expect("a process id");
    rustix::process::getpriority_process(Some(pid)).ok()
}

#[tokio::test]
async fn background_connections_run_at_the_lowest_cpu_priority_and_others_do_not() {
    let options = server_options();
    let background = hookvault_store::connect_background(options.clone(), 1, Deadlines::WEB, true)
        .await
        .expect("background pool");
    let normal = hookvault_store::connect(options.clone(), 1, Deadlines::WEB)
        .await
        .expect("pool");
    let Some(lowered) = niceness(&background).await else {
        eprintln!("skipped: the database's processes are not on this machine");
        return;
    };
    assert_eq!(
        lowered, BACKGROUND_NICENESS,
        "a background connection's process"
    );
    let before = niceness(&normal).await.expect("niceness");
    assert!(
        before < BACKGROUND_NICENESS,
        "a normal connection's process keeps its priority (niceness {before})"
    );

    let unlowered = hookvault_store::connect_background(options, 1, Deadlines::WEB, false)
        .await
        .expect("background pool");
    assert_eq!(
        niceness(&unlowered).await,
        Some(before),
        "without lowering, a background connection is like any other"
    );
}
