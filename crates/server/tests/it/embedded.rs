//! `hookvault serve` without DATABASE_URL: the private cluster keeps its data between runs and
//! is stopped when the server stops.

use hookvault_server::{Database, Server};

#[tokio::test]
async fn the_embedded_cluster_keeps_captures_between_runs_and_stops_with_the_server() {
    let data = crate::common::tempdir::TempDir::new();
    let db = crate::common::fresh_database().await;
    let mut cfg = crate::common::config(db.options(), &data.0);
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

#[tokio::test]
async fn a_deep_data_directory_gets_a_private_socket_directory_with_an_unpredictable_name() {
    use hookvault_store::embedded::EmbeddedCluster;
    use std::os::unix::fs::PermissionsExt;

    let data = crate::common::tempdir::TempDir::new();
    // Too long for a Unix socket path inside the data directory.
    let deep = data.0.join("d".repeat(50)).join("e".repeat(50));
    let cluster = EmbeddedCluster::start(&deep).await.expect("cluster starts");
    let dir = cluster.socket_dir().to_path_buf();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert!(dir.starts_with(std::env::temp_dir()), "{}", dir.display());
    assert_eq!(mode(&dir), 0o700, "the socket directory is private");
    let socket = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy().starts_with(".s.PGSQL.")
                    && !n.to_string_lossy().ends_with(".lock")
            })
        })
        .expect("the socket file");
    assert_eq!(mode(&socket) & 0o077, 0, "only the owner may connect");

    // Adopting the running cluster finds the same socket; a restart gets a new directory.
    let again = EmbeddedCluster::start(&deep).await.expect("adopt");
    assert_eq!(again.socket_dir(), dir);
    let again_dir = again.socket_dir().to_path_buf();
    tokio::task::spawn_blocking(move || again.stop().expect("stop"))
        .await
        .unwrap();
    assert!(
        !again_dir.exists(),
        "the temporary socket directory is removed at stop"
    );
    let restarted = EmbeddedCluster::start(&deep).await.expect("restart");
    assert_ne!(
        restarted.socket_dir(),
        dir,
        "the name is new at every start"
    );
    assert_eq!(mode(restarted.socket_dir()), 0o700);
    tokio::task::spawn_blocking(move || restarted.stop().expect("stop"))
        .await
        .unwrap();
    drop(cluster);
}
