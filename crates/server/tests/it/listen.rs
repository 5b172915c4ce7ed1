//! `hookvault listen`, the real binary, against a spawned server and a local FastAPI handler
//! that verifies with `stripe.Webhook.construct_event` and a dev secret.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::official::{OfficialReceiver, STRIPE_SECRET};
use crate::common::wait::{wait_for, wait_until};
use crate::common::TestApp;
use tokio::io::AsyncBufReadExt;

/// The secret Stripe signs the captured events with, set as the endpoint's signature check.
const SENDER_SECRET: &str = "whsec_the_real_stripe_secret";

/// A Stripe event in Stripe's wire format (2-space indent, no trailing newline), signed now
/// with the sender's secret ([`SENDER_SECRET`], the endpoint's signature check), which the
/// developer's handler does not know: `listen --sign` re-signs it because it was valid at capture.
fn stripe_event(n: u32) -> (Vec<u8>, String) {
    let body = format!(
        "{{\n  \"id\": \"evt_listen_{n:04}\",\n  \"object\": \"event\",\n  \"api_version\": \"2024-06-20\",\n  \"created\": {},\n  \"data\": {{\n    \"object\": {{\n      \"id\": \"in_{n:04}\",\n      \"object\": \"invoice\",\n      \"amount_paid\": 2000,\n      \"currency\": \"usd\",\n      \"lines\": [\n\n      ],\n      \"metadata\": {{\n      }}\n    }}\n  }},\n  \"livemode\": false,\n  \"type\": \"invoice.paid\"\n}}",
        1_700_000_000 + n
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let header = hookvault_core::signing::stripe_header(SENDER_SECRET, now, body.as_bytes());
    (body.into_bytes(), header)
}

pub(crate) struct Cli {
    child: tokio::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
    /// Reads stdout into `lines` until the CLI closes it.
    reader: tokio::task::JoinHandle<()>,
}

impl Cli {
    pub(crate) async fn start(
        app: &TestApp,
        token: &str,
        config_dir: &std::path::Path,
        forward_to: &str,
    ) -> Cli {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookvault"))
            .args([
                "listen",
                "--forward-to",
                forward_to,
                "--sign",
                "stripe",
                "--secret",
                STRIPE_SECRET,
                "--endpoint",
                "stripe-dev",
                "--server",
                &app.url,
                "--token",
                token,
            ])
            .env("HOOKVAULT_CONFIG_DIR", config_dir)
            .env("HOOKVAULT_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start hookvault listen");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        Cli {
            child,
            lines,
            reader,
        }
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    async fn wait_for(&self, what: &str, pred: impl Fn(&[String]) -> bool) {
        wait_for(what, Duration::from_secs(30), async || {
            let lines = self.lines();
            match pred(&lines) {
                true => Ok(()),
                false => Err(format!("the CLI printed: {lines:#?}")),
            }
        })
        .await
    }

    /// Ctrl-C, as a developer would.
    pub(crate) async fn interrupt(mut self) {
        let pid = self.child.id().expect("pid");
        std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .expect("kill");
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("the CLI exits after Ctrl-C")
            .expect("wait");
        assert!(
            status.success(),
            "the CLI exits cleanly on Ctrl-C: {status}"
        );
        // Everything it printed has been read once its stdout is closed.
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.reader).await;
        assert!(self.lines().iter().any(|l| l == "Stopped."));
    }
}

/// Waits until the CLI has stored its stream position (it is connected and will not miss
/// anything captured from now on).
pub(crate) async fn wait_connected(config_dir: &std::path::Path) {
    wait_until("the CLI to connect", Duration::from_secs(30), async || {
        std::fs::read_to_string(config_dir.join("listen-state.json"))
            .is_ok_and(|text| text.contains("last_event_ids") && text.contains('|'))
    })
    .await
}

async fn capture(url: &str, n: u32) {
    let (body, sig) = stripe_event(n);
    let r = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Stripe-Signature", sig)
        .header(
            "User-Agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

fn delivered(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|l| l.contains("invoice.paid") && l.contains("→  200"))
        .collect()
}

#[tokio::test]
async fn listen_delivers_each_capture_once_in_order_across_restarts_and_carries_dashboard_replays()
{
    let Some(receiver) = OfficialReceiver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("listen@example.com").await;
    let (endpoint_id, url) = app.create_endpoint(&token, "stripe-dev").await;
    let r = app
        .api(
            reqwest::Method::PATCH,
            &token,
            &format!("/api/v1/endpoints/{endpoint_id}"),
        )
        .json(&serde_json::json!({"signing": {"scheme": "stripe", "secret": SENDER_SECRET}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let forward_to = format!("{}/webhooks/stripe", receiver.base);
    let config_dir = crate::common::tempdir::TempDir::new();

    // First run: three events, each delivered once and accepted by construct_event.
    let cli = Cli::start(&app, &token, &config_dir.0, &forward_to).await;
    cli.wait_for("the ready line", |l| {
        l.iter()
            .any(|x| x.starts_with("Ready! Capture URL: ") && x.ends_with(&url))
    })
    .await;
    wait_connected(&config_dir.0).await;
    // The dashboard lists the connected CLI and what it forwards to.
    let page = app
        .get_html(&format!("/endpoints/{endpoint_id}/replays"))
        .await;
    assert!(
        page.contains("forwarding to <code>") && page.contains(&forward_to),
        "the endpoint's replay page shows the connected CLI"
    );
    for n in 1..=3 {
        capture(&url, n).await;
    }
    cli.wait_for("three deliveries", |l| delivered(l).len() == 3)
        .await;
    let line = delivered(&cli.lines())[0].clone();
    assert!(
        line.contains("POST  invoice.paid evt_listen_0001  →  200 ("),
        "one line per delivery: {line}"
    );

    // Offline: three more captures while the CLI is stopped.
    cli.interrupt().await;
    for n in 4..=6 {
        capture(&url, n).await;
    }

    // Second run: exactly those three arrive, once, in order.
    let cli = Cli::start(&app, &token, &config_dir.0, &forward_to).await;
    cli.wait_for("the three missed deliveries", |l| delivered(l).len() == 3)
        .await;
    let received = receiver.received().await;
    let ids: Vec<String> = received
        .iter()
        .map(|b| {
            serde_json::from_slice::<serde_json::Value>(b).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let expected: Vec<String> = (1..=6).map(|n| format!("evt_listen_{n:04}")).collect();
    assert_eq!(
        ids, expected,
        "every event reached the handler exactly once, in order"
    );
    for (n, body) in received.iter().enumerate() {
        assert_eq!(body, &stripe_event(n as u32 + 1).0, "byte-exact body");
    }

    // The dashboard shows what the local server answered for each delivery.
    let list: serde_json::Value = app
        .api_get(
            &token,
            &format!("/api/v1/endpoints/{endpoint_id}/requests?limit=10"),
        )
        .await
        .json()
        .await
        .unwrap();
    let first_request = list["requests"].as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let history: serde_json::Value = app
        .api_get(&token, &format!("/api/v1/requests/{first_request}/replays"))
        .await
        .json()
        .await
        .unwrap();
    let replay_id = history["replays"][0]["id"]
        .as_str()
        .expect("a recorded delivery")
        .to_string();
    let replay: serde_json::Value = app
        .api_get(&token, &format!("/api/v1/replays/{replay_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(replay["status"], "succeeded");
    assert_eq!(replay["attempts"][0]["status_code"], 200);

    // "Send to connected CLI" from the dashboard/API reaches the local handler, and the replay
    // then shows the local status code.
    let r = reqwest::Client::new()
        .post(app.at(&format!("/api/v1/requests/{first_request}/replays")))
        .bearer_auth(&token)
        .json(&serde_json::json!({"to_cli": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let replay = wait_for(
        "the CLI replay to finish",
        Duration::from_secs(30),
        async || {
            let v: serde_json::Value = app
                .api_get(&token, &format!("/api/v1/replays/{id}"))
                .await
                .json()
                .await
                .unwrap();
            match v["status"] == "succeeded" || v["status"] == "failed" {
                true => Ok(v),
                false => Err(v),
            }
        },
    )
    .await;
    assert_eq!(replay["status"], "succeeded", "{replay}");
    assert_eq!(replay["attempts"][0]["status_code"], 200);
    assert_eq!(receiver.received().await.len(), 7);
    cli.interrupt().await;

    // With no CLI connected, a replay handed to the CLI waits for one (see listen_queue).
    let r = reqwest::Client::new()
        .post(app.at(&format!("/api/v1/requests/{first_request}/replays")))
        .bearer_auth(&token)
        .json(&serde_json::json!({"to_cli": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["status"],
        "queued"
    );
}

#[tokio::test]
async fn listen_forwards_header_bytes_that_are_not_utf8_exactly_as_captured() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("bytes@example.com").await;
    let (_, url) = app.create_endpoint(&token, "stripe-dev").await;

    // A local server that records the raw bytes of `X-Bin`.
    let seen = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let sink = seen.clone();
    let local = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let sink = sink.clone();
            async move {
                if let Some(v) = headers.get("x-bin") {
                    sink.lock().unwrap().push(v.as_bytes().to_vec());
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, local).await.unwrap() });

    let config_dir = crate::common::tempdir::TempDir::new();
    let cli = Cli::start(&app, &token, &config_dir.0, &target).await;
    wait_connected(&config_dir.0).await;

    let capture_url = reqwest::Url::parse(&url).unwrap();
    let addr: std::net::SocketAddr = format!(
        "{}:{}",
        capture_url.host_str().unwrap(),
        capture_url.port().unwrap()
    )
    .parse()
    .unwrap();
    let mut rq = format!(
        "POST {} HTTP/1.1\r\nHost: capture\r\nContent-Type: application/json\r\nX-Bin: ",
        capture_url.path()
    )
    .into_bytes();
    rq.extend_from_slice(b"\xff\xfe latin-1 \xe9t\xe9\r\nContent-Length: 2\r\n\r\n{}");
    let answer = crate::common::raw_http::send(addr, &rq).await.unwrap();
    assert_eq!(answer.status, 200, "captured");

    let what = "the capture to reach the local server";
    wait_until(what, Duration::from_secs(30), async || {
        !seen.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(
        seen.lock().unwrap()[0],
        b"\xff\xfe latin-1 \xe9t\xe9".to_vec(),
        "the header's bytes arrive exactly as captured, not replaced by U+FFFD"
    );
    cli.interrupt().await;
}

#[tokio::test]
async fn a_cli_report_with_an_impossible_duration_is_refused_with_422_and_records_nothing() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("duration@example.com").await;
    let (_, url) = app.create_endpoint(&token, "duration").await;
    let r = reqwest::Client::new()
        .post(&url)
        .body("{}")
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-hookvault-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let r = reqwest::Client::new()
        .post(app.at(&format!("/api/v1/requests/{id}/deliveries")))
        .bearer_auth(&token)
        .json(&serde_json::json!({"forward_to": "http://localhost:8000/", "status_code": 200, "duration_ms": u64::MAX}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "the server answers, it does not panic");
    let history: serde_json::Value = app
        .api_get(&token, &format!("/api/v1/requests/{id}/replays"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        history["replays"].as_array().unwrap().len(),
        0,
        "nothing recorded"
    );
}

#[tokio::test]
async fn a_browser_that_opens_the_cli_stream_does_not_register_a_connected_cli() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("browser-stream@example.com").await;
    let (id, _) = app.create_endpoint(&token, "browser").await;
    // The signed-in browser (session cookie) opens the stream as a link would.
    let stream = app
        .client
        .get(app.at(&format!(
            "/api/v1/endpoints/{id}/stream?client=cli&forward_to=http://evil"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200, "reading the stream is allowed");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let page = app.get_html(&format!("/endpoints/{id}/replays")).await;
    assert!(
        !page.contains("http://evil"),
        "no CLI is listed as connected for a browser's GET"
    );
    drop(stream);
}
