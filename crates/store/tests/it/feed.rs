//! The feed (a capture whose transaction commits late is never skipped, and a reader never gets
//! one twice), clearing an endpoint larger than one deletion step, and a capture's headers
//! read back decoded, byte for byte.

use std::time::Duration;

use hookvault_core::ids::{EndpointId, RequestId, UserId};
use hookvault_store::feed::{captures_after, head};
use hookvault_store::requests::{insert_captures, NewCapture};

use crate::common::{fresh, Fresh};

pub use hookvault_store::testing::capture;

#[tokio::test]
async fn a_batch_that_commits_after_a_later_one_is_read_once_in_position_order() {
    let Fresh {
        pool,
        user,
        endpoint,
        db: _db,
    } = fresh().await;
    let start = head(&pool).await.expect("head");

    // The slow writer inserts first (its transaction is older), the fast one commits first.
    let mut slow = pool.begin().await.expect("begin");
    let slow_capture = capture(endpoint, b"slow");
    insert_captures(&mut *slow, std::slice::from_ref(&slow_capture))
        .await
        .expect("slow insert");
    let fast_capture = capture(endpoint, b"fast");
    insert_captures(&pool, std::slice::from_ref(&fast_capture))
        .await
        .expect("fast insert");

    let page = captures_after(&pool, user, endpoint, &start, 100)
        .await
        .expect("read");
    assert!(
        page.entries.is_empty(),
        "nothing is handed out while an older transaction may still add a capture before it"
    );
    assert!(
        page.pending,
        "the committed capture is announced as pending"
    );

    slow.commit().await.expect("commit");
    // Other transactions on the cluster (other tests) may hold the horizon a moment longer:
    // read as a follower does, again while the page says captures are pending.
    let mut position = page.next;
    let mut entries = Vec::new();
    for _ in 0..500 {
        let page = captures_after(&pool, user, endpoint, &position, 100)
            .await
            .expect("read");
        entries.extend(page.entries);
        position = page.next;
        if entries.len() >= 2 && !page.pending {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ids: Vec<RequestId> = entries.iter().map(|e| e.id).collect();
    assert_eq!(
        ids,
        [slow_capture.id, fast_capture.id],
        "both, in position order"
    );

    let again = captures_after(&pool, user, endpoint, &position, 100)
        .await
        .expect("read");
    assert!(again.entries.is_empty(), "nothing twice");
    let resumed = captures_after(&pool, user, endpoint, &entries[0].after, 100)
        .await
        .expect("read");
    let ids: Vec<RequestId> = resumed.entries.iter().map(|e| e.id).collect();
    assert_eq!(
        ids,
        [fast_capture.id],
        "resuming after the first gives the second only"
    );
    pool.close().await;
}

#[tokio::test]
async fn from_now_on_skips_what_was_committed_before_and_pages_stop_at_their_limit() {
    let Fresh {
        pool,
        user,
        endpoint,
        db: _db,
    } = fresh().await;
    insert_captures(&pool, &[capture(endpoint, b"old")])
        .await
        .expect("old");
    let now = head(&pool).await.expect("head");
    let new: Vec<NewCapture> = (0..5).map(|_| capture(endpoint, b"new")).collect();
    insert_captures(&pool, &new).await.expect("new");

    let mut position = now;
    let mut seen = Vec::new();
    for _ in 0..500 {
        let page = captures_after(&pool, user, endpoint, &position, 2)
            .await
            .expect("read");
        assert!(page.entries.len() <= 2);
        seen.extend(page.entries.iter().map(|e| e.id));
        position = page.next;
        if seen.len() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let want: Vec<RequestId> = new.iter().map(|c| c.id).collect();
    assert_eq!(seen, want, "the five new ones, in order, not the old one");
    let other_user = captures_after(
        &pool,
        UserId::now_v7(),
        endpoint,
        &hookvault_core::position::Position::start(),
        100,
    )
    .await
    .expect("read");
    assert!(
        other_user.entries.is_empty(),
        "another account reads nothing of this endpoint"
    );
    pool.close().await;
}

#[tokio::test]
async fn clearing_an_endpoint_deletes_all_its_captures_over_several_steps_and_nothing_else() {
    let Fresh {
        pool,
        user,
        endpoint,
        db: _db,
    } = fresh().await;
    let (other_user, other_endpoint) = (UserId::now_v7(), EndpointId::now_v7());
    hookvault_store::users::insert_user(&pool, other_user, "other@example.com", "x")
        .await
        .expect("user");
    hookvault_store::endpoints::insert_endpoint(&pool, other_endpoint, other_user, "o", "o")
        .await
        .expect("endpoint");
    let mine: Vec<NewCapture> = (0..1_234).map(|_| capture(endpoint, b"mine")).collect();
    for chunk in mine.chunks(500) {
        insert_captures(&pool, chunk).await.expect("insert");
    }
    insert_captures(&pool, &[capture(other_endpoint, b"theirs")])
        .await
        .expect("insert");

    let cleared = hookvault_store::endpoints::clear_endpoint_requests(&pool, other_user, endpoint)
        .await
        .expect("clear");
    assert_eq!(cleared, 0, "another account cannot clear it");
    let cleared = hookvault_store::endpoints::clear_endpoint_requests(&pool, user, endpoint)
        .await
        .expect("clear");
    assert_eq!(cleared, 1_234, "every capture, over three steps of 500");
    let left: Vec<(uuid::Uuid, i64)> =
        sqlx::query_as("SELECT endpoint_id, count(*) FROM requests GROUP BY endpoint_id")
            .fetch_all(&pool)
            .await
            .expect("count");
    assert_eq!(
        left,
        vec![(*other_endpoint.as_uuid(), 1)],
        "only the other endpoint's"
    );
    pool.close().await;
}

#[tokio::test]
async fn a_captures_headers_come_back_decoded_byte_for_byte_with_non_utf8_values() {
    use hookvault_core::headers::RawHeader;
    let Fresh {
        pool,
        user,
        endpoint,
        db: _db,
    } = fresh().await;
    let sent = vec![
        RawHeader::new("X-Bin", vec![0xff, 0xfe, b' ', 0x80]),
        RawHeader::new("Content-Type", "application/json"),
        RawHeader::new("x-bin", vec![0xc3]),
    ];
    let mut c = capture(endpoint, b"{}");
    c.headers = hookvault_core::headers::encode(&sent);
    insert_captures(&pool, std::slice::from_ref(&c))
        .await
        .expect("insert");
    let got = hookvault_store::requests::find_request(&pool, user, c.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        got.headers.as_slice(),
        sent.as_slice(),
        "names, order and value bytes as sent"
    );
    let listed = hookvault_store::requests::find_requests_by_ids(&pool, user, &[c.id])
        .await
        .expect("read by ids");
    assert_eq!(listed[0].headers.as_slice(), sent.as_slice());
}
