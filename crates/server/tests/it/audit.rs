//! `hookvault audit`, the real binary, against real handlers: the FastAPI routes in
//! `tests/receivers/official_verifiers.py` that verify with `stripe.Webhook.construct_event`,
//! `standardwebhooks` and GitHub's documented check (and their flawed variants), and small
//! local servers for what a handler must never see.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::official::{
    OfficialReceiver, GITHUB_SECRET, STANDARD_WEBHOOKS_SECRET, STRIPE_SECRET,
};
use crate::common::{tempdir::TempDir, TestApp};

/// What one run of `hookvault audit` printed and how it ended.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn report(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not the JSON report ({e}): {}", self.stdout))
    }
}

async fn audit(args: &[&str]) -> Run {
    let config = TempDir::new();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookvault"))
        .arg("audit")
        .args(args)
        .env("HOOKVAULT_CONFIG_DIR", &config.0)
        .env("HOOKVAULT_LOG", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run hookvault audit");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `--json` audit of `path` on the receiver, 100 ms between probes.
async fn audit_json(receiver: &OfficialReceiver, path: &str, scheme: &str, secret: &str) -> Run {
    let target = format!("{}{path}", receiver.base);
    audit(&[
        "--target",
        &target,
        "--sign",
        scheme,
        "--secret",
        secret,
        "--spacing-ms",
        "100",
        "--json",
    ])
    .await
}

fn outcomes(report: &Value) -> Vec<(u64, String)> {
    report["probes"]
        .as_array()
        .expect("probes")
        .iter()
        .map(|p| {
            (
                p["number"].as_u64().expect("number"),
                p["outcome"].as_str().expect("outcome").to_owned(),
            )
        })
        .collect()
}

fn failed(report: &Value) -> Vec<u64> {
    outcomes(report)
        .into_iter()
        .filter(|(_, o)| o == "fail")
        .map(|(n, _)| n)
        .collect()
}

fn probe(report: &Value, n: usize) -> &Value {
    &report["probes"][n - 1]
}

#[tokio::test]
async fn a_handler_using_the_official_verifiers_passes_every_probe() {
    let Some(receiver) = OfficialReceiver::start().await else {
        return;
    };
    for (path, scheme, secret, requests) in [
        ("/audit/stripe", "stripe", STRIPE_SECRET, 9),
        (
            "/audit/standard",
            "standard-webhooks",
            STANDARD_WEBHOOKS_SECRET,
            9,
        ),
        ("/audit/github", "github", GITHUB_SECRET, 8),
    ] {
        let run = audit_json(&receiver, path, scheme, secret).await;
        let report = run.report();
        assert_eq!(run.code, Some(0), "{scheme}: {}", run.stdout);
        assert_eq!(report["passed"], true, "{scheme}");
        assert!(
            failed(&report).is_empty(),
            "{scheme}: {:?}",
            outcomes(&report)
        );
        assert_eq!(report["requests"], requests, "{scheme}");
        assert_eq!(report["summary"]["warnings"], 0, "{scheme}: answers fast");
        for p in report["probes"].as_array().expect("probes") {
            if p["outcome"] == "pass" {
                let status = p["status"].as_u64().expect("status");
                let class = if p["expected"] == "2xx" { 2 } else { 4 };
                assert_eq!(status / 100, class, "{scheme}: {p}");
            }
        }
        assert!(
            run.stderr
                .contains(&format!("Sending {requests} requests to that URL only")),
            "{scheme}: the audit says up front what it sends: {}",
            run.stderr
        );
    }
    let github = audit_json(&receiver, "/audit/github", "github", GITHUB_SECRET)
        .await
        .report();
    assert_eq!(probe(&github, 4)["outcome"], "skipped");
    assert!(probe(&github, 4)["skip_reason"]
        .as_str()
        .is_some_and(|r| r.contains("no timestamp")));
}

#[tokio::test]
async fn a_handler_that_skips_verification_fails_probes_2_to_5_with_the_right_explanations() {
    let Some(receiver) = OfficialReceiver::start().await else {
        return;
    };
    let target = format!("{}/audit/stripe?mode=skip-verification", receiver.base);
    let run = audit(&[
        "--target",
        &target,
        "--sign",
        "stripe",
        "--secret",
        STRIPE_SECRET,
        "--sample",
        "stripe:invoice.paid",
    ])
    .await;
    assert_eq!(run.code, Some(1), "a must-pass failure fails the command");
    let out = &run.stdout;
    assert!(
        out.contains(&format!(
            "Auditing {target}\nSending 9 requests to that URL only, 250 ms apart"
        )),
        "{out}"
    );
    let mark = |n: u32| {
        out.lines()
            .find_map(|l| {
                let mut words = l.split_whitespace();
                let m = words.next()?;
                let number = n.to_string();
                (["✔", "✘", "-"].contains(&m) && words.next() == Some(number.as_str()))
                    .then(|| m.to_owned())
            })
            .unwrap_or_else(|| panic!("no line for probe {n}: {out}"))
    };
    let marks: Vec<String> = (1..=9).map(mark).collect();
    assert_eq!(
        marks,
        ["✔", "✘", "✘", "✘", "✘", "✔", "✔", "✔", "✔"],
        "{out}"
    );
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    for why in [
        "Anyone who learns this URL can post forged events: refuse a request without a Stripe-Signature header with 400",
        "An event signed with someone else's secret was accepted, so the signature is not really checked",
        "A delivery signed 10 minutes ago was accepted, so anyone who captures one can replay it at will",
        "A body changed after signing was accepted, so an attacker can alter amounts or ids: verify the Stripe-Signature header over the exact raw bytes received",
    ] {
        assert!(flat.contains(why), "missing {why:?} in {out}");
    }
    assert!(
        out.contains("FAILED: must-pass probes 2, 3, 4, 5 failed."),
        "{out}"
    );
}

#[tokio::test]
async fn a_handler_that_answers_500_to_a_duplicate_event_fails_probe_6() {
    let Some(receiver) = OfficialReceiver::start().await else {
        return;
    };
    let run = audit_json(
        &receiver,
        "/audit/stripe?mode=dup-500",
        "stripe",
        STRIPE_SECRET,
    )
    .await;
    let report = run.report();
    assert_eq!(failed(&report), [6], "{:?}", outcomes(&report));
    let six = probe(&report, 6);
    assert_eq!(six["status"], 500);
    assert!(six["explanation"]
        .as_str()
        .is_some_and(|e| e.contains("the provider will keep retrying it")));
    assert_eq!(
        report["summary"]["should_pass_failed"],
        serde_json::json!([6])
    );
    // Probe 6 should pass but is not must-pass: the command still succeeds.
    assert_eq!(run.code, Some(0));
    assert_eq!(report["passed"], true);
}

#[tokio::test]
async fn a_handler_that_sleeps_3_s_gets_the_latency_warning() {
    let Some(receiver) = OfficialReceiver::start().await else {
        return;
    };
    let run = audit_json(
        &receiver,
        "/audit/stripe?mode=slow",
        "stripe",
        STRIPE_SECRET,
    )
    .await;
    let report = run.report();
    let first = probe(&report, 1);
    assert_eq!(first["outcome"], "pass");
    assert!(first["latency_ms"].as_u64().is_some_and(|ms| ms >= 3000));
    let warning = first["warning"].as_str().unwrap_or_default();
    assert!(
        warning.contains("Answered after 3.") && warning.contains("asynchronously"),
        "{warning}"
    );
    assert_eq!(report["summary"]["warnings"], 1);
    assert_eq!(run.code, Some(0), "a warning is not a failure");
}

#[tokio::test]
async fn the_json_report_follows_its_published_schema() {
    let Some(receiver) = OfficialReceiver::start().await else {
        return;
    };
    let schema = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../core/src/audit/report.schema.json");
    let dir = TempDir::new();
    let check = |name: &str, report: &Value| {
        let file = dir.0.join(name);
        std::fs::write(&file, serde_json::to_vec(report).expect("json")).expect("write");
        let out = std::process::Command::new(receiver.python())
            .args([
                "-c",
                "import json, sys, jsonschema\n\
                 schema = json.load(open(sys.argv[1]))\n\
                 jsonschema.Draft202012Validator.check_schema(schema)\n\
                 v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())\n\
                 errors = [e.message for e in v.iter_errors(json.load(open(sys.argv[2])))]\n\
                 print('\\n'.join(errors)); sys.exit(1 if errors else 0)",
            ])
            .arg(&schema)
            .arg(&file)
            .output()
            .expect("run python");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    // A report with failures and explanations, and one with a skipped probe.
    let failing = audit_json(
        &receiver,
        "/audit/stripe?mode=skip-verification",
        "stripe",
        STRIPE_SECRET,
    )
    .await
    .report();
    let skipping = audit_json(&receiver, "/audit/github", "github", GITHUB_SECRET)
        .await
        .report();
    for (name, report) in [("failing.json", &failing), ("skipping.json", &skipping)] {
        let (ok, errors) = check(name, report);
        assert!(ok, "{name} breaks the schema:\n{errors}");
    }
    // The check can fail: a report missing its verdict, or a failure without explanation.
    let mut broken = failing.clone();
    broken.as_object_mut().expect("object").remove("passed");
    broken["probes"][1]["explanation"] = Value::Null;
    let (ok, errors) = check("broken.json", &broken);
    assert!(!ok);
    assert!(
        errors.contains("'passed' is a required property"),
        "{errors}"
    );
    assert!(errors.contains("None is not of type 'string'"), "{errors}");
}

#[tokio::test]
async fn an_audit_can_start_from_a_capture_or_from_its_fixture_file() {
    let Some(receiver) = OfficialReceiver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("audit@example.com").await;
    let (_, capture_url) = app.create_endpoint(&token, "stripe").await;
    let body = format!(
        "{{\n  \"id\": \"evt_captured_for_audit_{}\",\n  \"object\": \"event\",\n  \"created\": 1764500000,\n  \"data\": {{\n    \"object\": {{\n      \"id\": \"in_1\",\n      \"object\": \"invoice\",\n      \"amount_paid\": 4200\n    }}\n  }},\n  \"type\": \"invoice.paid\"\n}}",
        uuid::Uuid::new_v4().simple()
    );
    let signed = hookvault_core::signing::stripe_header(
        "whsec_the_real_stripe_secret",
        1_764_500_000,
        body.as_bytes(),
    );
    let r = reqwest::Client::new()
        .post(&capture_url)
        .header("Content-Type", "application/json")
        .header("Stripe-Signature", signed)
        .body(body.clone())
        .send()
        .await
        .expect("capture");
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-hookvault-request-id"]
        .to_str()
        .expect("id")
        .to_owned();
    let event_id = body
        .split('"')
        .find(|s| s.starts_with("evt_"))
        .expect("event id")
        .to_owned();
    let target = format!("{}/audit/stripe", receiver.base);
    let common = [
        "--target",
        target.as_str(),
        "--sign",
        "stripe",
        "--secret",
        STRIPE_SECRET,
        "--spacing-ms",
        "100",
        "--json",
    ];

    let mut args = common.to_vec();
    args.extend([
        "--from-capture",
        &id,
        "--server",
        &app.url,
        "--token",
        &token,
    ]);
    let run = audit(&args).await;
    let report = run.report();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(report["event"]["source"], "capture");
    assert_eq!(report["event"]["reference"], id.as_str());
    assert_eq!(report["event"]["event_id"], event_id.as_str());
    assert_eq!(report["event"]["body_bytes"], body.len());
    assert!(probe(&report, 5)["sent"]
        .as_str()
        .is_some_and(|s| s.contains("amount_paid changed from 4200 to 4201")));
    let received = receiver.received_audit_ids().await;
    assert!(received.contains(&event_id), "{received:?}");

    let fixture = app
        .client
        .get(app.at(&format!("/requests/{id}/fixture")))
        .send()
        .await
        .expect("fixture")
        .bytes()
        .await
        .expect("fixture body");
    let dir = TempDir::new();
    let file = dir.0.join("fixture.json");
    std::fs::write(&file, &fixture).expect("write fixture");
    let file = file.to_string_lossy().into_owned();
    let mut args = common.to_vec();
    args.extend(["--from-file", &file]);
    let run = audit(&args).await;
    let report = run.report();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(report["event"]["source"], "file");
    assert_eq!(report["event"]["event_id"], event_id.as_str());

    let missing = audit(&[
        "--target",
        &target,
        "--sign",
        "stripe",
        "--secret",
        STRIPE_SECRET,
        "--from-capture",
        &uuid::Uuid::now_v7().to_string(),
        "--server",
        &app.url,
        "--token",
        &token,
    ])
    .await;
    assert_eq!(missing.code, Some(2));
    assert!(missing.stderr.contains("no capture"), "{}", missing.stderr);
    // An id from long ago is a capture that expired: the CLI says so in the server's words.
    let expired = audit(&[
        "--target",
        &target,
        "--sign",
        "stripe",
        "--secret",
        STRIPE_SECRET,
        "--from-capture",
        "00000000-0000-7000-8000-000000000000",
        "--server",
        &app.url,
        "--token",
        &token,
    ])
    .await;
    assert_eq!(expired.code, Some(2));
    assert!(expired.stderr.contains("expired"), "{}", expired.stderr);
}

/// A handler that answers every request with a redirect to `elsewhere`, recording when each
/// request arrived.
async fn redirecting_handler(elsewhere: String) -> (String, Arc<Mutex<Vec<Instant>>>) {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let log = arrivals.clone();
    let app = axum::Router::new().fallback(move || {
        let log = log.clone();
        let elsewhere = elsewhere.clone();
        async move {
            log.lock().unwrap().push(Instant::now());
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [(axum::http::header::LOCATION, elsewhere)],
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, arrivals)
}

#[tokio::test]
async fn probes_are_spaced_and_never_leave_the_target_even_when_it_redirects() {
    let (elsewhere, seen_elsewhere) = crate::common::target::recording_target().await;
    let (target, arrivals) = redirecting_handler(elsewhere).await;
    let run = audit(&[
        "--target",
        &target,
        "--sign",
        "slack",
        "--secret",
        "slack-signing-secret",
        "--json",
    ])
    .await;
    let report = run.report();
    assert_eq!(run.code, Some(1), "probe 1 expects 2xx");
    let arrivals = arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 9, "one request per probe, to the target");
    assert!(
        seen_elsewhere.lock().unwrap().is_empty(),
        "the redirect was not followed"
    );
    for pair in arrivals.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(gap >= Duration::from_millis(240), "burst: {gap:?} apart");
    }
    let first = probe(&report, 1);
    assert_eq!(first["status"], 307);
    assert!(first["explanation"]
        .as_str()
        .is_some_and(|e| e.contains("redirect")));
    assert!(run.stderr.contains(&format!(
        "Auditing {target}\nSending 9 requests to that URL only"
    )));
}

#[tokio::test]
async fn an_audit_that_cannot_run_says_why_and_exits_with_status_2() {
    let run = audit(&[
        "--target",
        "http://127.0.0.1:9/hook",
        "--sign",
        "original",
        "--secret",
        "x",
    ])
    .await;
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("an audit needs a signing scheme"),
        "{}",
        run.stderr
    );
    let run = audit(&[
        "--target",
        "ftp://example.invalid/x",
        "--sign",
        "stripe",
        "--secret",
        "whsec_x",
    ])
    .await;
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("http:// or https://"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("whsec_x"),
        "the secret is never printed"
    );
}

/// A handler that answers 200 to everything and records each request's `X-Bin` value bytes.
async fn header_recording_handler() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let sink = sink.clone();
        async move {
            if let Some(v) = headers.get("x-bin") {
                sink.lock().unwrap().push(v.as_bytes().to_vec());
            }
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn an_audit_from_a_capture_or_its_export_line_sends_non_utf8_header_bytes_unchanged() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("audit-bytes@example.com").await;
    let (endpoint_id, capture_url) = app.create_endpoint(&token, "bytes").await;
    let r = reqwest::Client::new()
        .post(&capture_url)
        .header("Content-Type", "application/json")
        .header(
            "X-Bin",
            reqwest::header::HeaderValue::from_bytes(b"\xff\xfe ok").unwrap(),
        )
        .body(r#"{"id":"evt_bytes","type":"invoice.paid","created":1764500000}"#)
        .send()
        .await
        .expect("capture");
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-hookvault-request-id"]
        .to_str()
        .expect("id")
        .to_owned();
    let (target, seen) = header_recording_handler().await;
    let common = [
        "--target",
        target.as_str(),
        "--sign",
        "stripe",
        "--secret",
        STRIPE_SECRET,
        "--spacing-ms",
        "100",
        "--json",
    ];

    let mut args = common.to_vec();
    args.extend([
        "--from-capture",
        &id,
        "--server",
        &app.url,
        "--token",
        &token,
    ]);
    let run = audit(&args).await;
    assert_ne!(run.code, Some(2), "the audit ran: {}", run.stderr);
    assert_eq!(run.report()["event"]["source"], "capture");
    let from_capture = std::mem::take(&mut *seen.lock().unwrap());
    assert!(!from_capture.is_empty(), "the probes carried X-Bin");
    assert!(
        from_capture.iter().all(|v| v == b"\xff\xfe ok"),
        "every probe sent the captured bytes: {from_capture:?}"
    );

    // The capture's line of the endpoint's NDJSON export, saved to a file.
    let export = app
        .client
        .get(app.at(&format!("/endpoints/{endpoint_id}/export.ndjson")))
        .send()
        .await
        .expect("export");
    assert_eq!(export.status(), 200);
    let export = export.text().await.expect("export body");
    let line = export
        .lines()
        .find(|l| l.contains(&id))
        .expect("the capture's line");
    let dir = TempDir::new();
    let file = dir.0.join("capture.json");
    std::fs::write(&file, line).expect("write");
    let file = file.to_string_lossy().into_owned();
    let mut args = common.to_vec();
    args.extend(["--from-file", &file]);
    let run = audit(&args).await;
    assert_ne!(run.code, Some(2), "the audit ran: {}", run.stderr);
    assert_eq!(run.report()["event"]["source"], "file");
    let from_file = std::mem::take(&mut *seen.lock().unwrap());
    assert!(!from_file.is_empty(), "the probes carried X-Bin");
    assert!(
        from_file.iter().all(|v| v == b"\xff\xfe ok"),
        "every probe sent the file's bytes: {from_file:?}"
    );
}
