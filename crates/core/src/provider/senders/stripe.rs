//! Stripe: `Stripe-Signature` or a `Stripe/` user agent; a body that is an event envelope
//! (`object` `event` or `v2.core.event`, an `evt_` id). Reads the event's type and id and
//! the facts of [`StripeMeta`].

use serde_json::{Map, Value};

use super::{Delivery, HeaderView};
use crate::provider::shapes::{has_str, obj_of, str_of, str_starts, text};
use crate::provider::{Detected, StripeMeta};

pub(super) fn by_headers(h: &HeaderView) -> bool {
    h.has("stripe-signature") || h.ua_starts("Stripe/")
}

pub(super) fn by_object(m: &Map<String, Value>) -> bool {
    match str_of(m, "object") {
        Some("event") | Some("v2.core.event") => has_str(m, "type") && str_starts(m, "id", "evt_"),
        _ => false,
    }
}

pub(super) fn extract(d: &Delivery, out: &mut Detected) {
    if let Some(m) = d.object() {
        out.event_type = text(m, "type");
        out.event_id = text(m, "id");
        out.stripe = stripe_meta(m);
    }
}

fn stripe_meta(m: &Map<String, Value>) -> Option<StripeMeta> {
    if !has_str(m, "type") {
        return None;
    }
    let (object_id, object_type) =
        if let Some(o) = obj_of(m, "data").and_then(|d| obj_of(d, "object")) {
            (text(o, "id"), text(o, "object"))
        } else if let Some(r) = obj_of(m, "related_object") {
            (text(r, "id"), text(r, "type"))
        } else {
            (None, None)
        };
    Some(StripeMeta {
        livemode: m.get("livemode").and_then(Value::as_bool),
        api_version: text(m, "api_version"),
        created: m.get("created").and_then(Value::as_i64),
        object_id,
        object_type,
    })
}

#[cfg(test)]
mod tests {
    use crate::provider::tests::{check, hs};
    use crate::provider::{detect, Provider};

    #[test]
    fn stripe_by_header_and_by_body_with_meta() {
        let body =
            br#"{"id":"evt_1","object":"event","api_version":"2024-06-20","created":1700000000,
        "data":{"object":{"id":"in_1","object":"invoice"}},"livemode":true,"type":"invoice.paid"}"#;
        let d = detect(&hs(&[("Stripe-Signature", "t=1,v1=ab")]), body, None);
        check(
            &d,
            Some(Provider::Stripe),
            Some("invoice.paid"),
            Some("evt_1"),
        );
        let meta = d.stripe.unwrap();
        assert_eq!(meta.livemode, Some(true));
        assert_eq!(meta.api_version.as_deref(), Some("2024-06-20"));
        assert_eq!(meta.created, Some(1_700_000_000));
        assert_eq!(meta.object_id.as_deref(), Some("in_1"));
        assert_eq!(meta.object_type.as_deref(), Some("invoice"));

        let bare = detect(&[], body, Some("application/json"));
        check(
            &bare,
            Some(Provider::Stripe),
            Some("invoice.paid"),
            Some("evt_1"),
        );

        let ua = hs(&[(
            "User-Agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )]);
        let d = detect(&ua, b"", None);
        check(&d, Some(Provider::Stripe), None, None);
        assert_eq!(d.stripe, None);
    }

    #[test]
    fn stripe_v2_thin_event_reports_the_related_object() {
        let body = br#"{"id":"evt_test_65R","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered",
        "livemode":false,"created":"2024-09-17T06:20:52.246Z","related_object":{"id":"mtr_1","type":"billing.meter"}}"#;
        let d = detect(&[], body, None);
        check(
            &d,
            Some(Provider::Stripe),
            Some("v1.billing.meter.error_report_triggered"),
            Some("evt_test_65R"),
        );
        let meta = d.stripe.unwrap();
        assert_eq!(meta.created, None);
        assert_eq!(meta.object_id.as_deref(), Some("mtr_1"));
        assert_eq!(meta.object_type.as_deref(), Some("billing.meter"));
    }
}
