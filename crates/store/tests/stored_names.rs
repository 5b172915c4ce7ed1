//! Every status, scheme and purpose the store keeps as text: each variant goes through
//! PostgreSQL and back as the same variant, written as the name the database holds, and where a
//! column has a CHECK constraint listing the allowed names, that list (read from the migrated
//! schema's `pg_constraint`) is exactly the enum's variants: a variant the database would refuse,
//! or a name it allows that no variant has, fails here. (The shared embedded test cluster, or
//! `DATABASE_URL`.)

use std::collections::BTreeSet;

use hookvault_core::provider::Provider;
use hookvault_core::signing::{Scheme, SignatureStatus};
use hookvault_core::stored::{AuditStatus, BillingEventStatus, ReplayStatus};
use hookvault_store::accounts::Purpose;
use hookvault_store::embedded::EmbeddedCluster;
use hookvault_store::{Deadlines, PgConnectOptions};
use sqlx::postgres::PgConnection;
use sqlx::{ConnectOptions, Connection, Postgres};

async fn server_options() -> PgConnectOptions {
    match std::env::var("DATABASE_URL") {
        Ok(url) => url.parse().expect("DATABASE_URL"),
        Err(_) => EmbeddedCluster::start(&std::env::temp_dir().join("hookvault-test-cluster"))
            .await
            .expect("embedded test cluster")
            .connect_options_for("postgres"),
    }
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
    let mut conn = server_options().await.connect().await.expect("connect");
    round_trip(&mut conn, &ReplayStatus::ALL, ReplayStatus::as_str).await;
    round_trip(&mut conn, &AuditStatus::ALL, AuditStatus::as_str).await;
    round_trip(
        &mut conn,
        &BillingEventStatus::ALL,
        BillingEventStatus::as_str,
    )
    .await;
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

/// The quoted names of a CHECK such as `CHECK ((status = ANY (ARRAY['a'::text, 'b'::text])))`.
fn quoted_names(def: &str) -> BTreeSet<String> {
    def.split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> BTreeSet<String> {
    all.iter().map(|v| name(*v).to_owned()).collect()
}

#[tokio::test]
async fn every_check_constraint_on_a_stored_name_lists_exactly_the_enums_variants() {
    let admin = server_options().await;
    let db = format!("hv_test_names_{}", uuid::Uuid::new_v4().simple());
    let mut conn = admin.connect().await.expect("connect");
    sqlx::query(&format!("CREATE DATABASE \"{db}\""))
        .execute(&mut conn)
        .await
        .expect("create database");
    let pool = hookvault_store::connect(admin.clone().database(&db), 2, Deadlines::WEB)
        .await
        .expect("pool");
    hookvault_store::migrate(&pool).await.expect("migrate");
    // Every CHECK that lists names for one text column: (table.column, definition).
    let checks: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text || '.' || a.attname, pg_get_constraintdef(c.oid)
         FROM pg_constraint c
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
         WHERE c.contype = 'c' AND cardinality(c.conkey) = 1
           AND pg_get_constraintdef(c.oid) LIKE '%ANY (ARRAY[%'
         ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("constraints");
    pool.close().await;
    sqlx::query(&format!("DROP DATABASE \"{db}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .expect("drop database");
    conn.close().await.ok();

    let enums = [
        (
            "replays.status",
            names(&ReplayStatus::ALL, ReplayStatus::as_str),
        ),
        (
            "audits.status",
            names(&AuditStatus::ALL, AuditStatus::as_str),
        ),
        (
            "billing_events.status",
            names(&BillingEventStatus::ALL, BillingEventStatus::as_str),
        ),
        (
            "account_tokens.purpose",
            names(&Purpose::ALL, Purpose::as_str),
        ),
    ];
    let found: BTreeSet<&str> = checks.iter().map(|(c, _)| c.as_str()).collect();
    let mapped: BTreeSet<&str> = enums.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        found, mapped,
        "each column with a CHECK list of names has its enum here (and each enum here its CHECK)"
    );
    for (column, variants) in &enums {
        let (_, def) = checks
            .iter()
            .find(|(c, _)| c == column)
            .expect("checked above");
        assert_eq!(
            &quoted_names(def),
            variants,
            "{column}: the CHECK ({def}) and the enum's variants differ"
        );
    }
}
