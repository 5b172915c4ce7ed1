//! Handler audit: checks a webhook handler against the production checklist by sending it nine
//! real requests built from one event (issue 14), and judges each answer.
//!
//! This module is the part shared by `hookvault audit` (CLI, reaches `localhost`), the
//! dashboard's "Audit a handler" and the API: it builds every probe request ([`Audit`]), runs
//! them one after another through a [`Transport`] the caller supplies ([`run`]), judges the
//! answers and renders the scorecard. It does no IO itself: the transport sends (to the one URL
//! it was made for, so probes never leave the target's host), pauses between probes and tells
//! the time.
//!
//! The probes, in order (must-pass: 1–5 and 8):
//! 1. the event with a fresh valid signature → 2xx, with a warning above [`SLOW_AFTER_MS`];
//! 2. no signature header → 4xx;
//! 3. signed with a wrong secret → 4xx;
//! 4. a valid signature [`STALE_BY_SECS`] old → 4xx (skipped for GitHub and Shopify, whose
//!    signatures carry no timestamp);
//! 5. the body changed by one byte, the header left as signed → 4xx;
//! 6. the same event again, freshly signed → 2xx (a duplicate must be acknowledged);
//! 7. an older event about the same object after the newer one → 2xx;
//! 8. a malformed body with a valid signature → 4xx;
//! 9. an event type the handler does not know → 2xx.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::{HeaderJson, RequestJson};
use crate::headers::{self, RawHeader};
use crate::provider::{self, Provider};
use crate::signing::{self, Scheme, SignError};

mod edits;
mod json_edit;
mod report;
mod run;
pub mod samples;
mod scorecard;
#[cfg(test)]
mod tests;

pub use report::{judge, EventSummary, Outcome, ProbeResult, Report, Summary};
pub use run::{run, ProbeError, ProbeResponse, Transport};
pub use scorecard::{announcement, probe_lines, scorecard, summary_line};

/// How old the signature of probe 4 is: twice the 300 s the official libraries tolerate.
pub const STALE_BY_SECS: i64 = 600;

/// Probe 1 answered slower than this gets a warning (providers give up after 10–30 s).
pub const SLOW_AFTER_MS: u64 = 2000;

/// Default pause between two probes, so the handler never sees a burst.
pub const DEFAULT_SPACING: Duration = Duration::from_millis(250);

/// The event type probe 9 sends (Stripe and Standard Webhooks; other providers get a name in
/// their own style).
pub const UNKNOWN_EVENT_TYPE: &str = "hookvault.audit_unknown_event";

/// One probe of the audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    ValidSignature,
    NoSignature,
    WrongSecret,
    StaleTimestamp,
    TamperedBody,
    Duplicate,
    OlderEvent,
    MalformedBody,
    UnknownType,
}

/// What a probe expects from a correct handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A 2xx answer.
    Accept,
    /// A 4xx answer.
    Reject,
}

impl Expect {
    /// `"2xx"` or `"4xx"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Accept => "2xx",
            Expect::Reject => "4xx",
        }
    }

    /// True when `status` is what a correct handler answers.
    pub fn met_by(self, status: u16) -> bool {
        match self {
            Expect::Accept => (200..300).contains(&status),
            Expect::Reject => (400..500).contains(&status),
        }
    }
}

impl Probe {
    /// Every probe, in the order they are sent.
    pub const ALL: [Probe; 9] = [
        Probe::ValidSignature,
        Probe::NoSignature,
        Probe::WrongSecret,
        Probe::StaleTimestamp,
        Probe::TamperedBody,
        Probe::Duplicate,
        Probe::OlderEvent,
        Probe::MalformedBody,
        Probe::UnknownType,
    ];

    /// 1 to 9.
    pub fn number(self) -> u8 {
        match self {
            Probe::ValidSignature => 1,
            Probe::NoSignature => 2,
            Probe::WrongSecret => 3,
            Probe::StaleTimestamp => 4,
            Probe::TamperedBody => 5,
            Probe::Duplicate => 6,
            Probe::OlderEvent => 7,
            Probe::MalformedBody => 8,
            Probe::UnknownType => 9,
        }
    }

    /// The snake_case name, the same string serde uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Probe::ValidSignature => "valid_signature",
            Probe::NoSignature => "no_signature",
            Probe::WrongSecret => "wrong_secret",
            Probe::StaleTimestamp => "stale_timestamp",
            Probe::TamperedBody => "tampered_body",
            Probe::Duplicate => "duplicate",
            Probe::OlderEvent => "older_event",
            Probe::MalformedBody => "malformed_body",
            Probe::UnknownType => "unknown_type",
        }
    }

    /// A few words for the scorecard.
    pub fn title(self) -> &'static str {
        match self {
            Probe::ValidSignature => "valid signature",
            Probe::NoSignature => "no signature header",
            Probe::WrongSecret => "signed with a wrong secret",
            Probe::StaleTimestamp => "timestamp 10 minutes old",
            Probe::TamperedBody => "body changed by one byte",
            Probe::Duplicate => "same event again",
            Probe::OlderEvent => "older event after a newer one",
            Probe::MalformedBody => "malformed body, valid signature",
            Probe::UnknownType => "unknown event type",
        }
    }

    /// What a correct handler answers.
    pub fn expects(self) -> Expect {
        match self {
            Probe::ValidSignature | Probe::Duplicate | Probe::OlderEvent | Probe::UnknownType => {
                Expect::Accept
            }
            _ => Expect::Reject,
        }
    }

    /// Probes 1–5 and 8: a failure makes the audit fail (non-zero exit status).
    pub fn must_pass(self) -> bool {
        !matches!(
            self,
            Probe::Duplicate | Probe::OlderEvent | Probe::UnknownType
        )
    }
}

/// The event the probes are built from: method, headers in order, body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub method: String,
    pub headers: Vec<RawHeader>,
    pub body: Vec<u8>,
}

/// Why an exported capture could not be read as an [`AuditEvent`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not the JSON of a capture (a member is missing or has the wrong type).
    #[error("not a Hookvault capture or fixture: {0}")]
    Shape(String),
    /// `body_base64` is not base64.
    #[error("not a Hookvault capture or fixture: body_base64 is not valid base64")]
    Body,
    /// The body is not inline (`body_url`): the capture was not read in full.
    #[error("the capture's body is not inline (body_base64 is null)")]
    BodyByReference,
}

/// A capture file: the fixture download (`{"method","headers":[[name,value],…],"body_base64",…}`),
/// a capture line of the account's NDJSON export or a saved API answer ([`RequestJson`]): the
/// members they share, typed. Headers are [`HeaderJson`], so a value that is not UTF-8
/// (`[name, text, base64 bytes]`) is read back byte for byte.
#[derive(Debug, Deserialize)]
struct CaptureFile {
    #[serde(default = "post")]
    method: String,
    headers: Vec<HeaderJson>,
    body_base64: Option<String>,
}

fn post() -> String {
    "POST".to_owned()
}

impl AuditEvent {
    /// A capture as `GET /api/v1/requests/{id}` returns it (headers byte for byte).
    pub fn from_request(r: &RequestJson) -> Result<AuditEvent, EventError> {
        let body = r
            .inline_body()
            .ok_or(EventError::BodyByReference)?
            .map_err(|_| EventError::Body)?;
        Ok(AuditEvent {
            method: r.method.clone(),
            headers: r.raw_headers(),
            body,
        })
    }

    /// A capture file's JSON: a fixture download, an export line or an API answer (see
    /// [`CaptureFile`]).
    pub fn from_file(json: &[u8]) -> Result<AuditEvent, EventError> {
        use base64::Engine as _;
        let file: CaptureFile =
            serde_json::from_slice(json).map_err(|e| EventError::Shape(e.to_string()))?;
        let body = file.body_base64.ok_or(EventError::BodyByReference)?;
        let body = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| EventError::Body)?;
        Ok(AuditEvent {
            method: file.method,
            headers: file
                .headers
                .into_iter()
                .map(|h| RawHeader::new(h.name, h.value))
                .collect(),
            body,
        })
    }
}

/// One probe request, ready to send to the target URL (which only the transport knows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRequest {
    pub method: String,
    pub headers: Vec<RawHeader>,
    pub body: Vec<u8>,
}

/// Why an audit cannot be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// `original` and `none` compute no signature, so there is nothing to audit.
    #[error("an audit needs a signing scheme: stripe, standard-webhooks, github, shopify or slack (not {0})")]
    NotSigning(Scheme),
    /// The secret is unusable for the scheme.
    #[error(transparent)]
    Secret(#[from] SignError),
}

/// Where the event came from, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSource {
    /// A built-in sample (`stripe:invoice.paid`).
    Sample(String),
    /// A capture, by id.
    Capture(String),
    /// A fixture file, by path.
    File(String),
}

/// How a probe is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Right,
    Wrong,
    Nothing,
}

/// A probe, prepared: what to sign, what to send, and how.
#[derive(Debug, Clone)]
struct Planned {
    headers: Vec<RawHeader>,
    signed_body: Vec<u8>,
    sent_body: Vec<u8>,
    key: Key,
    age_secs: i64,
    sent: String,
}

/// An audit of one event against one handler: the nine probes, prepared.
pub struct Audit {
    scheme: Scheme,
    /// The event's own method (webhooks are POSTs; a captured PUT is audited as a PUT).
    method: String,
    secret: String,
    wrong_secret: String,
    event: EventSummary,
    plans: Vec<(Probe, Result<Planned, String>)>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("scheme", &self.scheme)
            .field("secret", &"[hidden]")
            .field("event", &self.event)
            .finish()
    }
}

impl Audit {
    /// Prepares the probes for `event`, signed with `scheme` and `secret` (the secret the
    /// handler verifies with).
    pub fn new(
        scheme: Scheme,
        secret: &str,
        event: AuditEvent,
        source: EventSource,
    ) -> Result<Audit, AuditError> {
        if !scheme.signs() {
            return Err(AuditError::NotSigning(scheme));
        }
        if secret.is_empty() {
            return Err(SignError::MissingSecret(scheme).into());
        }
        if scheme == Scheme::StandardWebhooks {
            signing::standard_webhooks_key(secret)?;
        }
        let mut event = event;
        // The message id is what a Standard Webhooks handler de-duplicates on: it must be the
        // same in probes 1 and 6, so it is fixed here rather than generated per signature.
        if scheme == Scheme::StandardWebhooks
            && headers::find(&event.headers, "webhook-id").is_none()
            && headers::find(&event.headers, "svix-id").is_none()
        {
            event
                .headers
                .push(RawHeader::new("webhook-id", signing::new_message_id()));
        }
        // Detected on the event as the handler sees it (signed), since a built-in sample or a
        // fixture may carry no signature headers of its own.
        let signed = signing::resign(scheme, &event.headers, &event.body, secret, 0)?;
        let detected = provider::detect(&signed, &event.body, None);
        let provider = detected.provider.or(match scheme {
            Scheme::Stripe => Some(Provider::Stripe),
            Scheme::StandardWebhooks => Some(Provider::StandardWebhooks),
            Scheme::Github => Some(Provider::Github),
            Scheme::Shopify => Some(Provider::Shopify),
            Scheme::Slack => Some(Provider::Slack),
            Scheme::Original | Scheme::None => None,
        });
        let (kind, reference) = match source {
            EventSource::Sample(s) => ("sample", s),
            EventSource::Capture(s) => ("capture", s),
            EventSource::File(s) => ("file", s),
        };
        let summary = EventSummary {
            source: kind.to_owned(),
            reference,
            provider: provider.map(|p| p.as_str().to_owned()),
            event_type: detected.event_type,
            event_id: detected.event_id,
            body_bytes: event.body.len(),
        };
        let plans = Probe::ALL
            .into_iter()
            .map(|p| (p, plan(p, scheme, provider, &event)))
            .collect();
        Ok(Audit {
            scheme,
            method: event.method.clone(),
            secret: secret.to_owned(),
            wrong_secret: edits::wrong_secret(scheme, secret),
            event: summary,
            plans,
        })
    }

    /// The scheme probes are signed with.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// What the event is, for the report.
    pub fn event(&self) -> &EventSummary {
        &self.event
    }

    /// How many requests the audit sends (skipped probes send none).
    pub fn request_count(&self) -> usize {
        self.plans.iter().filter(|(_, p)| p.is_ok()).count()
    }

    /// Why `probe` is skipped, or `None` when it is sent.
    pub fn skip_reason(&self, probe: Probe) -> Option<&str> {
        self.planned(probe).err()
    }

    /// In a few words, what `probe` sends (e.g. "amount_paid 2000 → 2001, signature over the
    /// original body").
    pub fn sent(&self, probe: Probe) -> &str {
        match self.planned(probe) {
            Ok(p) => &p.sent,
            Err(_) => "",
        }
    }

    fn planned(&self, probe: Probe) -> Result<&Planned, &str> {
        match self.plans.iter().find(|(p, _)| *p == probe) {
            Some((_, Ok(planned))) => Ok(planned),
            Some((_, Err(reason))) => Err(reason),
            None => Err("unknown probe"),
        }
    }

    /// The request for `probe`, signed at `now` (Unix seconds, taken just before sending), or
    /// the reason it is skipped.
    pub fn request(&self, probe: Probe, now: i64) -> Result<ProbeRequest, String> {
        let p = self.planned(probe).map_err(str::to_owned)?;
        let (scheme, secret) = match p.key {
            Key::Right => (self.scheme, self.secret.as_str()),
            Key::Wrong => (self.scheme, self.wrong_secret.as_str()),
            Key::Nothing => (Scheme::None, ""),
        };
        let headers = signing::resign(scheme, &p.headers, &p.signed_body, secret, now - p.age_secs)
            .map_err(|e| e.to_string())?;
        Ok(ProbeRequest {
            method: self.method.clone(),
            headers,
            body: p.sent_body.clone(),
        })
    }
}

fn plan(
    probe: Probe,
    scheme: Scheme,
    provider: Option<Provider>,
    event: &AuditEvent,
) -> Result<Planned, String> {
    let same = |key: Key, sent: &str| Planned {
        headers: event.headers.clone(),
        signed_body: event.body.clone(),
        sent_body: event.body.clone(),
        key,
        age_secs: 0,
        sent: sent.to_owned(),
    };
    Ok(match probe {
        Probe::ValidSignature => same(Key::Right, "the event, signed now"),
        Probe::NoSignature => same(
            Key::Nothing,
            "the event with every signature header removed",
        ),
        Probe::WrongSecret => same(Key::Wrong, "the event signed with a different secret"),
        Probe::StaleTimestamp => {
            if matches!(scheme, Scheme::Github | Scheme::Shopify) {
                return Err(format!(
                    "{} signatures carry no timestamp, so there is nothing to check",
                    scheme.label()
                ));
            }
            Planned {
                age_secs: STALE_BY_SECS,
                ..same(
                    Key::Right,
                    "the event with a valid signature made 10 minutes ago",
                )
            }
        }
        Probe::TamperedBody => {
            let (body, what) = edits::tamper(&event.body);
            Planned {
                sent_body: body,
                sent: format!("{what}, the signature made over the original body"),
                ..same(Key::Right, "")
            }
        }
        Probe::Duplicate => same(Key::Right, "the same event again, signed now"),
        Probe::OlderEvent => {
            let (headers, body, what) = edits::older(provider, &event.headers, &event.body)?;
            Planned {
                headers,
                signed_body: body.clone(),
                sent_body: body,
                sent: what,
                ..same(Key::Right, "")
            }
        }
        Probe::MalformedBody => {
            let (body, what) = edits::malformed(&event.body);
            Planned {
                signed_body: body.clone(),
                sent_body: body,
                sent: what,
                ..same(Key::Right, "")
            }
        }
        Probe::UnknownType => {
            let (headers, body, what) = edits::unknown_type(provider, &event.headers, &event.body)?;
            Planned {
                headers,
                signed_body: body.clone(),
                sent_body: body,
                sent: what,
                ..same(Key::Right, "")
            }
        }
    })
}
