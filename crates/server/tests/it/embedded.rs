//! `hookvault serve` without DATABASE_URL: the private cluster keeps its data between runs and
//! is stopped when the server stops.

use hookvault_server::{Database, Server};

#[tokio::test]
async fn the_embedded_cluster_keeps_captures_between_runs_and_stops_with_the_server() {
    let data = crate::common::tempdir::TempDir::new();
    let mut cfg = crate::common::config(crate::common::fresh_database().await, &data.0);
    cfg.database = Database::Embedded(data.0.clone());

    let server = Server::start(cfg.clone()).await.expect("first start");
    let app = crate::common::TestApp::attach(server);
    let token = app.signup_with_token("persist@example.com").await;
    let (id, url) = app.create_endpoint(&token, "persist").await;
    let r = reqwest::Client::new()
        .post(&url)
        .body("kept")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.server.stop().await;

    let pid_file = data.0.join("pg").join("postmaster.pid");
    assert!(
        !pid_file.exists(),
        "the cluster is stopped with the server (postmaster.pid is gone)"
    );

    let server = Server::start(cfg).await.expect("second start");
    let app = crate::common::TestApp::attach(server);
    let list: serde_json::Value = app
        .api_get(&token, &format!("/api/v1/endpoints/{id}/requests"))
        .await
        .json()
        .await
        .unwrap();
    let requests = list["requests"].as_array().expect("requests");
    assert_eq!(requests.len(), 1, "the capture survived the restart");
    app.server.stop().await;
}
