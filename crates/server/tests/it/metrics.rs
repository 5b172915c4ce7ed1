//! Prometheus `/metrics` on `--metrics-listen`: the counters move with what the service does,
//! and the public listener does not serve them.

use std::time::Duration;

use crate::common::wait::wait_for;
use crate::common::TestApp;

/// The value of the first sample line starting with `name` (labels included), or 0.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(at: std::net::SocketAddr) -> String {
    let r = reqwest::get(format!("http://{at}/metrics")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    r.text().await.unwrap()
}

#[tokio::test]
async fn the_metrics_count_captures_rejects_batches_replays_and_streams() {
    let app =
        TestApp::spawn_with(|c| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let at = app.server.metrics_addr.expect("metrics are served");
    let token = app.signup_with_token("metrics@example.com").await;
    let (endpoint_id, url) = app.create_endpoint(&token, "metrics").await;
    let before = scrape(at).await;

    let client = reqwest::Client::new();
    let mut request_id = String::new();
    for n in 0..3 {
        let r = client
            .post(&url)
            .body(format!("{{\"n\":{n}}}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        request_id = r.headers()["x-hookvault-request-id"]
            .to_str()
            .unwrap()
            .to_string();
    }
    let r = client
        .post(app.at("/in/not-a-real-token"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // A replay that succeeds.
    let (target, _seen) = crate::common::target::recording_target().await;
    let r = client
        .post(app.at(&format!("/api/v1/requests/{request_id}/replays")))
        .bearer_auth(&token)
        .json(&serde_json::json!({"target_url": target, "signing": {"scheme": "original"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let replay = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for(
        "the replay to succeed",
        Duration::from_secs(30),
        async || {
            let v: serde_json::Value = app
                .api_get(&token, &format!("/api/v1/replays/{replay}"))
                .await
                .json()
                .await
                .unwrap();
            match v["status"] == "succeeded" {
                true => Ok(()),
                false => Err(v),
            }
        },
    )
    .await;

    // A stream held open.
    let stream = client
        .get(app.at(&format!("/api/v1/endpoints/{endpoint_id}/stream")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    let after = scrape(at).await;
    let moved = |name: &str| sample(&after, name) - sample(&before, name);
    assert!(moved("hookvault_captures_accepted_total") >= 3.0, "{after}");
    assert!(
        moved("hookvault_capture_rejects_total{reason=\"unknown_endpoint\"}") >= 1.0,
        "{after}"
    );
    assert!(moved("hookvault_writer_batch_size_count") >= 1.0, "{after}");
    assert!(moved("hookvault_writer_batch_size_sum") >= 3.0, "{after}");
    assert!(
        moved("hookvault_replay_attempts_total{outcome=\"succeeded\"}") >= 1.0,
        "{after}"
    );
    assert!(moved("hookvault_streams_opened_total") >= 1.0, "{after}");
    assert!(sample(&after, "hookvault_streams_open") >= 1.0, "{after}");
    drop(stream);

    // The public listener does not serve them.
    let r = client.get(app.at("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}
