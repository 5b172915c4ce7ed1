//! Store outage: with the database down, capture answers 503 with Retry-After (a sender retries
//! what was not stored) and `/readyz` says so; both recover by themselves once it is back.
//! Runs on its own embedded cluster so that stopping it does not disturb other tests.

use std::time::Duration;

use crate::common::browser::api_client;
use crate::common::tempdir::TempDir;
use crate::common::wait::wait_until;
use crate::common::TestApp;
use hookvault_server::Server;
use hookvault_store::embedded::EmbeddedCluster;
use tokio::time::Instant;

/// Interval between polls while waiting for recovery (bounded by a deadline).
const POLL: Duration = Duration::from_millis(100);

async fn capture(url: &str) -> reqwest::Response {
    api_client()
        .post(url)
        .header("content-type", "text/plain")
        .body("during an outage?")
        .send()
        .await
        .expect("capture answered")
}

async fn readyz(app: &TestApp) -> u16 {
    api_client()
        .get(app.at("/readyz"))
        .send()
        .await
        .expect("readyz answered")
        .status()
        .as_u16()
}

/// Stops the cluster when the test ends, even on failure.
struct StopOnDrop(Option<EmbeddedCluster>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            let _ = c.stop();
        }
    }
}

#[tokio::test]
async fn with_the_database_down_capture_answers_503_and_recovers_without_a_restart() {
    let dir = TempDir::new();
    let cluster = EmbeddedCluster::start(&dir.0)
        .await
        .expect("own embedded cluster");
    let options = cluster.connect_options();
    let mut guard = StopOnDrop(Some(cluster));
    let data = TempDir::new();
    let server = Server::start(crate::common::config(options, &data.0))
        .await
        .expect("server starts");
    let app = TestApp::attach(server);
    let token = app.signup_with_token("outage@example.com").await;
    let (id, url) = app.create_endpoint(&token, "outage").await;
    assert_eq!(capture(&url).await.status(), 200);
    assert_eq!(readyz(&app).await, 200);

    // Stop the database.
    let cluster = guard.0.take().expect("cluster");
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop().expect("pg_ctl stop");
        cluster
    })
    .await
    .unwrap();
    drop(cluster);

    for attempt in 0..3 {
        let r = capture(&url).await;
        assert_eq!(
            r.status(),
            503,
            "capture {attempt} while the database is down"
        );
        let retry = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        assert!(
            retry.is_some_and(|s| s > 0),
            "503 carries Retry-After seconds"
        );
        assert!(r.headers().get("x-hookvault-request-id").is_none());
        crate::common::assert_inert(r.headers(), "503 while the database is down");
    }
    assert_eq!(readyz(&app).await, 503, "/readyz reports the outage");
    let health = api_client().get(app.at("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the process itself is up");

    // Start it again; the same server recovers on its own.
    let cluster = EmbeddedCluster::start(&dir.0)
        .await
        .expect("restart cluster");
    guard.0 = Some(cluster);
    let deadline = Instant::now() + Duration::from_secs(60);
    let request_id = loop {
        let r = capture(&url).await;
        if r.status() == 200 {
            break r.headers()["x-hookvault-request-id"]
                .to_str()
                .unwrap()
                .to_string();
        }
        assert_eq!(r.status(), 503, "while recovering, capture says 503");
        assert!(
            Instant::now() < deadline,
            "capture did not recover within 60 s"
        );
        tokio::time::sleep(POLL).await;
    };
    wait_until("/readyz to recover", Duration::from_secs(30), async || {
        readyz(&app).await == 200
    })
    .await;

    // Acknowledged captures are stored; refused ones are not.
    let list = app
        .api_json(&token, &format!("/api/v1/endpoints/{id}/requests"))
        .await;
    let ids: Vec<&str> = list["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "one capture before, one after: {ids:?}");
    assert_eq!(ids[0], request_id);

    let TestApp { server, .. } = app;
    server.stop().await;
    if let Some(c) = guard.0.take() {
        tokio::task::spawn_blocking(move || c.stop())
            .await
            .unwrap()
            .expect("pg_ctl stop");
    }
}
