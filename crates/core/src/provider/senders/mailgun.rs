//! Mailgun: webhooks (a `signature` with a token and an `event-data` object) and routes or
//! legacy webhooks (form posts with token, timestamp and signature). Reads the event and its
//! id.

use serde_json::{Map, Value};

use super::Delivery;
use crate::provider::form::Fields;
use crate::provider::shapes::obj_of;
use crate::provider::{clean, Detected};

pub(super) fn by_object(m: &Map<String, Value>) -> bool {
    obj_of(m, "signature").is_some_and(|s| s.contains_key("token"))
        && m.get("event-data").is_some_and(Value::is_object)
}

pub(super) fn by_fields(f: &Fields) -> bool {
    f.has("token")
        && f.has("timestamp")
        && f.has("signature")
        && [
            "event",
            "recipient",
            "body-plain",
            "message-headers",
            "domain",
            "sender",
        ]
        .iter()
        .any(|n| f.has(n))
}

pub(super) fn extract(d: &Delivery, out: &mut Detected) {
    if let Some(m) = d.object() {
        let data = m.get("event-data");
        out.event_type = data.and_then(|d| d.get("event")?.as_str()).and_then(clean);
        out.event_id = data.and_then(|d| d.get("id")?.as_str()).and_then(clean);
    } else if let Some(f) = d.parsed.fields.as_ref() {
        out.event_type = f.text("event");
    }
}

#[cfg(test)]
mod tests {
    use crate::provider::tests::check;
    use crate::provider::{detect, Provider};

    #[test]
    fn mailgun_webhooks_and_form_posts() {
        let mg = br#"{"signature":{"token":"t","timestamp":"1","signature":"s"},
        "event-data":{"event":"delivered","id":"mg-1"}}"#;
        check(
            &detect(&[], mg, None),
            Some(Provider::Mailgun),
            Some("delivered"),
            Some("mg-1"),
        );
        let mg_form = b"token=t&timestamp=1&signature=s&event=bounced&recipient=a%40b";
        check(
            &detect(&[], mg_form, None),
            Some(Provider::Mailgun),
            Some("bounced"),
            None,
        );
    }
}
