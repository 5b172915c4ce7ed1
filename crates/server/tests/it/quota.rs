//! The per-endpoint capture quota: over it, `429` with `Retry-After`, and nothing stored.

use crate::common::TestApp;

#[tokio::test]
async fn captures_over_the_endpoint_quota_get_429_with_retry_after_and_are_not_stored() {
    let app = TestApp::spawn_with(|c| c.capture_quota_per_minute = Some(3)).await;
    let token = app.signup_with_token("quota@example.com").await;
    let (id, url) = app.create_endpoint(&token, "limited").await;
    let (_, other) = app.create_endpoint(&token, "other").await;
    let client = reqwest::Client::new();
    for n in 0..3 {
        let r = client
            .post(&url)
            .body(format!("ok {n}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = client.post(&url).body("one too many").send().await.unwrap();
    assert_eq!(r.status(), 429);
    crate::common::assert_inert(r.headers(), "429 over the quota");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=60).contains(&retry),
        "Retry-After is within the minute: {retry}"
    );
    assert!(r.text().await.unwrap().contains("quota"));
    assert_eq!(
        client.post(&other).body("x").send().await.unwrap().status(),
        200,
        "other endpoints have their own quota"
    );
    let list: serde_json::Value = app
        .api_get(&token, &format!("/api/v1/endpoints/{id}/requests"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["requests"].as_array().unwrap().len(),
        3,
        "the refused capture was not stored"
    );
}
