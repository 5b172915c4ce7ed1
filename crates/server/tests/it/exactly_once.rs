//! Exactly once, in order, under concurrent bursts: the endpoint's stream and `hookvault
//! listen` deliver every capture once although the server's writers commit batches out of
//! order. Sizes are the figures for the stream; `HOOKVAULT_BURSTS_LISTEN` (bursts of 8)
//! scales the listen test up from its default.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use crate::common::browser::api_client;
use crate::common::sse::SseReader;
use crate::common::target::recording_target;
use crate::common::TestApp;
use crate::listen::{wait_connected, Cli};

/// Sends `bursts` bursts of `width` concurrent captures (`{"n":N}` bodies, N from 0); returns
/// the capture ids in the order their 200s came back.
async fn bursts(url: &str, bursts: usize, width: usize, first: usize) -> Vec<String> {
    let client = api_client();
    let mut ids = Vec::with_capacity(bursts * width);
    for b in 0..bursts {
        let sends = (0..width).map(|i| {
            let n = first + b * width + i;
            let rq = client
                .post(url)
                .header("content-type", "application/json")
                .body(format!("{{\"n\":{n}}}"));
            async move {
                let r = rq.send().await.expect("capture");
                assert_eq!(r.status(), 200);
                r.headers()["x-hookvault-request-id"]
                    .to_str()
                    .unwrap()
                    .to_string()
            }
        });
        ids.extend(join_all(sends).await);
    }
    ids
}

async fn open_stream(app: &TestApp, token: &str, endpoint: &str, last: Option<&str>) -> SseReader {
    let mut rq = reqwest::Client::new()
        .get(app.at(&format!("/api/v1/endpoints/{endpoint}/stream")))
        .bearer_auth(token);
    if let Some(last) = last {
        rq = rq.header("last-event-id", last);
    }
    let r = rq.send().await.expect("stream opens");
    assert_eq!(r.status(), 200);
    SseReader::new(r)
}

/// Capture ids from `request` events until `n` have come or `deadline` passes.
async fn read_requests(stream: &mut SseReader, n: usize, deadline: Instant) -> Vec<String> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let Some(ev) = stream.wait_for(deadline, "request", |_| true).await else {
            break;
        };
        got.push(ev.json()["id"].as_str().unwrap().to_string());
    }
    got
}

fn assert_each_once(delivered: &[String], captured: &[String], what: &str) {
    let unique: HashSet<&String> = delivered.iter().collect();
    assert_eq!(
        unique.len(),
        delivered.len(),
        "{what}: nothing delivered twice"
    );
    let missing = captured.iter().filter(|c| !unique.contains(c)).count();
    assert_eq!(
        (delivered.len(), missing),
        (captured.len(), 0),
        "{what}: every capture delivered ({} of {})",
        delivered.len(),
        captured.len()
    );
}

#[tokio::test]
async fn a_stream_open_during_2400_captures_in_bursts_of_16_delivers_each_once_and_a_resumed_one_agrees(
) {
    let app = TestApp::spawn_with(|c| c.writer_tasks = 4).await;
    let token = app.signup_with_token("bursts@example.com").await;
    let (id, url) = app.create_endpoint(&token, "bursts").await;
    let mut live = open_stream(&app, &token, &id, None).await;
    let hello = live
        .wait_for(Instant::now() + Duration::from_secs(10), "hello", |_| true)
        .await
        .expect("hello")
        .id
        .expect("the opening position");

    let (captured, delivered) = tokio::join!(bursts(&url, 150, 16, 0), async {
        read_requests(&mut live, 2400, Instant::now() + Duration::from_secs(120)).await
    });
    assert_each_once(&delivered, &captured, "live stream");

    let mut resumed = open_stream(&app, &token, &id, Some(&hello)).await;
    let again = read_requests(&mut resumed, 2400, Instant::now() + Duration::from_secs(60)).await;
    assert_eq!(
        again, delivered,
        "the resumed stream: the same captures, in the same order"
    );
}

#[tokio::test]
async fn listen_forwards_every_capture_of_concurrent_bursts_exactly_once_across_a_restart() {
    let per_half: usize = std::env::var("HOOKVAULT_BURSTS_LISTEN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
        / 2;
    let app = TestApp::spawn_with(|c| c.writer_tasks = 4).await;
    let token = app.signup_with_token("listen-bursts@example.com").await;
    let (_, url) = app.create_endpoint(&token, "stripe-dev").await;
    let (target, received) = recording_target().await;
    let config_dir = crate::common::tempdir::TempDir::new();
    let count = || received.lock().unwrap().len();

    let cli = Cli::start(&app, &token, &config_dir.0, &target).await;
    wait_connected(&config_dir.0).await;
    let mut captured = bursts(&url, per_half, 8, 0).await;
    // Stop mid-stream (between deliveries), capture more while it is down, start again.
    cli.interrupt().await;
    captured.extend(bursts(&url, per_half, 8, per_half * 8).await);
    let cli = Cli::start(&app, &token, &config_dir.0, &target).await;

    let deadline = Instant::now() + Duration::from_secs(180);
    while count() < captured.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Anything extra would arrive now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    cli.interrupt().await;

    let bodies: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|b| String::from_utf8(b.clone()).unwrap())
        .collect();
    let expected: Vec<String> = (0..captured.len())
        .map(|n| format!("{{\"n\":{n}}}"))
        .collect();
    assert_each_once(&bodies, &expected, "hookvault listen");
}
