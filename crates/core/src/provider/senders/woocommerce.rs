//! WooCommerce: its `X-WC-Webhook-…` headers or a `WooCommerce/` user agent; a body whose
//! `_links.self` points at the WooCommerce REST API. Reads the topic (or resource and event)
//! and the delivery id.

use serde_json::{Map, Value};

use super::{Delivery, HeaderView};
use crate::provider::shapes::obj_of;
use crate::provider::{clean, Detected};

pub(super) fn by_headers(h: &HeaderView) -> bool {
    h.has("x-wc-webhook-topic") || h.has("x-wc-webhook-signature") || h.ua_starts("WooCommerce/")
}

pub(super) fn by_object(m: &Map<String, Value>) -> bool {
    obj_of(m, "_links")
        .and_then(|l| l.get("self")?.get(0)?.get("href")?.as_str())
        .is_some_and(|href| href.contains("/wp-json/wc/"))
}

pub(super) fn extract(d: &Delivery, out: &mut Detected) {
    out.event_type = d.header_text("x-wc-webhook-topic").or_else(|| {
        let resource = d.header("x-wc-webhook-resource")?;
        let event = d.header("x-wc-webhook-event")?;
        clean(&format!("{resource}.{event}"))
    });
    out.event_id = d.header_text("x-wc-webhook-delivery-id");
}

#[cfg(test)]
mod tests {
    use crate::provider::tests::{check, hs};
    use crate::provider::{detect, Provider};

    #[test]
    fn woocommerce_topic_or_resource_and_event() {
        let h = hs(&[
            ("X-WC-Webhook-Topic", "order.updated"),
            ("X-WC-Webhook-Delivery-ID", "d1"),
        ]);
        check(
            &detect(&h, b"{}", None),
            Some(Provider::Woocommerce),
            Some("order.updated"),
            Some("d1"),
        );
        let h = hs(&[
            ("User-Agent", "WooCommerce/7.4.0 Hookshot (WordPress/6.1.1)"),
            ("X-WC-Webhook-Resource", "coupon"),
            ("X-WC-Webhook-Event", "deleted"),
        ]);
        check(
            &detect(&h, b"", None),
            Some(Provider::Woocommerce),
            Some("coupon.deleted"),
            None,
        );
    }
}
