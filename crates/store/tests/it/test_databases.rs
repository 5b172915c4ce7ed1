//! Test databases do not outlive their test.

use hookvault_store::testing::{server_options, TestDatabase};
use sqlx::ConnectOptions;

async fn listed(name: &str) -> bool {
    let mut conn = server_options().connect().await.expect("connect");
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .expect("pg_database")
}

#[tokio::test]
async fn a_test_database_is_gone_once_dropped_even_with_connections_open() {
    let db = TestDatabase::create("store").await;
    let name = db.name().to_string();
    let pool = hookvault_store::connect(db.options(), 2, hookvault_store::Deadlines::WEB)
        .await
        .expect("pool");
    sqlx::query("SELECT 1").execute(&pool).await.expect("query");
    assert!(listed(&name).await, "it exists while in use");
    drop(db);
    assert!(!listed(&name).await, "pg_database no longer lists {name}");
}
