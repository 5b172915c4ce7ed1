//! The capture insert against a real PostgreSQL: what goes in is what comes out, column by
//! column, and a batch is stored whole or not at all.

use bytes::Bytes;
use hookvault_core::headers::RawHeader;
use hookvault_core::ids::EndpointId;
use hookvault_core::provider::Provider;
use hookvault_core::signing::{Scheme, SignatureStatus};
use hookvault_store::requests::{find_request, insert_captures, StripeFacts};
use time::OffsetDateTime;

use crate::common::{fresh, Fresh};
use crate::feed::capture;

async fn stored_count(pool: &hookvault_store::PgPool, endpoint: EndpointId) -> i64 {
    hookvault_store::requests::count_requests(pool, endpoint)
        .await
        .expect("count")
}

#[tokio::test]
async fn every_column_of_a_stored_capture_reads_back_exactly_as_given() {
    let Fresh {
        pool,
        user,
        endpoint,
        db: _db,
    } = fresh().await;
    let mut full = capture(endpoint, b"");
    full.received_at =
        OffsetDateTime::from_unix_timestamp_nanos(1_764_500_000_123_456_000).expect("time");
    full.method = "PATCH".into();
    full.path = "/stripe/%F0%9F%A6%80?".into();
    full.query = Some("a=1&b=%00".into());
    full.http_version = "HTTP/2.0".into();
    full.remote_addr = "2001:db8::1".into();
    full.headers = hookvault_core::headers::encode(&[
        RawHeader::new("Stripe-Signature", "t=1,v1=ab"),
        RawHeader::new("X-Raw", vec![0xff, 0x00, b'z']),
    ]);
    full.content_type = Some("application/json; charset=utf-8".into());
    // Bytes no text column could hold: NUL, invalid UTF-8, every byte value.
    full.body = Bytes::from((0..=255u8).chain([0, 0xc3, 0x28]).collect::<Vec<u8>>());
    full.provider = Some(Provider::Stripe);
    full.event_type = Some("invoice.paid".into());
    full.event_id = Some("evt_1".into());
    full.signature_scheme = Some(Scheme::Stripe);
    full.signature_status = Some(SignatureStatus::ValidButStale);
    full.signature_reason = Some("timestamp 400 s old".into());
    full.stripe = Some(StripeFacts {
        livemode: Some(false),
        api_version: Some("2024-06-20".into()),
        event_created: Some(1_700_000_000),
        object_id: Some("in_1".into()),
        object_type: Some("invoice".into()),
    });
    let bare = capture(endpoint, b"");

    let stored = insert_captures(&pool, &[full.clone(), bare.clone()])
        .await
        .expect("insert");
    assert!(
        stored.iter().all(Option::is_some),
        "both stored: {stored:?}"
    );

    let got = find_request(&pool, user, full.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(got.endpoint_id, endpoint);
    assert_eq!(got.received_at, full.received_at);
    assert_eq!(got.method, "PATCH");
    assert_eq!(got.path, full.path);
    assert_eq!(got.query, full.query);
    assert_eq!(got.http_version, "HTTP/2.0");
    assert_eq!(got.remote_addr, "2001:db8::1");
    assert_eq!(
        hookvault_core::headers::encode(got.headers.as_slice()),
        full.headers
    );
    assert_eq!(got.content_type, full.content_type);
    assert_eq!(got.body, full.body.to_vec());
    assert_eq!(got.body_size, 259);
    assert_eq!(got.provider, Some(Provider::Stripe));
    assert_eq!(got.event_type.as_deref(), Some("invoice.paid"));
    assert_eq!(got.event_id.as_deref(), Some("evt_1"));
    assert_eq!(got.signature_scheme, Some(Scheme::Stripe));
    assert_eq!(got.signature_status, Some(SignatureStatus::ValidButStale));
    assert_eq!(got.signature_reason, full.signature_reason);
    assert_eq!(got.livemode, Some(false));
    assert_eq!(got.api_version.as_deref(), Some("2024-06-20"));
    assert_eq!(got.event_created, Some(1_700_000_000));
    assert_eq!(got.object_id.as_deref(), Some("in_1"));
    assert_eq!(got.object_type.as_deref(), Some("invoice"));
    assert_eq!(got.edited_from, None);

    let got_bare = find_request(&pool, user, bare.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(got_bare.query, None);
    assert_eq!(got_bare.content_type, None);
    assert!(got_bare.body.is_empty());
    assert_eq!(got_bare.provider, None);
    assert_eq!(got_bare.signature_status, None);
    assert_eq!(got_bare.livemode, None);
    assert_eq!(got_bare.event_created, None);
    assert_eq!(
        stored,
        vec![Some(got.seq), Some(got_bare.seq)],
        "the seqs returned are the stored ones"
    );
    assert!(
        got_bare.seq > got.seq,
        "seq follows the batch's order: {} then {}",
        got.seq,
        got_bare.seq
    );
    let (xid_full, xid_bare): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT xid FROM requests WHERE id = $1), (SELECT xid FROM requests WHERE id = $2)",
    )
    .bind(full.id.into_uuid())
    .bind(bare.id.into_uuid())
    .fetch_one(&pool)
    .await
    .expect("xids");
    assert!(xid_full > 0);
    assert_eq!(xid_full, xid_bare, "one batch, one transaction");
}

#[tokio::test]
async fn a_batch_stores_the_captures_of_live_endpoints_and_says_which_endpoint_is_gone() {
    let Fresh {
        pool,
        endpoint,
        db: _db,
        ..
    } = fresh().await;
    let gone = EndpointId::now_v7();
    let batch = [
        capture(endpoint, b"first"),
        capture(gone, b"lost"),
        capture(endpoint, b"third"),
    ];
    let stored = insert_captures(&pool, &batch).await.expect("insert");
    assert!(
        matches!(stored[..], [Some(a), None, Some(c)] if a < c),
        "stored, gone, stored: {stored:?}"
    );
    assert_eq!(stored_count(&pool, endpoint).await, 2);
    assert_eq!(stored_count(&pool, gone).await, 0);
}

#[tokio::test]
async fn a_capture_the_database_refuses_fails_its_whole_batch_and_nothing_of_it_is_stored() {
    let Fresh {
        pool,
        endpoint,
        db: _db,
        ..
    } = fresh().await;
    let mut bad = capture(endpoint, b"bad");
    // A text column cannot hold NUL: PostgreSQL refuses that row.
    bad.path = "/a\0b".into();
    let batch = [capture(endpoint, b"good"), bad];
    let err = insert_captures(&pool, &batch).await;
    assert!(err.is_err(), "the batch is refused");
    assert_eq!(stored_count(&pool, endpoint).await, 0, "no partial write");
    // The pool's connections are usable afterwards.
    let stored = insert_captures(&pool, &[capture(endpoint, b"next")])
        .await
        .expect("insert after a refused batch");
    assert!(stored[0].is_some());
    assert_eq!(stored_count(&pool, endpoint).await, 1);
}
