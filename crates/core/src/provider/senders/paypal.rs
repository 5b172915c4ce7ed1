//! PayPal: its transmission headers or a `PayPal/` user agent; an event envelope (`event_type`,
//! `resource_type`, and a `WH-` id or a `resource` object). Reads the event type and id (the
//! transmission id when the body has none).

use serde_json::{Map, Value};

use super::{Delivery, HeaderView};
use crate::provider::shapes::{has_str, str_starts, text};
use crate::provider::Detected;

pub(super) fn by_headers(h: &HeaderView) -> bool {
    h.has("paypal-transmission-id") || h.has("paypal-transmission-sig") || h.ua_starts("PayPal/")
}

pub(super) fn by_object(m: &Map<String, Value>) -> bool {
    has_str(m, "event_type")
        && has_str(m, "resource_type")
        && (str_starts(m, "id", "WH-") || m.get("resource").is_some_and(Value::is_object))
}

pub(super) fn extract(d: &Delivery, out: &mut Detected) {
    if let Some(m) = d.object() {
        out.event_type = text(m, "event_type");
        out.event_id = text(m, "id");
    }
    if out.event_id.is_none() {
        out.event_id = d.header_text("paypal-transmission-id");
    }
}

#[cfg(test)]
mod tests {
    use crate::provider::tests::{check, hs};
    use crate::provider::{detect, Provider};

    #[test]
    fn paypal_by_envelope_or_transmission_header() {
        let pp = br#"{"id":"WH-1","event_type":"CHECKOUT.ORDER.APPROVED","resource_type":"checkout-order","resource":{}}"#;
        check(
            &detect(&[], pp, None),
            Some(Provider::Paypal),
            Some("CHECKOUT.ORDER.APPROVED"),
            Some("WH-1"),
        );
        let h = hs(&[("PAYPAL-TRANSMISSION-ID", "t1")]);
        check(
            &detect(&h, b"", None),
            Some(Provider::Paypal),
            None,
            Some("t1"),
        );
    }
}
