//! A capture for an endpoint deleted a moment ago (its route still cached) is a 404 and does
//! not spoil the captures committed with it.

mod common;

use common::TestApp;

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
    // Delete it behind the cache's back (no change notification), as a race would.
    sqlx::query("DELETE FROM endpoints WHERE id = $1::uuid")
        .bind(&gone_id)
        .execute(&app.server.pool)
        .await
        .unwrap();

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
}
