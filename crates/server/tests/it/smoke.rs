use crate::common::TestApp;

#[tokio::test]
async fn a_capture_sent_to_a_new_endpoint_is_listed_through_the_api() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("smoke@example.com").await;
    let (id, url) = app.create_endpoint(&token, "smoke").await;
    let r = reqwest::Client::new()
        .post(format!("{url}/x?y=1"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-hookvault-request-id"));
    let list: serde_json::Value = app
        .api_get(&token, &format!("/api/v1/endpoints/{id}/requests"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["requests"][0]["path"], "/x");
    assert_eq!(list["requests"][0]["query"], "y=1");
}
