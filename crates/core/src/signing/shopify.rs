//! Shopify (spec §5): `X-Shopify-Hmac-Sha256` (or the events header `shopify-hmac-sha256`),
//! padded base64 of an HMAC-SHA256 over the body alone (no timestamp).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::Mac;

use super::check::Check;
use super::mac::{hmac_sha256, matches_any};
use super::{SignatureStatus, Verification};
use crate::headers::{self, RawHeader};

const SHOPIFY_HMAC: &str = "X-Shopify-Hmac-Sha256";
pub(super) const SHOPIFY_EVENTS_HMAC: &str = "shopify-hmac-sha256";

/// Shopify `X-Shopify-Hmac-Sha256` value: padded standard base64 of `HMAC-SHA256(secret, body)`.
pub fn shopify_hmac(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac_sha256(secret.as_bytes());
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The Shopify signature headers of a replay: whichever of the two the capture had, and
/// `X-Shopify-Hmac-Sha256` when it had neither.
pub(super) fn resign_headers(headers: &[RawHeader], secret: &str, body: &[u8]) -> Vec<RawHeader> {
    let has = |name: &str| headers::find(headers, name).is_some();
    let value = shopify_hmac(secret, body);
    let events = has(SHOPIFY_EVENTS_HMAC);
    let mut out = Vec::new();
    if has(SHOPIFY_HMAC) || !events {
        out.push(RawHeader::new(SHOPIFY_HMAC, value.clone()));
    }
    if events {
        out.push(RawHeader::new(SHOPIFY_EVENTS_HMAC, value));
    }
    out
}

pub(super) fn verify_shopify(
    check: Check<'_>,
    headers: &[RawHeader],
    secret: &str,
) -> Verification {
    // shopify-api reads the un-prefixed events header first when it is present.
    let (name, raw) = match headers::find(headers, SHOPIFY_EVENTS_HMAC) {
        Some(raw) => (SHOPIFY_EVENTS_HMAC, raw),
        None => match headers::find(headers, SHOPIFY_HMAC) {
            Some(raw) => (SHOPIFY_HMAC, raw),
            None => return check.missing(SHOPIFY_HMAC),
        },
    };
    let Ok(value) = std::str::from_utf8(raw) else {
        return check.malformed(name, "not UTF-8");
    };
    if secret.is_empty() {
        return check.no_secret();
    }
    if matches_any(&shopify_hmac(secret, check.body), [value]) {
        check.done(SignatureStatus::Valid, "valid")
    } else {
        check.done(
            SignatureStatus::Invalid,
            format!("{name} does not match this secret"),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::signing::test_support::*;
    use crate::signing::*;

    // ---- vectors ----------------------------------------------------------------------------

    #[test]
    fn shopify_orders_create_vector_is_reproduced_and_verifies() {
        let v = vector("shopify", "shopify_orders_create");
        let b = body(&v);
        let h = vector_headers(&v, "headers");
        assert_eq!(
            shopify_hmac(s(&v, "secret"), &b),
            s(&v["headers"], "X-Shopify-Hmac-Sha256")
        );
        assert_status(
            &verify(Scheme::Shopify, &h, &b, s(&v, "secret"), T),
            SignatureStatus::Valid,
        );
        assert_eq!(detect_scheme(&h), Some(Scheme::Shopify));
    }

    // ---- negative checks (spec §10) ---------------------------------------------------------

    #[test]
    fn shopify_signature_over_one_extra_body_byte_is_rejected() {
        let v = vector("shopify", "shopify_orders_create");
        let mut b = body(&v);
        b.push(b'\n');
        assert_status(
            &verify(
                Scheme::Shopify,
                &vector_headers(&v, "headers"),
                &b,
                s(&v, "secret"),
                T,
            ),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn shopify_events_header_is_read_first() {
        let v = vector("shopify", "shopify_orders_create");
        let b = body(&v);
        let good = s(&v["headers"], "X-Shopify-Hmac-Sha256");
        let h = hs(&[
            ("X-Shopify-Hmac-Sha256", good),
            ("shopify-hmac-sha256", "AAAA"),
        ]);
        assert_status(
            &verify(Scheme::Shopify, &h, &b, s(&v, "secret"), T),
            SignatureStatus::Invalid,
        );
    }

    // ---- re-signing -------------------------------------------------------------------------

    #[test]
    fn resign_shopify_rewrites_whichever_hmac_headers_were_captured() {
        let v = vector("shopify", "shopify_orders_create");
        let b = body(&v);
        let expected = s(&v["headers"], "X-Shopify-Hmac-Sha256");
        let events = hs(&[("shopify-hmac-sha256", "stale"), ("shopify-topic", "x")]);
        let replay = resign(Scheme::Shopify, &events, &b, s(&v, "secret"), T).unwrap();
        assert_eq!(names(&replay), ["shopify-hmac-sha256", "shopify-topic"]);
        assert_eq!(header(&replay, "shopify-hmac-sha256"), Some(expected));
        let replay = resign(Scheme::Shopify, &[], &b, s(&v, "secret"), T).unwrap();
        assert_eq!(names(&replay), ["X-Shopify-Hmac-Sha256"]);
    }
}
