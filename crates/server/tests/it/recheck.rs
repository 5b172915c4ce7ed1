//! Setting, changing or clearing an endpoint's signature check re-checks its existing captures
//! in the background, with progress on the endpoint page, judging each as at its arrival.

use std::time::Duration;

use hookvault_core::signing;

use crate::common::wait::{wait_for, wait_until};
use crate::common::TestApp;

const SECRET: &str = "whsec_the_senders_secret";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Captures Stripe event `id` signed with `secret` at time `signed_at`; returns its request id.
async fn capture(url: &str, id: &str, secret: &str, signed_at: i64) -> String {
    let body = format!("{{\"id\":\"{id}\",\"object\":\"event\",\"type\":\"invoice.paid\"}}");
    let r = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .header(
            "Stripe-Signature",
            signing::stripe_header(secret, signed_at, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.headers()["x-hookvault-request-id"]
        .to_str()
        .unwrap()
        .to_string()
}

async fn status(app: &TestApp, token: &str, id: &str) -> String {
    let v: serde_json::Value = app
        .api_get(token, &format!("/api/v1/requests/{id}"))
        .await
        .json()
        .await
        .unwrap();
    v["signature"]["status"].as_str().unwrap().to_string()
}

async fn set_signing(app: &TestApp, token: &str, endpoint_id: &str, signing: serde_json::Value) {
    let r = reqwest::Client::new()
        .patch(app.at(&format!("/api/v1/endpoints/{endpoint_id}")))
        .bearer_auth(token)
        .json(&serde_json::json!({ "signing": signing }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Waits until the endpoint page says the re-check finished; returns that line.
async fn finished(app: &TestApp, endpoint_id: &str) -> String {
    wait_for(
        "the re-check to finish",
        Duration::from_secs(30),
        async || {
            let page = app.get_html(&format!("/endpoints/{endpoint_id}")).await;
            page.lines()
                .find(|l| l.contains(r#"id="recheck""#) && l.contains("were re-checked"))
                .map(str::to_string)
                .ok_or("not yet")
        },
    )
    .await
}

#[tokio::test]
async fn setting_a_secret_rechecks_existing_captures_judging_each_as_at_its_arrival() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("recheck@example.com").await;
    let (endpoint_id, url) = app.create_endpoint(&token, "recheck").await;
    let hour = 3600;
    // Captured before any check was configured.
    let fresh = capture(&url, "evt_fresh", SECRET, now()).await;
    let forged = capture(&url, "evt_forged", "whsec_someone_else", now()).await;
    let late = capture(&url, "evt_late", SECRET, now() - hour).await;
    // Signed an hour ago and received then: fresh at its arrival, stale if judged today.
    let old = capture(&url, "evt_old", SECRET, now() - hour).await;
    sqlx::query(
        "UPDATE requests SET received_at = received_at - interval '1 hour' WHERE id = $1::uuid",
    )
    .bind(&old)
    .execute(&app.server.pool)
    .await
    .unwrap();
    for id in [&fresh, &forged, &late, &old] {
        assert_eq!(status(&app, &token, id).await, "unchecked");
    }

    set_signing(
        &app,
        &token,
        &endpoint_id,
        serde_json::json!({"scheme": "stripe", "secret": SECRET}),
    )
    .await;
    let line = finished(&app, &endpoint_id).await;
    assert!(
        line.contains("Signatures of the 4 existing captures"),
        "{line}"
    );
    assert_eq!(status(&app, &token, &fresh).await, "valid");
    assert_eq!(status(&app, &token, &forged).await, "invalid");
    assert_eq!(status(&app, &token, &late).await, "valid_but_stale");
    assert_eq!(
        status(&app, &token, &old).await,
        "valid",
        "fresh when it arrived, so not called stale now"
    );

    // A changed secret re-checks them again.
    set_signing(
        &app,
        &token,
        &endpoint_id,
        serde_json::json!({"scheme": "stripe", "secret": "whsec_someone_else"}),
    )
    .await;
    finished(&app, &endpoint_id).await;
    assert_eq!(status(&app, &token, &forged).await, "valid");
    assert_eq!(status(&app, &token, &fresh).await, "invalid");

    // Cleared: nothing is checked any more.
    set_signing(&app, &token, &endpoint_id, serde_json::Value::Null).await;
    finished(&app, &endpoint_id).await;
    assert_eq!(status(&app, &token, &forged).await, "unchecked");
}

#[tokio::test]
async fn the_endpoint_page_shows_a_recheck_in_progress_and_a_restart_resumes_it() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("progress@example.com").await;
    let (endpoint_id, url) = app.create_endpoint(&token, "progress").await;
    let id = capture(&url, "evt_1", SECRET, now()).await;
    set_signing(
        &app,
        &token,
        &endpoint_id,
        serde_json::json!({"scheme": "stripe", "secret": SECRET}),
    )
    .await;
    finished(&app, &endpoint_id).await;
    // As if a stop had interrupted the run before its first page.
    sqlx::query(
        "UPDATE signature_rechecks SET finished_at = NULL, done = 0, after_seq = 0
         WHERE endpoint_id = $1::uuid",
    )
    .bind(&endpoint_id)
    .execute(&app.server.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE requests SET signature_scheme = NULL, signature_status = NULL,
                signature_reason = NULL WHERE id = $1::uuid",
    )
    .bind(&id)
    .execute(&app.server.pool)
    .await
    .unwrap();
    let page = app.get_html(&format!("/endpoints/{endpoint_id}")).await;
    assert!(
        page.contains(
            "Re-checking the signatures of existing captures with the new setting: 0 of 1 done."
        ),
        "progress is shown"
    );

    // The next start resumes it.
    let options = (*app.server.pool.connect_options()).clone();
    let TestApp {
        server, data_dir, ..
    } = app;
    server.stop().await;
    let server = hookvault_server::Server::start(crate::common::config(options, &data_dir.0))
        .await
        .unwrap();
    let app = TestApp::attach(server);
    let what = "the interrupted re-check to resume";
    wait_until(what, Duration::from_secs(30), async || {
        status(&app, &token, &id).await == "valid"
    })
    .await;
    drop(data_dir);
}
