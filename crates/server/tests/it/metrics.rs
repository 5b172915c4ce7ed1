//! Prometheus `/metrics` on `--metrics-listen`, scraped from the real binary in its own process
//! (`common/process.rs`; nothing else runs in it, so every count is exact): captures, rejects
//! by reason, the writer's batch sizes, replay outcomes and event streams. The public listener
//! does not serve them.

use std::time::{Duration, Instant};

use crate::common::process::ServerProcess;

/// The value of the sample line `name` (labels included); `None` when it is not there.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(at: &str) -> String {
    let r = reqwest::get(format!("http://{at}/metrics"))
        .await
        .expect("scrape");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("content type")
        .starts_with("application/openmetrics-text"));
    r.text().await.expect("body")
}

/// Scrapes until every `(sample, value)` holds (metrics move just after the answers that
/// cause them); the last scrape.
async fn scrape_until(at: &str, want: &[(&str, f64)]) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = scrape(at).await;
        let wrong: Vec<String> = want
            .iter()
            .filter(|(name, v)| sample(&text, name) != Some(*v))
            .map(|(name, v)| format!("{name}: want {v}, got {:?}", sample(&text, name)))
            .collect();
        if wrong.is_empty() {
            return text;
        }
        assert!(Instant::now() < deadline, "{wrong:#?}\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn replay_to(server: &ServerProcess, token: &str, request: &str, target: &str) -> String {
    let r = reqwest::Client::new()
        .post(server.at(&format!("/api/v1/requests/{request}/replays")))
        .bearer_auth(token)
        .json(&serde_json::json!({"target_url": target, "signing": {"scheme": "original"}}))
        .send()
        .await
        .expect("replay");
    assert_eq!(r.status(), 202);
    r.json::<serde_json::Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string()
}

async fn finished(server: &ServerProcess, token: &str, replay: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v: serde_json::Value = reqwest::Client::new()
            .get(server.at(&format!("/api/v1/replays/{replay}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET replay")
            .json()
            .await
            .expect("json");
        if v["status"] == "succeeded" || v["status"] == "failed" {
            return v["status"].as_str().unwrap_or_default().to_string();
        }
        assert!(Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_metrics_count_captures_rejects_batches_replays_and_streams_exactly() {
    let metrics_at = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .to_string();
    let server =
        ServerProcess::start(&["--metrics-listen", &metrics_at, "--max-body-bytes", "1000"]).await;
    let token = server.account("metrics@example.com").await;
    let (endpoint_id, url) = server.endpoint(&token, "metrics").await;

    // Nothing yet.
    scrape_until(
        &metrics_at,
        &[
            ("hookvault_captures_accepted_total", 0.0),
            ("hookvault_writer_batch_size_count", 0.0),
            ("hookvault_streams_open", 0.0),
        ],
    )
    .await;

    // Three captures, one after the other (each answered once stored: three batches of one).
    let client = reqwest::Client::new();
    let mut request_id = String::new();
    for n in 0..3 {
        let r = client
            .post(&url)
            .body(format!("{{\"n\":{n}}}"))
            .send()
            .await
            .expect("capture");
        assert_eq!(r.status(), 200);
        request_id = r.headers()["x-hookvault-request-id"]
            .to_str()
            .expect("id")
            .to_string();
    }
    // Two rejects: an unknown capture URL (twice) and a body over --max-body-bytes.
    for _ in 0..2 {
        let r = client
            .post(server.at("/in/not-a-real-token"))
            .body("{}")
            .send()
            .await
            .expect("unknown");
        assert_eq!(r.status(), 404);
    }
    let r = client
        .post(&url)
        .body("x".repeat(2000))
        .send()
        .await
        .expect("too large");
    assert_eq!(r.status(), 413);

    // One replay that succeeds, one that fails (nothing listens on port 9).
    let (target, _seen) = crate::common::target::recording_target().await;
    let ok = replay_to(&server, &token, &request_id, &target).await;
    assert_eq!(finished(&server, &token, &ok).await, "succeeded");
    let bad = replay_to(&server, &token, &request_id, "http://127.0.0.1:9/hook").await;
    assert_eq!(finished(&server, &token, &bad).await, "failed");

    // Two event streams held open.
    let mut streams = Vec::new();
    for _ in 0..2 {
        let stream = client
            .get(server.at(&format!("/api/v1/endpoints/{endpoint_id}/stream")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("stream");
        assert_eq!(stream.status(), 200);
        streams.push(stream);
    }

    scrape_until(
        &metrics_at,
        &[
            ("hookvault_captures_accepted_total", 3.0),
            (
                "hookvault_capture_rejects_total{reason=\"unknown_endpoint\"}",
                2.0,
            ),
            ("hookvault_capture_rejects_total{reason=\"too_large\"}", 1.0),
            ("hookvault_writer_batch_size_count", 3.0),
            ("hookvault_writer_batch_size_sum", 3.0),
            ("hookvault_writer_batch_size_bucket{le=\"1.0\"}", 3.0),
            (
                "hookvault_replay_attempts_total{outcome=\"succeeded\"}",
                1.0,
            ),
            ("hookvault_replay_attempts_total{outcome=\"failed\"}", 1.0),
            ("hookvault_streams_opened_total", 2.0),
            ("hookvault_streams_open", 2.0),
        ],
    )
    .await;

    // A closed stream is no longer open; the total stays.
    streams.pop();
    scrape_until(
        &metrics_at,
        &[
            ("hookvault_streams_opened_total", 2.0),
            ("hookvault_streams_open", 1.0),
        ],
    )
    .await;
    drop(streams);

    // The public listener does not serve them.
    let r = client.get(server.at("/metrics")).send().await.expect("GET");
    assert_eq!(r.status(), 404);
}
