//! SendGrid: its user agents or the Event Webhook's signature header; Event Webhook batches
//! (`sg_event_id` / `sg_message_id` with an `event`) and Inbound Parse multipart posts. Reads
//! the batch's event type and id (see [`batch_event`]).

use serde_json::{Map, Value};

use super::{Delivery, HeaderView};
use crate::provider::form::Fields;
use crate::provider::shapes::{batch_event, has_str};
use crate::provider::Detected;

pub(super) fn by_headers(h: &HeaderView) -> bool {
    h.ua_starts("Sendlib/")
        || h.ua_starts("SendGrid")
        || h.has("x-twilio-email-event-webhook-signature")
}

/// The first event of an Event Webhook batch.
pub(super) fn by_batch(first: &Map<String, Value>) -> bool {
    (first.contains_key("sg_event_id") || first.contains_key("sg_message_id"))
        && has_str(first, "event")
}

/// An Inbound Parse post.
pub(super) fn by_fields(f: &Fields) -> bool {
    let any = |names: &[&str]| names.iter().any(|n| f.has(n));
    f.has("envelope") && any(&["from", "to"]) && any(&["charsets", "dkim", "SPF"])
}

pub(super) fn extract(d: &Delivery, out: &mut Detected) {
    if let Some(Value::Array(events)) = d.parsed.json.as_ref() {
        (out.event_type, out.event_id) = batch_event(events, "sg_event_id");
    }
}

#[cfg(test)]
mod tests {
    use crate::provider::tests::{check, hs};
    use crate::provider::{detect, Provider};

    #[test]
    fn sendgrid_event_batches_inbound_parse_and_user_agent() {
        let events = br#"[{"email":"a@b","event":"delivered","sg_event_id":"sg1","timestamp":1}]"#;
        check(
            &detect(&[], events, None),
            Some(Provider::Sendgrid),
            Some("delivered"),
            Some("sg1"),
        );
        let mixed = br#"[{"event":"open","sg_event_id":"a"},{"event":"click","sg_event_id":"b"}]"#;
        check(
            &detect(&[], mixed, None),
            Some(Provider::Sendgrid),
            None,
            None,
        );

        let mp =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"envelope\"\r\n\r\n{\"to\":[\"a@b\"]}\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\nx@y\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"charsets\"\r\n\r\n{}\r\n--XyZ--\r\n";
        let ct = "multipart/form-data; boundary=XyZ";
        check(
            &detect(&[], mp, Some(ct)),
            Some(Provider::Sendgrid),
            None,
            None,
        );
        check(&detect(&[], mp, None), Some(Provider::Sendgrid), None, None);
        let sendlib = hs(&[("User-Agent", "Sendlib/1.0")]);
        check(
            &detect(&sendlib, b"", None),
            Some(Provider::Sendgrid),
            None,
            None,
        );
    }
}
