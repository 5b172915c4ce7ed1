//! Paddle Billing (`Paddle-Signature`, or the `Paddle` user agent; an event envelope with an
//! `ntf_` notification or `evt_` event id) and Paddle Classic alerts (form posts with
//! `alert_name` and `p_signature`).

use serde_json::{Map, Value};

use super::{Delivery, HeaderView};
use crate::provider::form::Fields;
use crate::provider::shapes::{has_str, str_starts, text};
use crate::provider::Detected;

pub(super) fn by_headers(h: &HeaderView) -> bool {
    h.has("paddle-signature") || h.ua() == "Paddle"
}

pub(super) fn by_object(m: &Map<String, Value>) -> bool {
    has_str(m, "event_type")
        && (str_starts(m, "notification_id", "ntf_") || str_starts(m, "event_id", "evt_"))
}

/// A Paddle Classic alert.
pub(super) fn by_fields(f: &Fields) -> bool {
    f.has("alert_name") && f.has("p_signature")
}

pub(super) fn extract(d: &Delivery, out: &mut Detected) {
    if let Some(m) = d.object() {
        out.event_type = text(m, "event_type");
        out.event_id = text(m, "event_id").or_else(|| text(m, "notification_id"));
    } else if let Some(f) = d.parsed.fields.as_ref() {
        out.event_type = f.text("alert_name");
        out.event_id = f.text("alert_id");
    }
}

#[cfg(test)]
mod tests {
    use crate::provider::tests::{check, hs};
    use crate::provider::{detect, Provider};

    #[test]
    fn paddle_billing_and_classic() {
        let billing =
            br#"{"event_id":"evt_01","event_type":"subscription.created","occurred_at":"x",
        "notification_id":"ntf_01","data":{}}"#;
        check(
            &detect(&hs(&[("Paddle-Signature", "ts=1;h1=ab")]), billing, None),
            Some(Provider::Paddle),
            Some("subscription.created"),
            Some("evt_01"),
        );
        check(
            &detect(&[], billing, None),
            Some(Provider::Paddle),
            Some("subscription.created"),
            Some("evt_01"),
        );
        let classic = b"alert_id=9&alert_name=payment_succeeded&p_signature=abc%3D";
        check(
            &detect(&[], classic, None),
            Some(Provider::Paddle),
            Some("payment_succeeded"),
            Some("9"),
        );
    }
}
