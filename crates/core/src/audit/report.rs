//! The audit's verdicts: one [`ProbeResult`] per probe and the [`Report`] around them, the same
//! structure printed by `hookvault audit --json`, stored by the dashboard and returned by the API
//! (its JSON Schema is `report.schema.json` beside this file). Each failure carries one sentence
//! saying why it matters and what to change.

use serde::{Deserialize, Serialize};

use super::run::{ProbeError, ProbeResponse};
use super::{Probe, SLOW_AFTER_MS};
use crate::signing::Scheme;

/// The version of the report's JSON shape.
pub const REPORT_VERSION: u32 = 1;

/// A probe's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    Skipped,
}

/// The event the probes were built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSummary {
    /// `sample`, `capture` or `file`.
    pub source: String,
    /// The sample's name, the capture's id or the file's path.
    pub reference: String,
    /// Detected provider (`stripe`, `github`, …), if any.
    pub provider: Option<String>,
    /// Event type (`invoice.paid`), if detected.
    pub event_type: Option<String>,
    /// Event or delivery id, if detected.
    pub event_id: Option<String>,
    /// Size of the event's body.
    pub body_bytes: usize,
}

/// The verdict on one probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// 1 to 9.
    pub number: u8,
    /// Machine name (`valid_signature`, …).
    pub probe: Probe,
    /// A few words (`no signature header`).
    pub title: String,
    /// What was sent, in words (empty when skipped).
    pub sent: String,
    /// `2xx` or `4xx`.
    pub expected: String,
    /// A failure of this probe fails the audit.
    pub must_pass: bool,
    pub outcome: Outcome,
    /// The handler's status code; `None` when skipped or no answer came.
    pub status: Option<u16>,
    /// Time until the whole answer was read; `None` when skipped.
    pub latency_ms: Option<u64>,
    /// Why no answer came (timeout, connection refused…).
    pub error: Option<String>,
    /// A concern about a passing probe (probe 1 answered slowly).
    pub warning: Option<String>,
    /// For a failure: why it matters and what to change, in one sentence.
    pub explanation: Option<String>,
    /// Why the probe was not sent.
    pub skip_reason: Option<String>,
    /// The start of the handler's answer (at most 200 characters).
    pub response_excerpt: Option<String>,
}

/// Counts over the probes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub warnings: usize,
    /// Numbers of the must-pass probes that failed (the audit passes when this is empty).
    pub must_pass_failed: Vec<u8>,
    /// Numbers of the other probes that failed.
    pub should_pass_failed: Vec<u8>,
}

/// A whole audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_VERSION`].
    pub version: u32,
    /// The handler's URL; every probe went there and nowhere else.
    pub target: String,
    /// The signing scheme.
    pub scheme: Scheme,
    pub event: EventSummary,
    /// Requests sent (probes not skipped).
    pub requests: usize,
    /// Pause between two probes.
    pub spacing_ms: u64,
    /// When the first probe was sent, RFC 3339.
    pub started_at: String,
    /// True when every must-pass probe (1–5, 8) passed.
    pub passed: bool,
    pub summary: Summary,
    /// Remarks about the audit as a whole (e.g. why rejections may prove nothing).
    pub notes: Vec<String>,
    pub probes: Vec<ProbeResult>,
}

impl Report {
    /// Puts the results together, computing the summary, the verdict and the notes.
    pub fn new(
        target: &str,
        scheme: Scheme,
        event: super::EventSummary,
        spacing_ms: u64,
        started_at: String,
        probes: Vec<ProbeResult>,
    ) -> Report {
        let failed = |must: bool| -> Vec<u8> {
            probes
                .iter()
                .filter(|p| p.outcome == Outcome::Fail && p.must_pass == must)
                .map(|p| p.number)
                .collect()
        };
        let summary = Summary {
            passed: count(&probes, Outcome::Pass),
            failed: count(&probes, Outcome::Fail),
            skipped: count(&probes, Outcome::Skipped),
            warnings: probes.iter().filter(|p| p.warning.is_some()).count(),
            must_pass_failed: failed(true),
            should_pass_failed: failed(false),
        };
        let mut notes = Vec::new();
        let first = probes.iter().find(|p| p.probe == Probe::ValidSignature);
        if first.is_some_and(|p| p.status.is_some_and(|s| (400..500).contains(&s))) {
            notes.push(
                "The correctly signed event was rejected, so the rejections of the other probes \
                 may have nothing to do with their signatures: check that the secret given to \
                 the audit is the one the handler verifies with."
                    .to_owned(),
            );
        }
        Report {
            version: REPORT_VERSION,
            target: target.to_owned(),
            scheme,
            event,
            requests: probes
                .iter()
                .filter(|p| p.outcome != Outcome::Skipped)
                .count(),
            spacing_ms,
            started_at,
            passed: summary.must_pass_failed.is_empty(),
            summary,
            notes,
            probes,
        }
    }
}

fn count(probes: &[ProbeResult], outcome: Outcome) -> usize {
    probes.iter().filter(|p| p.outcome == outcome).count()
}

/// A skipped probe.
pub(super) fn skipped(probe: Probe, reason: &str) -> ProbeResult {
    ProbeResult {
        outcome: Outcome::Skipped,
        skip_reason: Some(reason.to_owned()),
        ..blank(probe, "")
    }
}

fn blank(probe: Probe, sent: &str) -> ProbeResult {
    ProbeResult {
        number: probe.number(),
        probe,
        title: probe.title().to_owned(),
        sent: sent.to_owned(),
        expected: probe.expects().as_str().to_owned(),
        must_pass: probe.must_pass(),
        outcome: Outcome::Pass,
        status: None,
        latency_ms: None,
        error: None,
        warning: None,
        explanation: None,
        skip_reason: None,
        response_excerpt: None,
    }
}

/// Judges the handler's answer to `probe` (signed with `scheme`; `sent` says what was sent).
pub fn judge(
    probe: Probe,
    scheme: Scheme,
    sent: &str,
    answer: Result<ProbeResponse, ProbeError>,
) -> ProbeResult {
    let mut r = blank(probe, sent);
    match answer {
        Err(e) => {
            r.latency_ms = Some(e.latency_ms);
            r.outcome = Outcome::Fail;
            r.explanation = Some(format!(
                "No answer ({}): the provider counts that as a failed delivery and retries, so \
                 make sure the handler is reachable at this URL and answers every request \
                 within a few seconds.",
                e.message
            ));
            r.error = Some(e.message);
        }
        Ok(resp) => {
            r.status = Some(resp.status);
            r.latency_ms = Some(resp.latency_ms);
            r.response_excerpt = Some(excerpt(&resp.body_excerpt)).filter(|s| !s.is_empty());
            if probe.expects().met_by(resp.status) {
                if probe == Probe::ValidSignature && resp.latency_ms > SLOW_AFTER_MS {
                    r.warning = Some(slow(resp.latency_ms));
                }
            } else {
                r.outcome = Outcome::Fail;
                r.explanation = Some(explain(probe, scheme, resp.status));
            }
        }
    }
    r
}

fn excerpt(body: &str) -> String {
    let mut s: String = body.chars().take(200).collect();
    if body.chars().nth(200).is_some() {
        s.push('…');
    }
    s
}

fn slow(ms: u64) -> String {
    format!(
        "Answered after {:.1} s: providers give up after 10–30 s and retry, so acknowledge \
         with 2xx right away and do the work asynchronously (a queue or a background job).",
        ms as f64 / 1000.0
    )
}

/// The header a scheme's signature travels in.
fn signature_header(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Stripe => "Stripe-Signature",
        Scheme::StandardWebhooks => "webhook-signature",
        Scheme::Github => "X-Hub-Signature-256",
        Scheme::Shopify => "X-Shopify-Hmac-Sha256",
        Scheme::Slack => "X-Slack-Signature",
        Scheme::Original | Scheme::None => "signature",
    }
}

/// Why a failed probe matters and what to change, in one sentence.
fn explain(probe: Probe, scheme: Scheme, status: u16) -> String {
    let header = signature_header(scheme);
    let class = status / 100;
    let crashed = class == 5;
    let accepted = class == 2;
    let redirected = class == 3;
    if redirected {
        return format!(
            "The handler answered {status} (a redirect), which providers never follow and count \
             as a failed delivery: serve the webhook at this exact URL and answer it directly."
        );
    }
    match probe {
        Probe::ValidSignature => {
            if crashed {
                "The handler failed on a correctly signed event, so the provider will retry it \
                 for days and may disable the endpoint: find the error in the handler's log and \
                 answer 2xx once the event is accepted."
                    .to_owned()
            } else {
                format!(
                    "A correctly signed event was refused, so every real delivery will be too: \
                     verify the {header} header over the raw request body (not re-serialised \
                     JSON) with the endpoint's signing secret."
                )
            }
        }
        Probe::NoSignature if accepted => format!(
            "Anyone who learns this URL can post forged events: refuse a request without a \
             {header} header with 400 before acting on it."
        ),
        Probe::WrongSecret if accepted => format!(
            "An event signed with someone else's secret was accepted, so the signature is not \
             really checked: verify the {header} header with your endpoint secret (the \
             provider's library compares in constant time) and answer 400 on a mismatch."
        ),
        Probe::StaleTimestamp if accepted => format!(
            "A delivery signed 10 minutes ago was accepted, so anyone who captures one can replay \
             it at will: check the timestamp signed in the {header} header with the library's \
             default tolerance (5 minutes) instead of turning it off."
        ),
        Probe::TamperedBody if accepted => format!(
            "A body changed after signing was accepted, so an attacker can alter amounts or ids: \
             verify the {header} header over the exact raw bytes received, before parsing."
        ),
        Probe::NoSignature | Probe::WrongSecret | Probe::StaleTimestamp | Probe::TamperedBody => {
            if crashed {
                "A request with a bad signature made the handler fail with 5xx, which tells the \
                 provider to retry and hides attacks among errors: catch the verification error \
                 and answer 400."
                    .to_owned()
            } else {
                format!(
                    "A request that fails signature verification got {status}: answer it with \
                     400 (a client error) so the sender knows it was refused."
                )
            }
        }
        Probe::Duplicate => {
            if crashed {
                "A duplicate delivery got a 5xx, so the provider will keep retrying it: record \
                 processed event ids and answer 2xx to a repeat without doing the work again."
                    .to_owned()
            } else {
                format!(
                    "A duplicate delivery was refused with {status}, which the provider counts as \
                     a failed delivery: acknowledge repeats with 2xx and skip the work."
                )
            }
        }
        Probe::OlderEvent => {
            if crashed {
                "An older event arriving after a newer one made the handler fail, and providers \
                 do not guarantee order: compare the event's own time with what you stored, \
                 ignore stale updates and answer 2xx."
                    .to_owned()
            } else {
                format!(
                    "An older event arriving after a newer one was refused with {status}, and \
                     providers do not guarantee order: acknowledge it with 2xx and ignore it if \
                     what you stored is newer."
                )
            }
        }
        Probe::MalformedBody => {
            if crashed {
                "A correctly signed body that is not valid JSON made the handler fail with 5xx, \
                 so the provider retries it forever: catch the parse error and answer 400."
                    .to_owned()
            } else {
                format!(
                    "A body that is not valid JSON got {status}: parse the payload after \
                     verifying it and answer 400 when parsing fails."
                )
            }
        }
        Probe::UnknownType => {
            if crashed {
                "An event type the handler does not know made it fail, and providers add new \
                 types and send them to endpoints that listen to all events: answer 2xx and \
                 ignore types you do not handle."
                    .to_owned()
            } else {
                format!(
                    "An event type the handler does not know was refused with {status}, which \
                     the provider counts as a failed delivery (and may disable the endpoint): \
                     answer 2xx and ignore types you do not handle."
                )
            }
        }
    }
}
