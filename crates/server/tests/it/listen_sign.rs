//! `hookvault listen --sign`: the real binary re-signs only captures whose signature the server
//! found valid at capture; the others reach the local handler without a signature and are
//! flagged, unless `--sign-unverified` is given.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookvault_core::headers::RawHeader;
use hookvault_core::signing::{self, Scheme, SignatureStatus};
use tokio::io::AsyncBufReadExt;

use crate::common::wait::wait_for;
use crate::common::TestApp;
use crate::listen::wait_connected;

/// The secret the sender (Stripe) signs with, configured as the endpoint's signature check.
const SENDER_SECRET: &str = "whsec_the_real_stripe_secret";
/// The secret the developer's local handler verifies with.
const DEV_SECRET: &str = "whsec_dev_local_handler_secret";

type Seen = Arc<Mutex<Vec<(Vec<RawHeader>, Vec<u8>)>>>;

/// A local handler on 127.0.0.1:0 recording each request's headers and body; returns its URL.
async fn header_recording_target() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let sink = sink.clone();
                async move {
                    let hs = headers
                        .iter()
                        .map(|(n, v)| RawHeader::new(n.as_str(), v.as_bytes()))
                        .collect();
                    sink.lock().unwrap().push((hs, body.to_vec()));
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// `hookvault listen` with its stdout and stderr collected line by line.
struct Listen {
    child: tokio::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Listen {
    async fn start(
        app: &TestApp,
        token: &str,
        config_dir: &std::path::Path,
        target: &str,
        extra: &[&str],
    ) -> Listen {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookvault"))
            .args([
                "listen",
                "--forward-to",
                target,
                "--sign",
                "stripe",
                "--secret",
                DEV_SECRET,
                "--server",
                &app.url,
                "--token",
                token,
            ])
            .args(extra)
            .env("HOOKVAULT_CONFIG_DIR", config_dir)
            .env("HOOKVAULT_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start hookvault listen");
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
        wait_connected(config_dir).await;
        Listen { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The first printed line satisfying `want`, waiting for it.
    async fn wait_line(&self, what: &str, want: impl Fn(&str) -> bool) -> String {
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

    /// The printed delivery line of event `evt`, waiting for it.
    async fn line_for(&self, evt: &str) -> String {
        self.wait_line(evt, |l| l.contains(evt)).await
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn event(id: &str) -> Vec<u8> {
    format!("{{\"id\":\"{id}\",\"object\":\"event\",\"type\":\"invoice.paid\",\"created\":1700000000,\"data\":{{\"object\":{{\"id\":\"in_1\",\"object\":\"invoice\"}}}}}}").into_bytes()
}

/// Captures a Stripe event, signed now with `secret` (or not signed at all).
async fn capture(url: &str, id: &str, secret: Option<&str>) {
    let body = event(id);
    let mut req = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json; charset=utf-8")
        .header(
            "User-Agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        );
    if let Some(secret) = secret {
        req = req.header(
            "Stripe-Signature",
            signing::stripe_header(secret, now(), &body),
        );
    }
    let r = req.body(body).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// The headers the local handler received with event `id`, waiting for it.
async fn received(seen: &Seen, id: &str) -> Vec<RawHeader> {
    let what = format!("{id} to reach the handler");
    wait_for(&what, Duration::from_secs(30), async || {
        let seen = seen.lock().unwrap();
        let found = seen.iter().find(|(_, b)| *b == event(id));
        found.map(|(h, _)| h.clone()).ok_or("not yet")
    })
    .await
}

/// What the developer's handler would conclude with its own secret.
fn dev_check(headers: &[RawHeader], id: &str) -> SignatureStatus {
    signing::verify(Scheme::Stripe, headers, &event(id), DEV_SECRET, now()).status
}

fn has_signature(headers: &[RawHeader]) -> bool {
    headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("stripe-signature"))
}

#[tokio::test]
async fn listen_re_signs_only_captures_whose_signature_was_valid_at_capture_and_flags_the_others() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("sign-valid@example.com").await;
    let (id, url) = app.create_endpoint(&token, "checked").await;
    let r = app
        .api(
            reqwest::Method::PATCH,
            &token,
            &format!("/api/v1/endpoints/{id}"),
        )
        .json(&serde_json::json!({"signing": {"scheme": "stripe", "secret": SENDER_SECRET}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (target, seen) = header_recording_target().await;
    let dir = crate::common::tempdir::TempDir::new();
    let cli = Listen::start(&app, &token, &dir.0, &target, &[]).await;

    capture(&url, "evt_genuine", Some(SENDER_SECRET)).await;
    capture(&url, "evt_forged", Some("whsec_someone_else")).await;
    capture(&url, "evt_unsigned", None).await;

    let genuine = received(&seen, "evt_genuine").await;
    assert_eq!(
        dev_check(&genuine, "evt_genuine"),
        SignatureStatus::Valid,
        "a capture that was valid at capture is re-signed for the local handler"
    );
    for evt in ["evt_forged", "evt_unsigned"] {
        let headers = received(&seen, evt).await;
        assert!(
            !has_signature(&headers),
            "{evt} reaches the handler without a Stripe-Signature: {headers:?}"
        );
        assert!(
            headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case("user-agent")
                    && h.value == b"Stripe/1.0 (+https://stripe.com/docs/webhooks)"),
            "{evt} keeps its other original headers"
        );
    }
    let line = cli.line_for("evt_forged").await;
    assert!(
        line.contains("→  200") && line.contains("[not re-signed: signature invalid at capture]"),
        "the forged capture is flagged: {line}"
    );
    let line = cli.line_for("evt_genuine").await;
    assert!(
        !line.contains("not re-signed"),
        "the genuine one is not: {line}"
    );
    cli.wait_line("the signing policy", |l| {
        l.contains("when their signature was valid at capture")
    })
    .await;
    assert!(
        !cli.lines().iter().any(|l| l.contains("no signature check")),
        "no warning for an endpoint that checks signatures: {:#?}",
        cli.lines()
    );
    cli.stop().await;
}

#[tokio::test]
async fn listen_warns_when_the_endpoint_checks_no_signature_and_signs_everything_only_with_sign_unverified(
) {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("sign-unchecked@example.com").await;
    let (_, url) = app.create_endpoint(&token, "unchecked").await;
    let (target, seen) = header_recording_target().await;
    let dir = crate::common::tempdir::TempDir::new();

    let cli = Listen::start(&app, &token, &dir.0, &target, &[]).await;
    cli.wait_line("a warning at start", |l| {
        l.starts_with("Warning:") && l.contains("has no signature check configured")
    })
    .await;
    capture(&url, "evt_first", Some(SENDER_SECRET)).await;
    let headers = received(&seen, "evt_first").await;
    assert!(
        !has_signature(&headers),
        "nothing was verified, so nothing is signed"
    );
    let line = cli.line_for("evt_first").await;
    assert!(
        line.contains("[not re-signed: signature unchecked at capture]"),
        "{line}"
    );
    cli.stop().await;

    let cli = Listen::start(&app, &token, &dir.0, &target, &["--sign-unverified"]).await;
    cli.wait_line("the warning about --sign-unverified", |l| {
        l.starts_with("Warning:") && l.contains("--sign-unverified gives anything")
    })
    .await;
    capture(&url, "evt_second", None).await;
    let headers = received(&seen, "evt_second").await;
    assert_eq!(
        dev_check(&headers, "evt_second"),
        SignatureStatus::Valid,
        "--sign-unverified signs even an unchecked capture"
    );
    let line = cli.line_for("evt_second").await;
    assert!(!line.contains("not re-signed"), "{line}");
    cli.stop().await;
}
