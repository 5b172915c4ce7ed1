//! Live: the endpoint's event stream delivers new captures, and resumes after `Last-Event-ID`
//! with what was captured while the client was away.

use std::time::Duration;

use crate::common::browser::api_client;
use crate::common::sse::SseReader;
use crate::common::TestApp;
use tokio::time::Instant;

/// A client without an overall timeout (the stream stays open); reads are bounded by deadlines.
fn stream_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn open_stream(app: &TestApp, token: &str, endpoint: &str, last: Option<&str>) -> SseReader {
    let mut rq = stream_client()
        .get(app.at(&format!("/api/v1/endpoints/{endpoint}/stream")))
        .bearer_auth(token)
        .header("accept", "text/event-stream");
    if let Some(last) = last {
        rq = rq.header("last-event-id", last);
    }
    let r = rq.send().await.expect("stream opens");
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    SseReader::new(r)
}

async fn capture(url: &str, body: &str) -> String {
    let r = api_client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.headers()["x-hookvault-request-id"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_stream_delivers_a_capture_made_after_connecting() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("live@example.com").await;
    let (id, url) = app.create_endpoint(&token, "live").await;
    let (_, other_url) = app.create_endpoint(&token, "other").await;
    let old = capture(&url, r#"{"before":"connecting"}"#).await;

    let mut stream = open_stream(&app, &token, &id, None).await;
    capture(&other_url, r#"{"other":"endpoint"}"#).await;
    let new = capture(&url, r#"{"after":"connecting"}"#).await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let ev = stream
        .wait_for(deadline, "request", |_| true)
        .await
        .expect("a request event within 20 s");
    let data = ev.json();
    assert_eq!(
        data["id"],
        new.as_str(),
        "the first event is the new capture of this endpoint (not {old}, not the other endpoint's)"
    );
    assert!(
        ev.id.as_deref().is_some_and(|s| !s.is_empty()),
        "events carry an id to resume from"
    );
    assert_eq!(data["method"], "POST");
    assert_eq!(data["content_type"], "application/json");
}

#[tokio::test]
async fn with_last_event_id_the_stream_replays_captures_made_while_disconnected() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("resume@example.com").await;
    let (id, url) = app.create_endpoint(&token, "resume").await;
    let deadline = Instant::now() + Duration::from_secs(30);

    let mut stream = open_stream(&app, &token, &id, None).await;
    let first = capture(&url, "1").await;
    let ev = stream
        .wait_for(deadline, "request", |_| true)
        .await
        .expect("first event");
    assert_eq!(ev.json()["id"], first.as_str());
    let last_id = ev.id.clone().expect("event id");
    drop(stream);

    let second = capture(&url, "2").await;
    let third = capture(&url, "3").await;

    let mut stream = open_stream(&app, &token, &id, Some(&last_id)).await;
    let mut replayed = Vec::new();
    while replayed.len() < 2 {
        let ev = stream
            .wait_for(deadline, "request", |_| true)
            .await
            .unwrap_or_else(|| panic!("replay incomplete: got {replayed:?}"));
        replayed.push(ev.json()["id"].as_str().unwrap().to_string());
    }
    assert_eq!(
        replayed,
        [second, third],
        "missed captures in order, nothing twice"
    );

    // And the resumed stream keeps delivering new ones.
    let fourth = capture(&url, "4").await;
    let ev = stream
        .wait_for(deadline, "request", |_| true)
        .await
        .expect("live event after the replay");
    assert_eq!(ev.json()["id"], fourth.as_str());
}
