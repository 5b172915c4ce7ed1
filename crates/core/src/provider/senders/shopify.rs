//! Shopify: its topic or HMAC headers (`X-Shopify-…` or the newer unprefixed `Shopify-…`); a
//! body with a Shopify GraphQL id, a shop, or an order. Reads the topic and the webhook (or
//! event) id from the headers.

use serde_json::{Map, Value};

use super::{Delivery, HeaderView};
use crate::provider::shapes::str_starts;
use crate::provider::Detected;

pub(super) fn by_headers(h: &HeaderView) -> bool {
    h.has_any(&[
        "x-shopify-topic",
        "shopify-topic",
        "x-shopify-hmac-sha256",
        "shopify-hmac-sha256",
    ])
}

pub(super) fn by_object(m: &Map<String, Value>) -> bool {
    let gid = str_starts(m, "admin_graphql_api_id", "gid://shopify/");
    let shop = m.contains_key("myshopify_domain") && m.contains_key("shop_owner");
    let order = m.contains_key("financial_status")
        && m.contains_key("line_items")
        && ["processing_method", "landing_site", "checkout_token"]
            .iter()
            .any(|k| m.contains_key(*k));
    gid || shop || order
}

pub(super) fn extract(d: &Delivery, out: &mut Detected) {
    out.event_type = d
        .header_text("x-shopify-topic")
        .or_else(|| d.header_text("shopify-topic"));
    out.event_id = ["x-shopify-webhook-id", "shopify-webhook-id"]
        .into_iter()
        .chain(["x-shopify-event-id", "shopify-event-id"])
        .find_map(|n| d.header_text(n));
}

#[cfg(test)]
mod tests {
    use crate::provider::tests::{check, hs};
    use crate::provider::{detect, Provider};

    #[test]
    fn shopify_topic_and_webhook_id_from_either_header_style() {
        let h = hs(&[
            ("X-Shopify-Topic", "orders/create"),
            ("X-Shopify-Webhook-Id", "w-1"),
            ("X-Shopify-Event-Id", "e-1"),
        ]);
        check(
            &detect(&h, b"{}", None),
            Some(Provider::Shopify),
            Some("orders/create"),
            Some("w-1"),
        );
        let h = hs(&[
            ("shopify-topic", "products/update"),
            ("shopify-event-id", "e-2"),
        ]);
        check(
            &detect(&h, b"{}", None),
            Some(Provider::Shopify),
            Some("products/update"),
            Some("e-2"),
        );
        let body = br#"{"id":1,"admin_graphql_api_id":"gid:\/\/shopify\/Product\/1"}"#;
        check(
            &detect(&[], body, None),
            Some(Provider::Shopify),
            None,
            None,
        );
    }
}
