//! The event variants some probes send: a wrong secret (3), a body changed by one byte (5), an
//! older copy of the event (7), a malformed body (8) and an unknown event type (9). Each edit
//! changes as little as it can, so the rest still reads like the event the handler knows, and
//! says in words what it changed.

use base64::Engine as _;
use rand::distributions::{Alphanumeric, DistString};
use rand::Rng;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::json_edit::{self, Kind};
use super::UNKNOWN_EVENT_TYPE;
use crate::headers::{self, RawHeader};
use crate::provider::Provider;
use crate::signing::Scheme;

/// How much earlier the older copy of probe 7 is.
const OLDER_BY_SECS: i64 = 3600;

/// A secret of the right shape for `scheme` that is certainly not `secret` (derived from it, so
/// an audit is repeatable).
pub(super) fn wrong_secret(scheme: Scheme, secret: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"hookvault audit: a wrong secret for ")
        .chain_update(secret.as_bytes())
        .finalize();
    match scheme {
        Scheme::StandardWebhooks => format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(&digest[..24])
        ),
        Scheme::Stripe => format!("whsec_{}", hex::encode(&digest[..16])),
        _ => hex::encode(&digest[..16]),
    }
}

/// The body with one byte changed, still well-formed where it was: preferably the last digit of
/// an amount (`amount_paid 2000 → 2001`), else of the last number, else a letter or digit in
/// a string value, else any letter or digit; an empty body gets one byte.
pub(super) fn tamper(body: &[u8]) -> (Vec<u8>, String) {
    let numbers = json_edit::numbers(body);
    let money = |k: &Option<String>| {
        k.as_deref().is_some_and(|k| {
            let k = k.to_ascii_lowercase();
            ["amount", "total", "price"].iter().any(|m| k.contains(m))
        })
    };
    let chosen = numbers
        .iter()
        .find(|(k, _)| money(k))
        .or_else(|| numbers.last());
    if let Some((key, span)) = chosen {
        if let Some(at) = (span.start..span.end)
            .rev()
            .find(|&i| body[i].is_ascii_digit())
        {
            let mut out = body.to_vec();
            out[at] = bump(body[at]);
            let name = key.as_deref().unwrap_or("a number");
            let from = String::from_utf8_lossy(&body[span.clone()]).into_owned();
            let to = String::from_utf8_lossy(&out[span.clone()]).into_owned();
            return (out, format!("{name} changed from {from} to {to}"));
        }
    }
    let in_strings = json_edit::string_values(body)
        .into_iter()
        .rev()
        .find_map(|span| {
            (span.start + 1..span.end.saturating_sub(1))
                .rev()
                .find(|&i| body[i].is_ascii_alphanumeric())
        });
    let any = || {
        (0..body.len())
            .rev()
            .find(|&i| body[i].is_ascii_alphanumeric())
    };
    match in_strings.or_else(any) {
        Some(at) => {
            let mut out = body.to_vec();
            out[at] = bump(body[at]);
            let what = format!(
                "one character changed ('{}' to '{}' at byte {at})",
                char::from(body[at]),
                char::from(out[at])
            );
            (out, what)
        }
        None => {
            let mut out = body.to_vec();
            out.push(b' ');
            (out, "one byte (a space) added".to_owned())
        }
    }
}

/// The next letter or digit, wrapping within its class.
fn bump(c: u8) -> u8 {
    match c {
        b'9' => b'0',
        b'z' => b'a',
        b'Z' => b'A',
        _ => c + 1,
    }
}

/// A body that is not valid JSON: the first half of a JSON body (cut between characters), or a
/// truncated JSON object for any other body.
pub(super) fn malformed(body: &[u8]) -> (Vec<u8>, String) {
    if json_edit::is_json(body) && body.len() >= 2 {
        let mut cut = body.len() / 2;
        if let Ok(text) = std::str::from_utf8(body) {
            while cut > 0 && !text.is_char_boundary(cut) {
                cut -= 1;
            }
        }
        let mut out = body[..cut].to_vec();
        if json_edit::is_json(&out) {
            out.push(b'{');
        }
        let what = format!(
            "the first {} of the body's {} bytes (invalid JSON)",
            out.len(),
            body.len()
        );
        return (out, what);
    }
    (
        br#"{"hookvault_audit": "malformed"#.to_vec(),
        "a truncated JSON object".to_owned(),
    )
}

/// An older copy of the event about the same object, with its own id: Stripe `created` one hour
/// earlier; Standard Webhooks `timestamp`; GitHub and Shopify `updated_at`; Slack `event_time`.
pub(super) fn older(
    provider: Option<Provider>,
    headers: &[RawHeader],
    body: &[u8],
) -> Result<(Vec<RawHeader>, Vec<u8>, String), String> {
    let mut headers = headers.to_vec();
    match provider {
        Some(Provider::Stripe) => {
            let created = json_edit::integer_at(body, &["created"])
                .ok_or("the event has no \"created\" time to move back")?;
            let body = new_body_id(body, &["id"])?;
            let body = json_edit::replace_at(
                &body,
                &["created"],
                (created - OLDER_BY_SECS).to_string().as_bytes(),
            )
            .ok_or("the event has no \"created\" time to move back")?;
            Ok((
                headers,
                body,
                "a copy with a new id, created 1 h earlier".to_owned(),
            ))
        }
        Some(Provider::StandardWebhooks) => {
            new_header_id(&mut headers, &["webhook-id", "svix-id"], "webhook-id");
            let (body, moved) = shift_times(body, &[&["timestamp"]]);
            Ok((
                headers,
                body,
                if moved {
                    "a copy with a new message id and a timestamp 1 h earlier"
                } else {
                    "a copy with a new message id"
                }
                .to_owned(),
            ))
        }
        Some(Provider::Github) => {
            new_header_id(&mut headers, &["x-github-delivery"], "X-GitHub-Delivery");
            let subjects: [&[&str]; 6] = [
                &["issue", "updated_at"],
                &["pull_request", "updated_at"],
                &["release", "updated_at"],
                &["discussion", "updated_at"],
                &["comment", "updated_at"],
                &["workflow_run", "updated_at"],
            ];
            let (body, moved) = shift_times(body, &subjects);
            Ok((
                headers,
                body,
                if moved {
                    "a copy with a new delivery id, updated 1 h earlier"
                } else {
                    "a copy with a new delivery id"
                }
                .to_owned(),
            ))
        }
        Some(Provider::Shopify) => {
            new_header_id(
                &mut headers,
                &["x-shopify-webhook-id", "x-shopify-event-id"],
                "X-Shopify-Webhook-Id",
            );
            for name in ["x-shopify-triggered-at", "shopify-triggered-at"] {
                if let Some(v) = headers::find_str(&headers, name).and_then(earlier) {
                    set_header(&mut headers, name, &v);
                }
            }
            let (body, moved) = shift_times(body, &[&["updated_at"]]);
            Ok((
                headers,
                body,
                if moved {
                    "a copy with a new webhook id, updated 1 h earlier"
                } else {
                    "a copy with a new webhook id"
                }
                .to_owned(),
            ))
        }
        Some(Provider::Slack) => {
            let time = json_edit::integer_at(body, &["event_time"])
                .ok_or("the event has no \"event_time\" to move back")?;
            let body = new_body_id(body, &["event_id"])?;
            let body = json_edit::replace_at(
                &body,
                &["event_time"],
                (time - OLDER_BY_SECS).to_string().as_bytes(),
            )
            .ok_or("the event has no \"event_time\" to move back")?;
            Ok((
                headers,
                body,
                "a copy with a new event_id, event_time 1 h earlier".to_owned(),
            ))
        }
        _ => Err("Hookvault does not know where this kind of event keeps its id and time".into()),
    }
}

/// A copy of the event with its own id and a type no handler knows.
pub(super) fn unknown_type(
    provider: Option<Provider>,
    headers: &[RawHeader],
    body: &[u8],
) -> Result<(Vec<RawHeader>, Vec<u8>, String), String> {
    let mut headers = headers.to_vec();
    let in_body = |body: &[u8], path: &[&str], ty: &str| {
        json_edit::set_string(body, path, ty)
            .ok_or_else(|| format!("the event has no \"{}\" to change", path.join(".")))
    };
    match provider {
        Some(Provider::Stripe) => {
            let body = new_body_id(body, &["id"])?;
            let body = in_body(&body, &["type"], UNKNOWN_EVENT_TYPE)?;
            Ok((headers, body, format!("a copy typed {UNKNOWN_EVENT_TYPE}")))
        }
        Some(Provider::StandardWebhooks) => {
            new_header_id(&mut headers, &["webhook-id", "svix-id"], "webhook-id");
            let body = in_body(body, &["type"], UNKNOWN_EVENT_TYPE)?;
            Ok((headers, body, format!("a copy typed {UNKNOWN_EVENT_TYPE}")))
        }
        Some(Provider::Github) => {
            new_header_id(&mut headers, &["x-github-delivery"], "X-GitHub-Delivery");
            set_header(&mut headers, "X-GitHub-Event", "hookvault_audit_unknown");
            Ok((
                headers,
                body.to_vec(),
                "a copy with X-GitHub-Event: hookvault_audit_unknown".to_owned(),
            ))
        }
        Some(Provider::Shopify) => {
            new_header_id(
                &mut headers,
                &["x-shopify-webhook-id", "x-shopify-event-id"],
                "X-Shopify-Webhook-Id",
            );
            let topic = "hookvault_audit/unknown";
            set_header(&mut headers, "X-Shopify-Topic", topic);
            if headers::find(&headers, "shopify-topic").is_some() {
                set_header(&mut headers, "shopify-topic", topic);
            }
            Ok((
                headers,
                body.to_vec(),
                format!("a copy with X-Shopify-Topic: {topic}"),
            ))
        }
        Some(Provider::Slack) => {
            let body = new_body_id(body, &["event_id"])?;
            let ty = "hookvault_audit_unknown";
            let body = match json_edit::member(&body, &["event", "type"]) {
                Some((Kind::String, _)) => in_body(&body, &["event", "type"], ty)?,
                _ => in_body(&body, &["type"], ty)?,
            };
            Ok((headers, body, format!("a copy with event type {ty}")))
        }
        _ => Err("Hookvault does not know where this kind of event keeps its type".into()),
    }
}

/// The body with the string id at `path` replaced by a fresh one of the same shape.
fn new_body_id(body: &[u8], path: &[&str]) -> Result<Vec<u8>, String> {
    let missing = || format!("the event has no \"{}\" to change", path.join("."));
    let id = json_edit::string_at(body, path).ok_or_else(missing)?;
    json_edit::set_string(body, path, &fresh_id(&id)).ok_or_else(missing)
}

/// Gives every header in `names` that is present the same fresh id; adds `add` when none is.
fn new_header_id(headers: &mut Vec<RawHeader>, names: &[&str], add: &str) {
    let current = names
        .iter()
        .find_map(|n| headers::find_str(headers, n))
        .map(str::to_owned);
    let id = match current {
        Some(id) => fresh_id(&id),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let mut found = false;
    for h in headers.iter_mut() {
        if names.iter().any(|n| h.name.eq_ignore_ascii_case(n)) {
            h.value = id.clone().into_bytes();
            found = true;
        }
    }
    if !found {
        headers.push(RawHeader::new(add, id));
    }
}

/// Replaces every header named `name` (keeping the first one's place) or appends it.
fn set_header(headers: &mut Vec<RawHeader>, name: &str, value: &str) {
    let mut placed = false;
    headers.retain_mut(|h| {
        if !h.name.eq_ignore_ascii_case(name) {
            return true;
        }
        if placed {
            return false;
        }
        h.value = value.as_bytes().to_vec();
        placed = true;
        true
    });
    if !placed {
        headers.push(RawHeader::new(name, value));
    }
}

/// A new id shaped like `old`: a new UUID for a UUID, else the same prefix (up to the last `_`,
/// or the first two characters) and random letters and digits of the same kinds.
pub(super) fn fresh_id(old: &str) -> String {
    if uuid::Uuid::parse_str(old).is_ok() {
        return uuid::Uuid::new_v4().to_string();
    }
    let keep = match old.rfind('_') {
        Some(i) => i + 1,
        None => old.char_indices().nth(2).map_or(old.len(), |(i, _)| i),
    };
    let mut rng = rand::thread_rng();
    let mut out = old[..keep].to_owned();
    for c in old[keep..].chars() {
        out.push(match c {
            '0'..='9' => char::from(b'0' + rng.gen_range(0..10)),
            'a'..='z' => char::from(b'a' + rng.gen_range(0..26)),
            'A'..='Z' => char::from(b'A' + rng.gen_range(0..26)),
            other => other,
        });
    }
    if out == old || old.len() == keep {
        out.push_str(&Alphanumeric.sample_string(&mut rng, 8));
    }
    out
}

/// The body with each RFC 3339 time at `paths` moved an hour earlier; true if one was.
fn shift_times(body: &[u8], paths: &[&[&str]]) -> (Vec<u8>, bool) {
    let mut out = body.to_vec();
    let mut moved = false;
    for path in paths {
        let Some(new) = json_edit::string_at(&out, path).and_then(|t| earlier(&t)) else {
            continue;
        };
        if let Some(edited) = json_edit::set_string(&out, path, &new) {
            out = edited;
            moved = true;
        }
    }
    (out, moved)
}

/// An RFC 3339 time one hour earlier, in the same offset.
fn earlier(t: &str) -> Option<String> {
    let parsed = OffsetDateTime::parse(t, &Rfc3339).ok()?;
    (parsed - time::Duration::seconds(OLDER_BY_SECS))
        .format(&Rfc3339)
        .ok()
}
