//! Mandrill (Mailchimp Transactional): `X-Mandrill-Signature` or its user agent; a
//! `mandrill_events` form field, or a JSON batch of events (`event`, a numeric `ts`, and a
//! `msg` object or an `_id`). Reads the batch's event type and id (see [`batch_event`]).

use serde_json::{Map, Value};

use super::{Delivery, HeaderView};
use crate::provider::form::Fields;
use crate::provider::json::parse_json;
use crate::provider::shapes::{batch_event, has_str};
use crate::provider::Detected;

pub(super) fn by_headers(h: &HeaderView) -> bool {
    h.has("x-mandrill-signature") || h.ua_starts("Mandrill-Webhook/")
}

/// The first event of a batch.
pub(super) fn by_batch(first: &Map<String, Value>) -> bool {
    has_str(first, "event")
        && first.get("ts").is_some_and(Value::is_number)
        && (first.get("msg").is_some_and(Value::is_object) || has_str(first, "_id"))
}

pub(super) fn by_fields(f: &Fields) -> bool {
    f.has("mandrill_events")
}

pub(super) fn extract(d: &Delivery, out: &mut Detected) {
    let from_field = d
        .parsed
        .fields
        .as_ref()
        .and_then(|f| f.get("mandrill_events"))
        .and_then(|v| parse_json(v.as_bytes()));
    if let Some(Value::Array(events)) = from_field.as_ref().or(d.parsed.json.as_ref()) {
        (out.event_type, out.event_id) = batch_event(events, "_id");
    }
}

#[cfg(test)]
mod tests {
    use crate::provider::tests::{check, hs};
    use crate::provider::{detect, Provider};

    #[test]
    fn mandrill_events_field_and_signature_header() {
        let mandrill = b"mandrill_events=%5B%7B%22event%22%3A%22send%22%2C%22_id%22%3A%22m1%22%2C%22ts%22%3A1%2C%22msg%22%3A%7B%7D%7D%5D";
        check(
            &detect(&[], mandrill, None),
            Some(Provider::Mandrill),
            Some("send"),
            Some("m1"),
        );
        let h = hs(&[("X-Mandrill-Signature", "x")]);
        check(&detect(&h, b"", None), Some(Provider::Mandrill), None, None);
    }
}
