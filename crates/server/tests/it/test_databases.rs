//! Every test's database is dropped when the test lets go of it: a `TestApp`'s with the app, a
//! `hookvault serve` process's with the process.

use hookvault_store::testing::server_options;
use sqlx::ConnectOptions;

use crate::common::process::ServerProcess;
use crate::common::TestApp;

async fn listed(name: &str) -> bool {
    let mut conn = server_options().connect().await.expect("connect");
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .expect("pg_database")
}

#[tokio::test]
async fn a_test_app_s_database_is_gone_once_the_app_is_dropped() {
    let app = TestApp::spawn().await;
    let name = app.database.as_ref().expect("its own").name().to_string();
    // The server holds open connections to it, and has written to it.
    let token = app.signup_with_token("dropped@example.com").await;
    let (_, url) = app.create_endpoint(&token, "gone").await;
    let r = reqwest::Client::new()
        .post(&url)
        .body("x")
        .send()
        .await
        .expect("capture");
    assert_eq!(r.status(), 200);
    assert!(listed(&name).await, "it exists while the app runs");
    drop(app);
    assert!(!listed(&name).await, "pg_database no longer lists {name}");
}

#[tokio::test]
async fn a_server_process_s_database_is_gone_once_the_process_is_dropped() {
    let process = ServerProcess::start(&[]).await;
    let name = process._database.name().to_string();
    let r = reqwest::get(process.at("/healthz")).await.expect("health");
    assert_eq!(r.status(), 200);
    assert!(listed(&name).await, "it exists while the process runs");
    drop(process);
    assert!(!listed(&name).await, "pg_database no longer lists {name}");
}
