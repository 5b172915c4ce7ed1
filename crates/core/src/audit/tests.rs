//! Audit tests against in-process handlers that judge signatures with [`signing::verify`].

use std::collections::HashSet;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use super::samples::{sample, SAMPLES};
use super::*;
use crate::signing::SignatureStatus;

const NOW: i64 = 1_764_500_000;
const STRIPE_SECRET: &str = "whsec_test_audit_secret";
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn audit(scheme: Scheme, secret: &str, name: &str) -> Audit {
    let event = sample(name, NOW).expect("sample");
    Audit::new(scheme, secret, event, EventSource::Sample(name.to_owned())).expect("audit")
}

fn verify(scheme: Scheme, secret: &str, r: &ProbeRequest) -> SignatureStatus {
    signing::verify(scheme, &r.headers, &r.body, secret, NOW).status
}

fn header<'a>(r: &'a ProbeRequest, name: &str) -> Option<&'a str> {
    headers::find_str(&r.headers, name)
}

#[derive(Clone, Copy, PartialEq)]
enum Handler {
    /// Verifies, refuses bad JSON with 400, acknowledges duplicates.
    Good,
    /// Never verifies; refuses bad JSON with 400.
    SkipsVerification,
    /// Verifies, but answers 500 to an event id it has seen.
    FailsOnDuplicates,
}

/// A handler in the test process, reached through the [`Transport`] trait.
struct Fake {
    scheme: Scheme,
    secret: &'static str,
    handler: Handler,
    latency_ms: u64,
    seen: Mutex<HashSet<String>>,
    pauses: Mutex<Vec<Duration>>,
}

impl Fake {
    fn new(scheme: Scheme, secret: &'static str, handler: Handler) -> Fake {
        Fake {
            scheme,
            secret,
            handler,
            latency_ms: 5,
            seen: Mutex::new(HashSet::new()),
            pauses: Mutex::new(Vec::new()),
        }
    }

    fn answer(&self, r: &ProbeRequest) -> u16 {
        if self.handler != Handler::SkipsVerification
            && verify(self.scheme, self.secret, r) != SignatureStatus::Valid
        {
            return 400;
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.body) else {
            return 400;
        };
        let id = header(r, "webhook-id")
            .or_else(|| header(r, "x-github-delivery"))
            .or_else(|| header(r, "x-shopify-webhook-id"))
            .map(str::to_owned)
            .or_else(|| v["id"].as_str().map(str::to_owned))
            .or_else(|| v["event_id"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let new = self.seen.lock().map(|mut s| s.insert(id)).unwrap_or(true);
        if !new && self.handler == Handler::FailsOnDuplicates {
            return 500;
        }
        200
    }
}

impl Transport for Fake {
    fn send(
        &self,
        request: ProbeRequest,
    ) -> impl Future<Output = Result<ProbeResponse, ProbeError>> + Send {
        let status = self.answer(&request);
        std::future::ready(Ok(ProbeResponse {
            status,
            latency_ms: self.latency_ms,
            body_excerpt: "{}".to_owned(),
        }))
    }

    fn pause(&self, pause: Duration) -> impl Future<Output = ()> + Send {
        if let Ok(mut p) = self.pauses.lock() {
            p.push(pause);
        }
        std::future::ready(())
    }

    fn now(&self) -> i64 {
        NOW
    }
}

fn outcomes(report: &Report) -> Vec<(u8, Outcome)> {
    report
        .probes
        .iter()
        .map(|p| (p.number, p.outcome))
        .collect()
}

fn failed(report: &Report) -> Vec<u8> {
    report
        .probes
        .iter()
        .filter(|p| p.outcome == Outcome::Fail)
        .map(|p| p.number)
        .collect()
}

#[test]
fn each_probe_request_is_signed_as_its_probe_says() {
    let a = audit(Scheme::Stripe, STRIPE_SECRET, "stripe:invoice.paid");
    let r = |p| a.request(p, NOW).expect("sent");
    let valid = r(Probe::ValidSignature);
    assert_eq!(
        verify(Scheme::Stripe, STRIPE_SECRET, &valid),
        SignatureStatus::Valid
    );
    assert!(header(&r(Probe::NoSignature), "stripe-signature").is_none());
    assert_eq!(
        verify(Scheme::Stripe, STRIPE_SECRET, &r(Probe::WrongSecret)),
        SignatureStatus::Invalid
    );
    assert_eq!(
        verify(Scheme::Stripe, STRIPE_SECRET, &r(Probe::StaleTimestamp)),
        SignatureStatus::ValidButStale
    );
    let tampered = r(Probe::TamperedBody);
    assert_eq!(
        verify(Scheme::Stripe, STRIPE_SECRET, &tampered),
        SignatureStatus::Invalid
    );
    assert_eq!(tampered.body.len(), valid.body.len());
    let differing = valid
        .body
        .iter()
        .zip(&tampered.body)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differing, 1, "exactly one byte changed");
    assert!(serde_json::from_slice::<serde_json::Value>(&tampered.body).is_ok());
    assert!(a
        .sent(Probe::TamperedBody)
        .contains("amount_due changed from 2000 to 2001"));
    assert_eq!(r(Probe::Duplicate), valid);
    let malformed = r(Probe::MalformedBody);
    assert_eq!(
        verify(Scheme::Stripe, STRIPE_SECRET, &malformed),
        SignatureStatus::Valid
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&malformed.body).is_err());
}

#[test]
fn the_older_copy_has_its_own_id_and_an_earlier_created_time() {
    let a = audit(Scheme::Stripe, STRIPE_SECRET, "stripe:invoice.paid");
    let json = |p| {
        let r = a.request(p, NOW).expect("sent");
        assert_eq!(
            verify(Scheme::Stripe, STRIPE_SECRET, &r),
            SignatureStatus::Valid
        );
        serde_json::from_slice::<serde_json::Value>(&r.body).expect("json")
    };
    let (newer, older, unknown) = (
        json(Probe::ValidSignature),
        json(Probe::OlderEvent),
        json(Probe::UnknownType),
    );
    assert_ne!(older["id"], newer["id"]);
    assert!(older["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("evt_")));
    assert_eq!(older["created"].as_i64(), Some(NOW - 3600));
    assert_eq!(older["data"], newer["data"], "about the same object");
    assert_eq!(unknown["type"], UNKNOWN_EVENT_TYPE);
    assert_ne!(unknown["id"], newer["id"]);
    assert_ne!(unknown["id"], older["id"]);
}

#[test]
fn standard_webhooks_keeps_the_message_id_for_the_duplicate_and_changes_it_for_other_events() {
    let a = audit(
        Scheme::StandardWebhooks,
        SW_SECRET,
        "standard-webhooks:contact.created",
    );
    let id = |p| {
        let r = a.request(p, NOW).expect("sent");
        header(&r, "webhook-id").expect("webhook-id").to_owned()
    };
    assert_eq!(a.event().event_type.as_deref(), Some("contact.created"));
    assert_eq!(a.event().event_id, Some(id(Probe::ValidSignature)));
    assert_eq!(id(Probe::ValidSignature), id(Probe::Duplicate));
    assert_ne!(id(Probe::ValidSignature), id(Probe::OlderEvent));
    assert_ne!(id(Probe::ValidSignature), id(Probe::UnknownType));
    let stale = a.request(Probe::StaleTimestamp, NOW).expect("sent");
    assert_eq!(
        verify(Scheme::StandardWebhooks, SW_SECRET, &stale),
        SignatureStatus::ValidButStale
    );
}

#[test]
fn a_captured_event_without_a_message_id_gets_one_that_stays_the_same() {
    let event = AuditEvent {
        method: "POST".into(),
        headers: vec![RawHeader::new("Content-Type", "application/json")],
        body: br#"{"type":"a.b","timestamp":"2026-11-30T10:00:00Z","data":{}}"#.to_vec(),
    };
    let a = Audit::new(
        Scheme::StandardWebhooks,
        SW_SECRET,
        event,
        EventSource::File("x.json".into()),
    )
    .expect("audit");
    let first = a.request(Probe::ValidSignature, NOW).expect("sent");
    let again = a.request(Probe::Duplicate, NOW).expect("sent");
    assert_eq!(header(&first, "webhook-id"), header(&again, "webhook-id"));
    let older = a.request(Probe::OlderEvent, NOW).expect("sent");
    assert!(String::from_utf8_lossy(&older.body).contains("2026-11-30T09:00:00Z"));
}

#[test]
fn github_and_shopify_skip_the_timestamp_probe_and_send_eight_requests() {
    for (name, scheme) in [
        ("github:issues.opened", Scheme::Github),
        ("shopify:orders/create", Scheme::Shopify),
    ] {
        let a = audit(scheme, "handler-secret", name);
        assert_eq!(a.request_count(), 8, "{name}");
        let reason = a.skip_reason(Probe::StaleTimestamp).expect("skipped");
        assert!(reason.contains("no timestamp"), "{reason}");
        let report = block_on(run(
            &a,
            "http://127.0.0.1:1/hook",
            &Fake::new(scheme, "handler-secret", Handler::Good),
            Duration::from_millis(1),
            |_| {},
        ));
        assert!(report.passed, "{name}: {:?}", outcomes(&report));
        assert_eq!(report.summary.skipped, 1);
        assert_eq!(report.requests, 8);
    }
}

#[test]
fn a_verifying_handler_passes_every_probe_of_every_sample() {
    for (name, scheme) in SAMPLES {
        let secret = if scheme == Scheme::StandardWebhooks {
            SW_SECRET
        } else {
            "handler-secret"
        };
        let a = audit(scheme, secret, name);
        let fake = Fake::new(scheme, secret, Handler::Good);
        let mut streamed = Vec::new();
        let report = block_on(run(&a, "http://h/x", &fake, DEFAULT_SPACING, |r| {
            streamed.push(r.number)
        }));
        assert!(
            failed(&report).is_empty(),
            "{name}: {:?}",
            outcomes(&report)
        );
        assert!(report.passed);
        assert_eq!(streamed, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        // Spaced: one pause between two consecutive requests.
        let pauses = fake.pauses.lock().expect("pauses").clone();
        assert_eq!(pauses.len(), report.requests - 1);
        assert!(pauses.iter().all(|p| *p == DEFAULT_SPACING));
    }
}

#[test]
fn a_handler_that_skips_verification_fails_probes_two_to_five_with_reasons() {
    let a = audit(Scheme::Stripe, STRIPE_SECRET, "stripe:invoice.paid");
    let fake = Fake::new(Scheme::Stripe, STRIPE_SECRET, Handler::SkipsVerification);
    let report = block_on(run(&a, "http://h/x", &fake, DEFAULT_SPACING, |_| {}));
    assert_eq!(failed(&report), [2, 3, 4, 5]);
    assert!(!report.passed);
    assert_eq!(report.summary.must_pass_failed, [2, 3, 4, 5]);
    let why = |n: usize| report.probes[n - 1].explanation.clone().unwrap_or_default();
    assert!(why(2).contains("forged") && why(2).contains("Stripe-Signature"));
    assert!(why(3).contains("someone else's secret"));
    assert!(why(4).contains("replay"));
    assert!(why(5).contains("raw bytes"));
    let card = scorecard(&report);
    assert!(card.contains("✘  2  no signature header"), "{card}");
    assert!(
        card.contains("FAILED: must-pass probes 2, 3, 4, 5 failed."),
        "{card}"
    );
}

#[test]
fn a_handler_that_fails_on_duplicates_fails_probe_six_only() {
    let a = audit(Scheme::Stripe, STRIPE_SECRET, "stripe:invoice.paid");
    let fake = Fake::new(Scheme::Stripe, STRIPE_SECRET, Handler::FailsOnDuplicates);
    let report = block_on(run(&a, "http://h/x", &fake, DEFAULT_SPACING, |_| {}));
    assert_eq!(failed(&report), [6]);
    assert!(report.passed, "probe 6 is not must-pass");
    assert_eq!(report.summary.should_pass_failed, [6]);
    let why = report.probes[5].explanation.clone().unwrap_or_default();
    assert!(why.contains("keep retrying"), "{why}");
}

#[test]
fn a_slow_first_answer_passes_with_a_latency_warning() {
    let a = audit(Scheme::Stripe, STRIPE_SECRET, "stripe:invoice.paid");
    let mut fake = Fake::new(Scheme::Stripe, STRIPE_SECRET, Handler::Good);
    fake.latency_ms = 3000;
    let report = block_on(run(&a, "http://h/x", &fake, DEFAULT_SPACING, |_| {}));
    let first = &report.probes[0];
    assert_eq!(first.outcome, Outcome::Pass);
    assert!(first
        .warning
        .as_deref()
        .is_some_and(|w| w.contains("3.0 s")));
    assert!(report.passed);
    assert_eq!(report.summary.warnings, 1);
    assert!(probe_lines(first)[0].contains("⚠ slow"));
}

#[test]
fn no_answer_is_a_failure_that_says_what_happened() {
    let r = judge(
        Probe::ValidSignature,
        Scheme::Stripe,
        "x",
        Err(ProbeError {
            message: "connection refused".into(),
            latency_ms: 1,
        }),
    );
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(r.error.as_deref(), Some("connection refused"));
    assert!(r
        .explanation
        .is_some_and(|e| e.contains("connection refused")));
}

#[test]
fn a_rejected_first_probe_adds_a_note_about_the_secret() {
    let a = audit(Scheme::Stripe, STRIPE_SECRET, "stripe:invoice.paid");
    let fake = Fake::new(Scheme::Stripe, "whsec_some_other_secret", Handler::Good);
    let report = block_on(run(&a, "http://h/x", &fake, DEFAULT_SPACING, |_| {}));
    assert!(failed(&report).contains(&1));
    assert_eq!(report.notes.len(), 1);
    assert!(report.notes[0].contains("secret"));
}

#[test]
fn the_audit_needs_a_signing_scheme_and_a_usable_secret() {
    let event = || sample("stripe", NOW).expect("sample");
    let src = || EventSource::Sample("stripe".into());
    assert!(matches!(
        Audit::new(Scheme::None, "s", event(), src()),
        Err(AuditError::NotSigning(Scheme::None))
    ));
    assert!(Audit::new(Scheme::Stripe, "", event(), src()).is_err());
    assert!(Audit::new(Scheme::StandardWebhooks, "whsec_%%%", event(), src()).is_err());
    let a = Audit::new(Scheme::Stripe, "whsec_x", event(), src()).expect("audit");
    assert!(
        !format!("{a:?}").contains("whsec_x"),
        "Debug hides the secret"
    );
}

#[test]
fn samples_are_found_by_full_name_or_provider_and_unknown_ones_are_refused() {
    assert!(sample("stripe:invoice.paid", NOW).is_ok());
    assert!(sample("Slack", NOW).is_ok());
    assert!(sample("stripe:charge.failed", NOW).is_err());
    let a = sample("stripe", NOW).expect("sample");
    let b = sample("stripe", NOW).expect("sample");
    assert_ne!(a.body, b.body, "every sample has fresh ids");
}

#[test]
fn a_capture_export_becomes_an_event() {
    let v = serde_json::json!({
        "method": "POST",
        "headers": [["Stripe-Signature", "t=1,v1=ab"], ["Content-Type", "application/json"]],
        "body_base64": "eyJpZCI6MX0=",
        "content_type": "application/json",
    });
    let e = AuditEvent::from_file(v.to_string().as_bytes()).expect("event");
    assert_eq!(e.body, br#"{"id":1}"#);
    assert_eq!(e.headers[0].name, "Stripe-Signature");
    assert!(AuditEvent::from_file(br#"{"headers": []}"#).is_err());
    assert!(AuditEvent::from_file(b"[1]").is_err());
}

#[test]
fn a_capture_file_with_a_non_utf8_header_keeps_its_bytes() {
    // As the API and the NDJSON export write a value that is not UTF-8: [name, text, base64].
    let v = serde_json::json!({
        "method": "PUT",
        "headers": [["X-Bin", "\u{fffd}\u{fffd}", "//4="], ["A", "b"]],
        "body_base64": "",
    });
    let e = AuditEvent::from_file(v.to_string().as_bytes()).expect("event");
    assert_eq!(e.method, "PUT");
    assert_eq!(e.headers[0].value, vec![0xff, 0xfe]);
    assert_eq!(e.headers[1].value, b"b");
}

#[test]
fn fresh_ids_keep_the_shape_of_the_old_one() {
    let id = edits::fresh_id("evt_1NG8Du2eZvKYlo2CUI79vXWy");
    assert!(id.starts_with("evt_") && id.len() == 28 && id != "evt_1NG8Du2eZvKYlo2CUI79vXWy");
    let uuid = edits::fresh_id("0b3a1f8e-4b0c-4d7e-9f4a-2d8c1e6b5a70");
    assert!(uuid::Uuid::parse_str(&uuid).is_ok());
    assert_ne!(edits::fresh_id("Ev123"), "Ev123");
    assert_ne!(edits::fresh_id("x_"), "x_");
}

#[test]
fn the_scorecard_shows_skips_and_the_verdict() {
    let a = audit(Scheme::Github, "s", "github:issues.opened");
    let report = block_on(run(
        &a,
        "http://h/x",
        &Fake::new(Scheme::Github, "s", Handler::Good),
        DEFAULT_SPACING,
        |_| {},
    ));
    let card = scorecard(&report);
    assert!(card.contains("-  4  timestamp 10 minutes old"), "{card}");
    assert!(card.contains("skipped: GitHub signatures carry no timestamp"));
    assert!(card.contains("PASSED"));
    let said = announcement(&a, "http://h/x", 250);
    assert!(
        said.contains("Sending 8 requests to that URL only, 250 ms apart"),
        "{said}"
    );
}

#[test]
fn the_report_has_exactly_the_members_its_json_schema_requires() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("report.schema.json")).expect("schema is JSON");
    let a = audit(Scheme::Github, "s", "github:issues.opened");
    let report = block_on(run(
        &a,
        "http://h/x",
        &Fake::new(Scheme::Github, "s", Handler::SkipsVerification),
        DEFAULT_SPACING,
        |_| {},
    ));
    let v = serde_json::to_value(&report).expect("report as JSON");
    let keys = |o: &serde_json::Value| -> std::collections::BTreeSet<String> {
        o.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let required = |s: &serde_json::Value| -> std::collections::BTreeSet<String> {
        s["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(keys(&v), required(&schema));
    assert_eq!(keys(&v["event"]), required(&schema["properties"]["event"]));
    assert_eq!(
        keys(&v["summary"]),
        required(&schema["properties"]["summary"])
    );
    let probe_schema = &schema["$defs"]["probe"];
    for p in v["probes"].as_array().expect("probes") {
        assert_eq!(keys(p), required(probe_schema));
    }
    let names: Vec<&str> = probe_schema["properties"]["probe"]["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    let ours: Vec<&str> = Probe::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(names, ours);
    let round_trip: Report = serde_json::from_value(v).expect("reads back");
    assert_eq!(round_trip, report);
}
