//! Standard Webhooks (Svix included): a `webhook-id` (or `svix-id`) header together with its
//! signature or timestamp header; a lone id header is too generic. Reads the body's `type`
//! and the message id.

use super::{Delivery, HeaderView};
use crate::provider::shapes::text;
use crate::provider::Detected;

pub(super) fn by_headers(h: &HeaderView) -> bool {
    (h.has("webhook-id") && (h.has("webhook-signature") || h.has("webhook-timestamp")))
        || (h.has("svix-id") && (h.has("svix-signature") || h.has("svix-timestamp")))
}

pub(super) fn extract(d: &Delivery, out: &mut Detected) {
    out.event_type = d.object().and_then(|m| text(m, "type"));
    out.event_id = d
        .header_text("webhook-id")
        .or_else(|| d.header_text("svix-id"));
}

#[cfg(test)]
mod tests {
    use crate::provider::tests::{check, hs};
    use crate::provider::{detect, Provider};

    #[test]
    fn standard_webhooks_and_svix_headers() {
        let h = hs(&[
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", "1"),
            ("webhook-signature", "v1,x"),
        ]);
        check(
            &detect(&h, br#"{"type":"user.created","data":{}}"#, None),
            Some(Provider::StandardWebhooks),
            Some("user.created"),
            Some("msg_1"),
        );
        let h = hs(&[("svix-id", "msg_2"), ("svix-signature", "v1,x")]);
        check(
            &detect(&h, b"not json", None),
            Some(Provider::StandardWebhooks),
            None,
            Some("msg_2"),
        );
        // A lone webhook-id header is too generic.
        check(
            &detect(&hs(&[("webhook-id", "x")]), b"", None),
            None,
            None,
            None,
        );
    }
}
