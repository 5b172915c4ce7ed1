//! The fault suite: what one tenant or a failing database does to everyone else, against the
//! real server and a real PostgreSQL. Each test reproduces one fault and asserts what senders
//! and users see; the figures in the README's "Under faults" come from the same scenarios.

use std::time::Duration;

use futures_util::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::common::browser::api_client;
use crate::common::process::ServerProcess;
use crate::common::TestApp;
use hookvault_server::Database;
use hookvault_store::embedded::EmbeddedCluster;
use hookvault_store::{Deadlines, BACKGROUND_APPLICATION, BACKGROUND_NICENESS};

/// The embedded cluster's processes: the postmaster (from its pid file) and its children.
fn cluster_pids(data_dir: &std::path::Path) -> Vec<u32> {
    let pid_file = std::fs::read_to_string(data_dir.join("pg/postmaster.pid"))
        .expect("the cluster's postmaster.pid");
    let postmaster: u32 = pid_file
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .expect("postmaster pid");
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let after = &stat[stat.rfind(')')? + 2..];
                    after.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(postmaster)
        })
        .collect();
    pids.push(postmaster);
    pids
}

/// Sends `sig` to every process in `pids` (a backend that has just exited is no error).
fn signal(pids: &[u32], sig: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(std::process::Stdio::null())
        .status()
        .expect("kill");
}

/// Thaws the cluster even when the test fails, so the server can stop.
struct Thaw(Vec<u32>);

impl Drop for Thaw {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-CONT")
            .args(self.0.iter().map(u32::to_string))
            .status();
    }
}

/// A server with its own embedded cluster (supervised), so faults hurt no other test.
async fn server_with_own_cluster() -> TestApp {
    TestApp::spawn_with(|c| c.database = Database::Embedded(c.data_dir.clone())).await
}

/// The niceness of process `pid` (field 19 of `/proc/{pid}/stat`).
fn niceness(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process's stat");
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    after
        .split_whitespace()
        .nth(16)
        .and_then(|n| n.parse().ok())
        .expect("niceness")
}

async fn capture(url: &str, body: &str) -> (u16, Duration) {
    let started = Instant::now();
    let r = api_client()
        .post(url)
        .body(body.to_string())
        .send()
        .await
        .expect("an answer");
    (r.status().as_u16(), started.elapsed())
}

#[tokio::test]
async fn with_the_database_frozen_captures_answer_503_within_10_s_and_200_again_once_it_thaws() {
    let app = server_with_own_cluster().await;
    let token = app.signup_with_token("frozen@example.com").await;
    let (_, url) = app.create_endpoint(&token, "frozen").await;
    assert_eq!(capture(&url, "before").await.0, 200);

    let pids = cluster_pids(&app.data_dir.0);
    signal(&pids, "STOP");
    let thaw = Thaw(pids);
    let answers = join_all((0..5).map(|n| capture(&url, if n == 0 { "a" } else { "b" }))).await;
    for (status, took) in &answers {
        assert_eq!(*status, 503, "a capture while the database is frozen");
        assert!(
            *took < Duration::from_secs(10),
            "answered within 10 s, not {took:?}"
        );
    }

    let slowest = answers.iter().map(|(_, t)| *t).max().unwrap_or_default();
    drop(thaw);
    let (status, took) = capture(&url, "after").await;
    eprintln!("under faults: frozen database: 5 captures answered 503 within {slowest:?}; after thawing, 200 in {took:?}");
    assert_eq!(status, 200, "the first capture after the database thaws");
    assert!(took < Duration::from_secs(10), "answered in {took:?}");
    app.server.stop().await;
}

#[tokio::test]
async fn after_kill_9_of_the_embedded_cluster_under_load_captures_recover_by_themselves_and_nothing_acknowledged_is_lost(
) {
    let app = server_with_own_cluster().await;
    let token = app.signup_with_token("killed@example.com").await;
    let (id, url) = app.create_endpoint(&token, "killed").await;

    // Four senders in a loop, each remembering what was acknowledged.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let senders: Vec<_> = (0..4)
        .map(|s| {
            let url = url.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let client = api_client();
                let mut acked = Vec::new();
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    if let Ok(r) = client.post(&url).body(format!("{s}-{n}")).send().await {
                        if r.status() == 200 {
                            acked.push((Instant::now(), format!("{s}-{n}")));
                        }
                    }
                }
                acked
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed_at = Instant::now();
    signal(&cluster_pids(&app.data_dir.0), "KILL");
    tokio::time::sleep(Duration::from_secs(20)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acked = Vec::new();
    for s in senders {
        acked.extend(s.await.expect("sender"));
    }

    let first_after = acked
        .iter()
        .filter(|(at, _)| *at > killed_at + Duration::from_millis(100))
        .map(|(at, _)| *at - killed_at)
        .min()
        .expect("captures answer 200 again after the kill");
    assert!(
        first_after < Duration::from_secs(15),
        "captures answered 200 again {first_after:?} after the kill"
    );
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT body FROM requests WHERE endpoint_id = $1::uuid")
            .bind(&id)
            .fetch_all(&app.server.pool)
            .await
            .expect("stored bodies");
    let stored: std::collections::HashSet<String> = stored
        .into_iter()
        .map(|b| String::from_utf8(b).unwrap())
        .collect();
    let lost: Vec<&String> = acked
        .iter()
        .map(|(_, body)| body)
        .filter(|b| !stored.contains(*b))
        .collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    eprintln!(
        "under faults: kill -9 of the cluster: 200 again after {first_after:?}; {} acknowledged, 0 lost",
        acked.len()
    );
    app.server.stop().await;
}

/// Opens a connection from `source` that declares a 1 MB body and sends one byte of it.
async fn slow_body(
    server: std::net::SocketAddr,
    source: std::net::IpAddr,
    path: &str,
) -> Option<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.bind(std::net::SocketAddr::new(source, 0)).ok()?;
    let mut stream = socket.connect(server).await.ok()?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: slow\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\na"
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    Some(stream)
}

/// Whether the server has closed the connection (end of stream or reset, after any answer).
async fn closed_by_server(stream: &mut tokio::net::TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn two_thousand_slow_bodies_from_one_address_neither_slow_down_another_account_nor_stay_open()
{
    let server = ServerProcess::start(&[]).await;
    let attacker = server.account("slow@example.com").await;
    let (_, slow_url) = server.endpoint(&attacker, "slow").await;
    let victim = server.account("victim@example.com").await;
    let (_, url) = server.endpoint(&victim, "victim").await;
    let addr: std::net::SocketAddr = server
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("server address");
    let path = reqwest::Url::parse(&slow_url).unwrap().path().to_string();

    let source: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let mut slow: Vec<tokio::net::TcpStream> = Vec::new();
    for _ in 0..20 {
        let opened = join_all((0..100).map(|_| slow_body(addr, source, &path))).await;
        slow.extend(opened.into_iter().flatten());
    }
    let opened_at = Instant::now();

    let client = api_client();
    let mut slowest = Duration::ZERO;
    for n in 0..100 {
        let started = Instant::now();
        let r = client
            .post(&url)
            .body(format!("victim {n}"))
            .send()
            .await
            .expect("an answer");
        assert_eq!(r.status(), 200, "the other account's capture {n}");
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < Duration::from_secs(1),
        "the other account's slowest capture took {slowest:?}"
    );
    let rss = server.rss();
    assert!(
        rss < 512 * 1024 * 1024,
        "server memory with 2,000 slow bodies: {} MiB",
        rss / (1024 * 1024)
    );

    // The server lets go of them: refused over the per-address cap, or cut off at the deadline.
    let total = slow.len();
    let mut open = slow;
    while !open.is_empty() && opened_at.elapsed() < Duration::from_secs(70) {
        let mut still = Vec::with_capacity(open.len());
        for mut s in open {
            if !closed_by_server(&mut s).await {
                still.push(s);
            }
        }
        open = still;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "under faults: 2,000 slow bodies: other account's slowest of 100 captures {slowest:?}; server RSS {} MiB; {} of {total} still open after {:?}",
        rss / (1024 * 1024),
        open.len(),
        opened_at.elapsed()
    );
    assert!(
        open.len() * 20 <= total,
        "{} of {total} slow connections still open after 70 s",
        open.len()
    );
}

#[tokio::test]
async fn five_listen_streams_that_never_read_do_not_grow_the_server_by_their_bodies() {
    // 3 MiB bodies: over the free plan's 1 MiB, so this account's plan takes 10 MiB.
    let dir = crate::common::tempdir::TempDir::new();
    let plans = dir.0.join("plans.toml");
    std::fs::write(&plans, "[plans.free]\nmax_body_bytes = 10485760\n").expect("plans file");
    let server = ServerProcess::start(&["--plans", plans.to_str().expect("path")]).await;
    let token = server.account("streams@example.com").await;
    let (id, url) = server.endpoint(&token, "big").await;
    let body = "x".repeat(3 * 1024 * 1024);
    let client = api_client();
    for _ in 0..30 {
        let r = client.post(&url).body(body.clone()).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = server.rss();

    let addr = server.url.trim_start_matches("http://").to_string();
    let mut streams = Vec::new();
    for _ in 0..5 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        // From the start: every one of the 30 captures is due, none is read.
        let rq = format!(
            "GET /api/v1/endpoints/{id}/stream?client=cli HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {token}\r\nAccept: text/event-stream\r\nLast-Event-ID: 0.0\r\n\r\n"
        );
        s.write_all(rq.as_bytes()).await.unwrap();
        streams.push(s);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = server.rss();
    let grown = after.saturating_sub(before);
    eprintln!(
        "under faults: 5 stalled streams over 30 × 3 MiB: server RSS {} → {} MiB",
        before / (1024 * 1024),
        after / (1024 * 1024)
    );
    assert!(
        grown < 250 * 1024 * 1024,
        "five stalled streams over 30 × 3 MiB grew the server by {} MiB",
        grown / (1024 * 1024)
    );
    drop(streams);
}

/// A target that accepts connections and never answers.
async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hole", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

async fn replay_to(app: &TestApp, token: &str, request_id: &str, target: &str) -> String {
    let r = api_client()
        .post(app.at(&format!("/api/v1/requests/{request_id}/replays")))
        .bearer_auth(token)
        .json(&serde_json::json!({"target_url": target, "signing": {"scheme": "none"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "replay queued");
    r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn capture_id(url: &str) -> String {
    let r = api_client().post(url).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.headers()["x-hookvault-request-id"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn one_accounts_replays_to_a_black_hole_do_not_hold_the_workers_another_account_needs() {
    let app = TestApp::spawn_with(|c| {
        c.replay_workers = 3;
        c.replay_account_concurrency = 2;
    })
    .await;
    let hole = black_hole().await;
    let a = app.signup_with_token("hole@example.com").await;
    let (_, a_url) = app.create_endpoint(&a, "hole").await;
    for _ in 0..6 {
        let id = capture_id(&a_url).await;
        replay_to(&app, &a, &id, &hole).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let b = app.signup_with_token("fine@example.com").await;
    let (_, b_url) = app.create_endpoint(&b, "fine").await;
    let (target, received) = crate::common::target::recording_target().await;
    let id = capture_id(&b_url).await;
    let started = Instant::now();
    let replay = replay_to(&app, &b, &id, &target).await;
    loop {
        let v = app.api_json(&b, &format!("/api/v1/replays/{replay}")).await;
        if v["status"] == "succeeded" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the other account's replay waited behind the black hole: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(received.lock().unwrap().len(), 1);
    eprintln!(
        "under faults: another account's replay succeeded {:?} after 6 replays to a black hole",
        started.elapsed()
    );
}

#[tokio::test]
async fn another_accounts_single_replay_is_delivered_while_a_1000_job_bulk_is_in_progress() {
    // One worker slot: only the claim's rotation across accounts can let B through.
    let app = TestApp::spawn_with(|c| {
        c.replay_workers = 1;
        c.replay_account_concurrency = 2;
    })
    .await;
    let a = app.signup_with_token("bulk-a@example.com").await;
    let (a_endpoint, a_url) = app.create_endpoint(&a, "bulk").await;
    let mut ids = Vec::with_capacity(1000);
    for chunk in 0..20 {
        let got = join_all((0..50).map(|n| {
            let url = a_url.clone();
            async move {
                let r = api_client()
                    .post(&url)
                    .body(format!("{{\"n\":{}}}", chunk * 50 + n))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.headers()["x-hookvault-request-id"]
                    .to_str()
                    .unwrap()
                    .to_string()
            }
        }))
        .await;
        ids.extend(got);
    }
    // A's dev server answers each replay after 5 ms: the bulk takes at least 5 s.
    let a_seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let a_target = {
        let seen = a_seen.clone();
        let app = axum::Router::new().fallback(move || {
            let seen = seen.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/bulk", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    };
    let r = api_client()
        .post(app.at(&format!("/api/v1/endpoints/{a_endpoint}/replays")))
        .bearer_auth(&a)
        .json(&serde_json::json!({"request_ids": ids, "order": "received",
            "target_url": a_target, "signing": {"scheme": "none"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "bulk queued");
    let started = Instant::now();
    while a_seen.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the bulk never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let b = app.signup_with_token("single-b@example.com").await;
    let (_, b_url) = app.create_endpoint(&b, "single").await;
    let (target, received) = crate::common::target::recording_target().await;
    let id = capture_id(&b_url).await;
    let queued = Instant::now();
    let replay = replay_to(&app, &b, &id, &target).await;
    while received.lock().unwrap().is_empty() {
        assert!(
            queued.elapsed() < Duration::from_secs(20),
            "B's replay waited behind A's bulk"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let bulk_sent = a_seen.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        bulk_sent < 1000,
        "B's replay was delivered only after A's whole bulk ({bulk_sent} sent)"
    );
    let v = app.api_json(&b, &format!("/api/v1/replays/{replay}")).await;
    assert_ne!(v["status"], "failed", "{v}");
    eprintln!(
        "under faults: another account's replay delivered {:?} after it was queued, \
         with {bulk_sent} of a 1000-job bulk sent",
        queued.elapsed()
    );
}

#[tokio::test]
async fn with_the_embedded_cluster_searches_run_at_the_lowest_cpu_priority_and_captures_do_not() {
    let app = server_with_own_cluster().await;
    let token = app.signup_with_token("nice@example.com").await;
    let (id, url) = app.create_endpoint(&token, "nice").await;
    assert_eq!(capture(&url, r#"{"customer":"cus_nice"}"#).await.0, 200);
    let r = app
        .api_get(
            &token,
            &format!("/api/v1/endpoints/{id}/requests?q=cus_nice"),
        )
        .await;
    assert_eq!(r.status(), 200);
    let found: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        found["requests"].as_array().map(Vec::len),
        Some(1),
        "{found}"
    );

    let cluster = EmbeddedCluster::start(&app.data_dir.0)
        .await
        .expect("the server's cluster");
    let pool = hookvault_store::connect(cluster.connect_options(), 1, Deadlines::WEB)
        .await
        .expect("connect");
    let backends: Vec<(i32, String)> = sqlx::query_as(
        "SELECT pid, application_name FROM pg_stat_activity \
         WHERE datname = 'hookvault' AND backend_type = 'client backend' \
           AND pid <> pg_backend_pid()",
    )
    .fetch_all(&pool)
    .await
    .expect("backends");
    let (background, others): (Vec<_>, Vec<_>) = backends
        .iter()
        .partition(|(_, name)| name == BACKGROUND_APPLICATION);
    assert!(
        !background.is_empty(),
        "the search's connection: {backends:?}"
    );
    assert!(
        !others.is_empty(),
        "the capture path's connections: {backends:?}"
    );
    for (pid, _) in background {
        assert_eq!(niceness(*pid), BACKGROUND_NICENESS, "a background backend");
    }
    for (pid, name) in others {
        assert_eq!(
            niceness(*pid),
            0,
            "backend {pid} ({name:?}) keeps normal priority"
        );
    }
    pool.close().await;
    app.server.stop().await;
}

/// One search through the API: (status, how long it took).
async fn timed_search(app: &TestApp, token: &str, endpoint: &str) -> (u16, Duration) {
    let started = Instant::now();
    let r = app
        .api_get(
            token,
            &format!("/api/v1/endpoints/{endpoint}/requests?q=%22no%20capture%20has%20this%22"),
        )
        .await;
    (r.status().as_u16(), started.elapsed())
}

#[tokio::test]
async fn an_account_searching_in_a_loop_is_held_to_its_share_while_another_account_s_search_answers_at_once(
) {
    // A tiny share, so that a few searches use it up.
    let app = TestApp::spawn_with(|c| {
        c.search_share = hookvault_web::HeavyShare {
            per_second: 0.01,
            burst: Duration::from_millis(1),
        }
    })
    .await;
    let hog = app.signup_with_token("hog@example.com").await;
    let (hog_endpoint, hog_url) = app.create_endpoint(&hog, "hog").await;
    let quiet = app.signup_with_token("quiet@example.com").await;
    let (quiet_endpoint, quiet_url) = app.create_endpoint(&quiet, "quiet").await;
    for url in [&hog_url, &quiet_url] {
        assert_eq!(capture(url, r#"{"id":"evt_1"}"#).await.0, 200);
    }

    // The hog searches in a loop: once its share is used up, each search waits for it (or,
    // after 5 s, gets 429), so its loop slows to its share instead of taking the server.
    let mut slowest = Duration::ZERO;
    let mut statuses = Vec::new();
    for _ in 0..200 {
        let (status, took) = timed_search(&app, &hog, &hog_endpoint).await;
        statuses.push(status);
        slowest = slowest.max(took);
        if slowest >= Duration::from_millis(900) {
            break;
        }
    }
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        slowest >= Duration::from_millis(900),
        "once over its share, the hog's searches wait (slowest {slowest:?})"
    );

    // Another account's search is not held up by the hog's debt.
    let (status, took) = timed_search(&app, &quiet, &quiet_endpoint).await;
    eprintln!("under faults: searching in a loop: the hog's slowest search {slowest:?}; another account's search {took:?}");
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_millis(900),
        "another account's search answered in {took:?}"
    );
    app.server.stop().await;
}
