//! A capture for an endpoint deleted a moment ago (its route still cached) is a 404 and does
//! not spoil the captures committed with it; deleting an endpoint deletes its captures, even
//! the ones committed while the deletion was under way.

use std::time::Duration;

use crate::common::TestApp;
use hookvault_store::requests::{insert_captures, NewCapture};

async fn stored_captures(app: &TestApp, endpoint_id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM requests WHERE endpoint_id = $1::uuid")
        .bind(endpoint_id)
        .fetch_one(&app.server.pool)
        .await
        .unwrap()
}

fn capture_for(endpoint_id: &str) -> NewCapture {
    hookvault_store::testing::capture(endpoint_id.parse().unwrap(), b"in flight")
}

#[tokio::test]
async fn a_capture_for_a_just_deleted_endpoint_is_404_and_other_captures_still_commit() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("gone@example.com").await;
    let (gone_id, gone_url) = app.create_endpoint(&token, "gone").await;
    let (kept_id, kept_url) = app.create_endpoint(&token, "kept").await;
    let client = reqwest::Client::new();
    // Warm the route cache for the endpoint about to disappear.
    assert_eq!(
        client
            .post(&gone_url)
            .body("warm")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(stored_captures(&app, &gone_id).await, 1);
    // Delete it behind the cache's back (no change notification), as a race would.
    sqlx::query("DELETE FROM endpoints WHERE id = $1::uuid")
        .bind(&gone_id)
        .execute(&app.server.pool)
        .await
        .unwrap();
    assert_eq!(
        stored_captures(&app, &gone_id).await,
        0,
        "its captures go with it"
    );

    let mut sends = Vec::new();
    for n in 0..40 {
        let url = if n % 2 == 0 {
            gone_url.clone()
        } else {
            kept_url.clone()
        };
        let client = client.clone();
        sends.push(tokio::spawn(async move {
            let r = client
                .post(&url)
                .body(format!("capture {n}"))
                .send()
                .await
                .unwrap();
            (n, r.status().as_u16())
        }));
    }
    for s in sends {
        let (n, status) = s.await.unwrap();
        let expected = if n % 2 == 0 { 404 } else { 200 };
        assert_eq!(status, expected, "capture {n}");
    }
    let list: serde_json::Value = app
        .api_get(
            &token,
            &format!("/api/v1/endpoints/{kept_id}/requests?limit=100"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["requests"].as_array().unwrap().len(), 20);
    assert_eq!(stored_captures(&app, &gone_id).await, 0);
}

#[tokio::test]
async fn an_endpoint_deleted_while_a_capture_batch_is_committing_takes_that_batch_with_it() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("race@example.com").await;
    let (endpoint_id, _) = app.create_endpoint(&token, "racing").await;
    let pool = &app.server.pool;

    // A capture batch inserted but not yet committed holds its endpoint's lock…
    let mut batch = pool.begin().await.unwrap();
    let seqs = insert_captures(&mut *batch, &[capture_for(&endpoint_id)])
        .await
        .unwrap();
    assert!(
        seqs[0].is_some(),
        "the endpoint exists, so the row is inserted"
    );

    // …so deleting the endpoint waits for it…
    let deleting = {
        let pool = pool.clone();
        let id = endpoint_id.clone();
        tokio::spawn(async move {
            sqlx::query("DELETE FROM endpoints WHERE id = $1::uuid")
                .bind(id)
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!deleting.is_finished(), "the deletion waits for the batch");

    // …and once the batch commits, the deletion removes that capture too.
    batch.commit().await.unwrap();
    assert_eq!(deleting.await.unwrap(), 1);
    assert_eq!(stored_captures(&app, &endpoint_id).await, 0);

    // Afterwards a capture for the deleted endpoint is not stored at all.
    let seqs = insert_captures(pool, &[capture_for(&endpoint_id)])
        .await
        .unwrap();
    assert_eq!(seqs, vec![None]);
    assert_eq!(stored_captures(&app, &endpoint_id).await, 0);
}
