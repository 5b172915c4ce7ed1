//! Twilio: `X-Twilio-Signature`; form posts with Twilio's `…Sid` fields (account, call or
//! message ids with their documented prefixes). Reads the idempotency token as the event id.

use super::{Delivery, HeaderView};
use crate::provider::form::Fields;
use crate::provider::Detected;

pub(super) fn by_headers(h: &HeaderView) -> bool {
    h.has("x-twilio-signature")
}

pub(super) fn by_fields(f: &Fields) -> bool {
    let other_sid =
        f.0.iter()
            .any(|(k, _)| k != "AccountSid" && k.ends_with("Sid"));
    (f.starts_with("AccountSid", &["AC"]) && (other_sid || f.has("ApiVersion")))
        || (f.starts_with("CallSid", &["CA"])
            && ["From", "To", "Caller", "Called"].iter().any(|n| f.has(n)))
        || (["MessageSid", "SmsSid"]
            .iter()
            .any(|n| f.starts_with(n, &["SM", "MM"]))
            && f.has("From")
            && f.has("To"))
}

pub(super) fn extract(d: &Delivery, out: &mut Detected) {
    out.event_id = d.header_text("i-twilio-idempotency-token");
}

#[cfg(test)]
mod tests {
    use crate::provider::tests::{check, hs};
    use crate::provider::{detect, Provider};

    #[test]
    fn twilio_by_signature_header_or_form_fields() {
        let h = hs(&[
            ("X-Twilio-Signature", "abc="),
            ("I-Twilio-Idempotency-Token", "tok-1"),
        ]);
        check(
            &detect(&h, b"x=1", None),
            Some(Provider::Twilio),
            None,
            Some("tok-1"),
        );
        let sms = b"MessageSid=SM1&AccountSid=AC1&From=%2B1&To=%2B2&Body=hi";
        check(&detect(&[], sms, None), Some(Provider::Twilio), None, None);
        let call = b"CallSid=CA123&From=%2B1&To=%2B2";
        check(&detect(&[], call, None), Some(Provider::Twilio), None, None);
        check(&detect(&[], b"Sid=CA1&Digits=1", None), None, None, None);
    }
}
