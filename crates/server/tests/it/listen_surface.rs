//! `hookvault listen` says what it follows, marks its catch-up, retries a failed local
//! delivery, and `hookvault resend` hands a capture to it again — the real binary against a
//! spawned server and a local handler on port 0.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncBufReadExt;

use crate::common::wait::wait_for;
use crate::common::TestApp;
use crate::listen::wait_connected;

/// A local handler that answers each POST to `/hook` with the next status of its script (200
/// once the script is used up) and records the event ids of the bodies it got.
#[derive(Clone)]
pub(crate) struct Scripted {
    pub(crate) url: String,
    script: Arc<Mutex<VecDeque<u16>>>,
    got: Arc<Mutex<Vec<(u16, String)>>>,
}

impl Scripted {
    pub(crate) async fn start(script: &[u16]) -> Scripted {
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let got = Arc::new(Mutex::new(Vec::new()));
        let (s, g) = (script.clone(), got.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::body::Bytes| {
                let (s, g) = (s.clone(), g.clone());
                async move {
                    let status = s.lock().unwrap().pop_front().unwrap_or(200);
                    let v: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    let id = v["id"].as_str().unwrap_or("").to_string();
                    g.lock().unwrap().push((status, id));
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        format!("answered {status}"),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Scripted { url, script, got }
    }

    /// The statuses answered to event `id`, in order.
    pub(crate) fn answers_to(&self, id: &str) -> Vec<u16> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, i)| i == id)
            .map(|(s, _)| *s)
            .collect()
    }
}

/// A `hookvault` command with its stdout and stderr collected line by line.
pub(crate) struct Run {
    child: tokio::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Run {
    pub(crate) fn start(config_dir: &std::path::Path, args: &[&str]) -> Run {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookvault"))
            .args(args)
            .env("HOOKVAULT_CONFIG_DIR", config_dir)
            .env("HOOKVAULT_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start hookvault");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for pipe in [
            Box::new(out) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box::new(err),
        ] {
            let sink = lines.clone();
            tokio::spawn(async move {
                let mut reader = tokio::io::BufReader::new(pipe).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    sink.lock().unwrap().push(line);
                }
            });
        }
        Run { child, lines }
    }

    /// `hookvault listen` for `endpoint` (none: let it choose), connected when this returns.
    pub(crate) async fn listen(
        app: &TestApp,
        token: &str,
        config_dir: &std::path::Path,
        target: &str,
        endpoint: Option<&str>,
        extra: &[&str],
    ) -> Run {
        let mut args = vec![
            "listen",
            "--forward-to",
            target,
            "--server",
            &app.url,
            "--token",
            token,
        ];
        if let Some(e) = endpoint {
            args.extend(["--endpoint", e]);
        }
        args.extend(extra);
        let run = Run::start(config_dir, &args);
        wait_connected(config_dir).await;
        run
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The first printed line satisfying `want`, waiting for it.
    pub(crate) async fn wait_line(&self, what: &str, want: impl Fn(&str) -> bool) -> String {
        wait_for(
            &format!("a line for {what}"),
            Duration::from_secs(30),
            async || {
                let lines = self.lines();
                match lines.iter().find(|l| want(l)) {
                    Some(l) => Ok(l.clone()),
                    None => Err(format!("the CLI printed: {lines:#?}")),
                }
            },
        )
        .await
    }

    /// The final delivery line of event `evt` (not a retry notice).
    async fn delivered(&self, evt: &str) -> String {
        self.wait_line(evt, |l| {
            l.contains(evt) && l.contains("→") && !l.contains("retrying in")
        })
        .await
    }

    /// Waits for the command to exit; its status and everything it printed.
    pub(crate) async fn finish(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("the command exits")
            .unwrap();
        // Let the readers drain the closed pipes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        (status, self.lines())
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = self.child.wait().await;
    }
}

/// Captures a Stripe-looking event `id` (unsigned).
pub(crate) async fn capture(url: &str, id: &str) -> String {
    let body = format!("{{\"id\":\"{id}\",\"object\":\"event\",\"type\":\"invoice.paid\",\"created\":1700000000,\"data\":{{\"object\":{{\"id\":\"in_1\",\"object\":\"invoice\"}}}}}}");
    let r = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .header(
            "User-Agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
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

/// The replay history of a capture, waiting until it holds a finished replay; the newest.
async fn finished_replay(app: &TestApp, token: &str, request_id: &str) -> serde_json::Value {
    let what = "a finished replay";
    let id = wait_for(what, Duration::from_secs(30), async || {
        let v: serde_json::Value = app
            .api_get(token, &format!("/api/v1/requests/{request_id}/replays"))
            .await
            .json()
            .await
            .unwrap();
        let first = &v["replays"][0];
        match first["status"] == "succeeded" || first["status"] == "failed" {
            true => Ok(first["id"].as_str().unwrap().to_string()),
            false => Err(v),
        }
    })
    .await;
    app.api_get(token, &format!("/api/v1/replays/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn listen_names_the_endpoint_it_follows_and_says_how_to_choose_when_it_picked_one_of_several()
{
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("which@example.com").await;
    let (alpha_id, alpha_url) = app.create_endpoint(&token, "alpha").await;
    let (beta_id, beta_url) = app.create_endpoint(&token, "beta").await;
    let target = Scripted::start(&[]).await;
    let config_dir = crate::common::tempdir::TempDir::new();

    // None chosen: it follows the oldest, and says so and how to choose.
    let cli = Run::listen(&app, &token, &config_dir.0, &target.url, None, &[]).await;
    let line = cli
        .wait_line("the endpoint line", |l| l.starts_with("Following endpoint"))
        .await;
    assert_eq!(
        line,
        format!("Following endpoint \"alpha\" ({alpha_url}) id {alpha_id}")
    );
    let hint = cli
        .wait_line("the choice", |l| {
            l.contains("endpoints and none was chosen")
        })
        .await;
    assert!(
        hint.contains("has 2 endpoints") && hint.contains("--endpoint NAME_OR_ID"),
        "{hint}"
    );
    // It really follows that one.
    capture(&alpha_url, "evt_alpha").await;
    cli.delivered("evt_alpha").await;
    cli.stop().await;

    // Chosen by name: the line names it, and there is nothing to explain.
    let config_dir = crate::common::tempdir::TempDir::new();
    let cli = Run::listen(&app, &token, &config_dir.0, &target.url, Some("beta"), &[]).await;
    let line = cli
        .wait_line("the endpoint line", |l| l.starts_with("Following endpoint"))
        .await;
    assert_eq!(
        line,
        format!("Following endpoint \"beta\" ({beta_url}) id {beta_id}")
    );
    capture(&beta_url, "evt_beta").await;
    cli.delivered("evt_beta").await;
    assert!(
        !cli.lines().iter().any(|l| l.contains("none was chosen")),
        "{:#?}",
        cli.lines()
    );
    cli.stop().await;
}

#[tokio::test]
async fn deliveries_captured_while_listen_was_offline_are_marked_as_catch_up() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("catchup@example.com").await;
    let (_, url) = app.create_endpoint(&token, "catchup").await;
    let target = Scripted::start(&[]).await;
    let config_dir = crate::common::tempdir::TempDir::new();
    let ep = Some("catchup");

    let cli = Run::listen(&app, &token, &config_dir.0, &target.url, ep, &[]).await;
    capture(&url, "evt_live_1").await;
    let live = cli.delivered("evt_live_1").await;
    assert!(!live.contains("catch-up"), "a live delivery: {live}");
    cli.stop().await;

    // Captured while no listener runs.
    capture(&url, "evt_missed_1").await;
    capture(&url, "evt_missed_2").await;

    let cli = Run::listen(&app, &token, &config_dir.0, &target.url, ep, &[]).await;
    for evt in ["evt_missed_1", "evt_missed_2"] {
        let line = cli.delivered(evt).await;
        assert!(
            line.contains("→  200 (") && line.ends_with("[catch-up: captured while offline]"),
            "a catch-up delivery is marked: {line}"
        );
    }
    capture(&url, "evt_live_2").await;
    let live = cli.delivered("evt_live_2").await;
    assert!(!live.contains("catch-up"), "live again: {live}");
    cli.stop().await;
    assert_eq!(
        target.answers_to("evt_missed_1"),
        vec![200],
        "delivered once"
    );
}

#[tokio::test]
async fn a_failed_local_delivery_is_retried_with_backoff_until_the_dev_server_answers() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("retry@example.com").await;
    let (_, url) = app.create_endpoint(&token, "retry").await;
    // The dev server is restarting: two 503s, then it is back.
    let target = Scripted::start(&[503, 503]).await;
    let config_dir = crate::common::tempdir::TempDir::new();
    let cli = Run::listen(
        &app,
        &token,
        &config_dir.0,
        &target.url,
        Some("retry"),
        &["--retries", "3", "--retry-delay-ms", "50"],
    )
    .await;
    assert!(cli
        .lines()
        .iter()
        .any(|l| l.contains("retried up to 3 times")));
    let request_id = capture(&url, "evt_flaky").await;
    let last = cli.delivered("evt_flaky").await;
    assert!(
        last.contains("→  200 (") && last.ends_with("[delivered on try 3 of 4]"),
        "{last}"
    );
    let notices: Vec<String> = cli
        .lines()
        .into_iter()
        .filter(|l| l.contains("evt_flaky") && l.contains("retrying in"))
        .collect();
    assert_eq!(notices.len(), 2, "{notices:#?}");
    assert!(
        notices[0].contains("→  503 (")
            && notices[0].contains("try 1 of 4 failed; retrying in 50 ms"),
        "{notices:#?}"
    );
    assert!(
        notices[1].contains("try 2 of 4 failed; retrying in 100 ms"),
        "the wait doubles: {notices:#?}"
    );
    assert_eq!(target.answers_to("evt_flaky"), vec![503, 503, 200]);
    // The server records the outcome: delivered.
    let replay = finished_replay(&app, &token, &request_id).await;
    assert_eq!(replay["status"], "succeeded", "{replay}");
    assert_eq!(replay["attempts"][0]["status_code"], 200);

    // A 4xx is the handler's considered answer: not retried.
    target.script.lock().unwrap().push_back(400);
    capture(&url, "evt_rejected").await;
    let line = cli.delivered("evt_rejected").await;
    assert!(line.contains("→  400 ("), "{line}");
    assert_eq!(target.answers_to("evt_rejected"), vec![400]);
    cli.stop().await;
}

#[tokio::test]
async fn with_no_retry_a_refused_local_delivery_is_tried_once_and_reported_failed() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("noretry@example.com").await;
    let (_, url) = app.create_endpoint(&token, "noretry").await;
    // Nothing listens on this port.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let config_dir = crate::common::tempdir::TempDir::new();
    let cli = Run::listen(
        &app,
        &token,
        &config_dir.0,
        &closed,
        Some("noretry"),
        &["--no-retry"],
    )
    .await;
    assert!(cli
        .lines()
        .iter()
        .any(|l| l.contains("not retried (--no-retry)")));
    let request_id = capture(&url, "evt_nobody_home").await;
    let line = cli.delivered("evt_nobody_home").await;
    assert!(
        line.contains("error: connection refused"),
        "the outcome in words: {line}"
    );
    assert!(
        !cli.lines().iter().any(|l| l.contains("retrying")),
        "{:#?}",
        cli.lines()
    );
    let replay = finished_replay(&app, &token, &request_id).await;
    assert_eq!(replay["status"], "failed", "{replay}");
    assert!(replay["attempts"][0]["error"]
        .as_str()
        .unwrap()
        .contains("connection refused"));
    cli.stop().await;
}

#[tokio::test]
async fn resend_delivers_a_capture_again_to_the_running_listener_and_prints_the_answer() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("resend@example.com").await;
    let (_, url) = app.create_endpoint(&token, "resend").await;
    let target = Scripted::start(&[]).await;
    let config_dir = crate::common::tempdir::TempDir::new();
    let cli = Run::listen(
        &app,
        &token,
        &config_dir.0,
        &target.url,
        Some("resend"),
        &[],
    )
    .await;
    let request_id = capture(&url, "evt_again").await;
    cli.delivered("evt_again").await;

    let resend_dir = crate::common::tempdir::TempDir::new();
    let run = Run::start(
        &resend_dir.0,
        &[
            "resend",
            &request_id,
            "--server",
            &app.url,
            "--token",
            &token,
        ],
    );
    let (status, lines) = run.finish().await;
    assert!(status.success(), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "Resending capture {request_id} through hookvault listen (replay "
        ))),
        "{lines:#?}"
    );
    let delivered = lines
        .iter()
        .find(|l| l.starts_with("Delivered: "))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert!(
        delivered.starts_with("Delivered: 200 (")
            && delivered.ends_with(&format!("from {}", target.url)),
        "{delivered}"
    );
    assert_eq!(target.answers_to("evt_again"), vec![200, 200], "sent twice");
    // The listener shows it as a replay.
    let line = cli
        .wait_line("the resent delivery", |l| {
            l.contains("evt_again") && l.contains("[replay ")
        })
        .await;
    assert!(line.contains("→  200 ("), "{line}");

    // A capture that does not exist (or is not the user's): refused in words, exit status 1.
    let unknown = uuid::Uuid::now_v7().to_string();
    let run = Run::start(
        &resend_dir.0,
        &["resend", &unknown, "--server", &app.url, "--token", &token],
    );
    let (status, lines) = run.finish().await;
    assert!(!status.success());
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("no capture {unknown}"))),
        "{lines:#?}"
    );
    cli.stop().await;
}
