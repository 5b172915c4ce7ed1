//! Every status and scheme the store keeps as text goes through PostgreSQL and back as the same
//! variant, written as the name the database holds.

use hookvault_core::provider::Provider;
use hookvault_core::signing::{Scheme, SignatureStatus};
use hookvault_core::stored::{AuditStatus, ReplayStatus};
use hookvault_store::testing::server_options;
use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions, Postgres};

async fn connect() -> PgConnection {
    server_options().connect().await.expect("connect")
}

/// Sends each variant as a parameter and reads the text PostgreSQL got, and the variant back.
async fn round_trip<T>(conn: &mut PgConnection, all: &[T], name: fn(T) -> &'static str)
where
    T: Copy
        + PartialEq
        + std::fmt::Debug
        + Send
        + Sync
        + Unpin
        + sqlx::Type<Postgres>
        + for<'q> sqlx::Encode<'q, Postgres>
        + for<'r> sqlx::Decode<'r, Postgres>,
{
    for &v in all {
        let (text, back): (String, T) = sqlx::query_as("SELECT $1::text, $1::text")
            .bind(v)
            .fetch_one(&mut *conn)
            .await
            .expect("round trip");
        assert_eq!(text, name(v));
        assert_eq!(back, v);
    }
}

#[tokio::test]
async fn every_stored_status_and_scheme_round_trips_through_the_database_text() {
    let mut conn = connect().await;
    round_trip(&mut conn, &ReplayStatus::ALL, ReplayStatus::as_str).await;
    round_trip(&mut conn, &AuditStatus::ALL, AuditStatus::as_str).await;
    round_trip(&mut conn, &Scheme::ALL, Scheme::as_str).await;
    round_trip(&mut conn, &SignatureStatus::ALL, SignatureStatus::as_str).await;
    round_trip(&mut conn, &Provider::ALL, Provider::as_str).await;
    let unknown: Result<(ReplayStatus,), _> = sqlx::query_as("SELECT 'paused'::text")
        .fetch_one(&mut conn)
        .await;
    assert!(
        unknown.is_err(),
        "a name no variant has is an error, not a guess"
    );
}
