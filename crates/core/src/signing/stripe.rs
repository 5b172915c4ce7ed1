//! Stripe (spec §2): `Stripe-Signature: t=<ts>,v1=<hex>`, an HMAC-SHA256 over `ts "." body`
//! keyed with the whole secret string.

use hmac::Mac;

use super::check::Check;
use super::mac::{hmac_sha256, matches_any};
use super::{SignatureStatus, Verification};
use crate::headers::{self, RawHeader};

const STRIPE_SIGNATURE: &str = "Stripe-Signature";

/// Stripe `v1` signature: lower-case hex of `HMAC-SHA256(secret, ts || "." || body)`, where the
/// key is the whole secret string (`whsec_` included) as UTF-8 bytes.
pub fn stripe_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = hmac_sha256(secret.as_bytes());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Full `Stripe-Signature` value for one secret: `t=<ts>,v1=<hex>` (no `v0`).
pub fn stripe_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        stripe_signature(secret, timestamp, body)
    )
}

/// The `Stripe-Signature` header of a replay signed at `now`.
pub(super) fn resign_headers(secret: &str, body: &[u8], now: i64) -> Vec<RawHeader> {
    vec![RawHeader::new(
        STRIPE_SIGNATURE,
        stripe_header(secret, now, body),
    )]
}

/// Parsed `Stripe-Signature`: the first `t` and every `v1` value.
struct StripeHeader<'a> {
    timestamp: i64,
    v1: Vec<&'a str>,
}

/// Parses like stripe-python: split on `,`, then on `=` with exact, untrimmed keys; the first
/// `t` must be an integer; only `v1` items count.
fn parse_stripe_header(value: &str) -> Result<StripeHeader<'_>, &'static str> {
    let mut t = None;
    let mut v1 = Vec::new();
    for item in value.split(',') {
        let mut parts = item.split('=');
        let key = parts.next().unwrap_or_default();
        let val = parts.next();
        match key {
            "t" if t.is_none() => t = Some(val.ok_or("t has no value")?),
            "v1" => v1.push(val.ok_or("a v1 item has no value")?),
            _ => {}
        }
    }
    let t = t.ok_or("no t= timestamp")?;
    let timestamp = t
        .parse::<i64>()
        .map_err(|_| "t= timestamp is not an integer")?;
    Ok(StripeHeader { timestamp, v1 })
}

pub(super) fn verify_stripe(
    check: Check<'_>,
    headers: &[RawHeader],
    secret: &str,
    received_at: i64,
) -> Verification {
    let Some(raw) = headers::find(headers, STRIPE_SIGNATURE) else {
        return check.missing(STRIPE_SIGNATURE);
    };
    let Ok(value) = std::str::from_utf8(raw) else {
        return check.malformed(STRIPE_SIGNATURE, "not UTF-8");
    };
    let parsed = match parse_stripe_header(value) {
        Ok(parsed) => parsed,
        Err(why) => return check.malformed(STRIPE_SIGNATURE, why),
    };
    if parsed.v1.is_empty() {
        return check.done(
            SignatureStatus::Invalid,
            "Stripe-Signature has no v1 signature (v0 and other schemes are ignored)",
        );
    }
    if secret.is_empty() {
        return check.no_secret();
    }
    let expected = stripe_signature(secret, parsed.timestamp, check.body);
    if !matches_any(&expected, parsed.v1.iter().copied()) {
        return check.done(
            SignatureStatus::Invalid,
            "no v1 signature matches this secret",
        );
    }
    check.fresh_or_stale(parsed.timestamp, received_at, true)
}

#[cfg(test)]
mod tests {
    use crate::signing::test_support::*;
    use crate::signing::*;

    // ---- vectors ----------------------------------------------------------------------------

    #[test]
    fn stripe_basic_vector_is_reproduced_and_verifies() {
        let v = vector("stripe", "stripe_basic");
        let b = body(&v);
        assert_eq!(
            stripe_signature(s(&v, "secret"), ts(&v), &b),
            s(&v, "expected_v1_hex")
        );
        assert_eq!(
            stripe_header(s(&v, "secret"), ts(&v), &b),
            s(&v["headers"], "Stripe-Signature")
        );
        let got = verify(
            Scheme::Stripe,
            &vector_headers(&v, "headers"),
            &b,
            s(&v, "secret"),
            ts(&v) + 10,
        );
        assert_status(&got, SignatureStatus::Valid);
        assert_eq!(got.reason, "valid");
    }

    #[test]
    fn stripe_rotation_vector_verifies_with_either_secret_and_ignores_v0() {
        let v = vector("stripe", "stripe_rotation_two_v1_plus_fake_v0");
        let b = body(&v);
        assert_eq!(
            stripe_signature(s(&v, "secret"), ts(&v), &b),
            s(&v, "expected_v1_hex_secret")
        );
        assert_eq!(
            stripe_signature(s(&v, "other_secret"), ts(&v), &b),
            s(&v, "expected_v1_hex_other_secret")
        );
        let h = vector_headers(&v, "headers");
        for secret in [s(&v, "secret"), s(&v, "other_secret")] {
            assert_status(
                &verify(Scheme::Stripe, &h, &b, secret, ts(&v) + 10),
                SignatureStatus::Valid,
            );
        }
        assert_status(
            &verify(Scheme::Stripe, &h, &b, "whsec_someOtherSecret", ts(&v) + 10),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn stripe_replay_resigned_vector_is_exactly_what_resign_emits_for_a_stale_capture() {
        let v = vector("stripe", "stripe_replay_resigned");
        let b = body(&v);
        let now = ts(&v);
        let (captured, _) = stripe_basic();
        assert_status(
            &verify(Scheme::Stripe, &captured, &b, STRIPE_SECRET, now),
            SignatureStatus::ValidButStale,
        );
        let replay = resign(Scheme::Stripe, &captured, &b, s(&v, "secret"), now).unwrap();
        assert_eq!(replay, vector_headers(&v, "headers"));
        assert_eq!(
            stripe_signature(s(&v, "secret"), now, &b),
            s(&v, "expected_v1_hex")
        );
        assert_status(
            &verify(Scheme::Stripe, &replay, &b, STRIPE_SECRET, now),
            SignatureStatus::Valid,
        );
    }

    #[test]
    fn stripe_utf8_and_trailing_newline_vector_signs_the_exact_bytes() {
        let v = vector("stripe", "stripe_utf8_and_trailing_newline");
        let b = body(&v);
        assert_eq!(b.last(), Some(&b'\n'));
        assert_eq!(
            stripe_signature(s(&v, "secret"), ts(&v), &b),
            s(&v, "expected_v1_hex")
        );
        let h = vector_headers(&v, "headers");
        assert_status(
            &verify(Scheme::Stripe, &h, &b, s(&v, "secret"), ts(&v) + 10),
            SignatureStatus::Valid,
        );
        assert_status(
            &verify(
                Scheme::Stripe,
                &h,
                &b[..b.len() - 1],
                s(&v, "secret"),
                ts(&v) + 10,
            ),
            SignatureStatus::Invalid,
        );
    }

    // ---- negative checks (spec §10) ---------------------------------------------------------

    #[test]
    fn stripe_signature_with_stale_timestamp_is_rejected() {
        let (h, b) = stripe_basic();
        assert_status(
            &verify(Scheme::Stripe, &h, &b, STRIPE_SECRET, T + 300),
            SignatureStatus::Valid,
        );
        let got = verify(Scheme::Stripe, &h, &b, STRIPE_SECRET, T + 301);
        assert_status(&got, SignatureStatus::ValidButStale);
        assert_eq!(got.reason, "signed 301 s before arrival (tolerance 300 s)");
    }

    #[test]
    fn stripe_signature_an_hour_in_the_future_is_accepted_with_a_clock_skew_note() {
        let (h, b) = stripe_basic();
        let got = verify(Scheme::Stripe, &h, &b, STRIPE_SECRET, T - 3600);
        assert_status(&got, SignatureStatus::Valid);
        assert!(got.reason.contains("clock skew > 300 s"), "{}", got.reason);
    }

    #[test]
    fn stripe_key_with_whsec_prefix_stripped_is_rejected() {
        let (h, b) = stripe_basic();
        let stripped = STRIPE_SECRET.trim_start_matches("whsec_");
        let got = verify(Scheme::Stripe, &h, &b, stripped, T);
        assert_status(&got, SignatureStatus::Invalid);
        assert_eq!(got.reason, "no v1 signature matches this secret");
    }

    #[test]
    fn stripe_header_with_space_after_comma_is_rejected() {
        let (_, b) = stripe_basic();
        let h = hs(&[(
            "Stripe-Signature",
            "t=1700000000, v1=76517ec43404cf1686cbde0e5311d072a618851233b8d6ad5ee6e038949fbe1e",
        )]);
        assert_status(
            &verify(Scheme::Stripe, &h, &b, STRIPE_SECRET, T),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn stripe_upper_case_hex_is_rejected() {
        let (_, b) = stripe_basic();
        let upper = format!(
            "t={T},v1={}",
            stripe_signature(STRIPE_SECRET, T, &b).to_uppercase()
        );
        let h = hs(&[("Stripe-Signature", &upper)]);
        assert_status(
            &verify(Scheme::Stripe, &h, &b, STRIPE_SECRET, T),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn stripe_correct_digest_labelled_v0_is_rejected() {
        let (_, b) = stripe_basic();
        let v0 = format!("t={T},v0={}", stripe_signature(STRIPE_SECRET, T, &b));
        let got = verify(
            Scheme::Stripe,
            &hs(&[("Stripe-Signature", &v0)]),
            &b,
            STRIPE_SECRET,
            T,
        );
        assert_status(&got, SignatureStatus::Invalid);
        assert!(got.reason.contains("no v1 signature"), "{}", got.reason);
    }

    #[test]
    fn stripe_signature_over_one_extra_body_byte_is_rejected() {
        let (h, mut b) = stripe_basic();
        b.push(b' ');
        assert_status(
            &verify(Scheme::Stripe, &h, &b, STRIPE_SECRET, T),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn stripe_header_without_integer_timestamp_is_malformed() {
        let (_, b) = stripe_basic();
        let cases = [
            (
                "v1=abc",
                "Stripe-Signature header cannot be parsed: no t= timestamp",
            ),
            (
                "t=1.5,v1=abc",
                "Stripe-Signature header cannot be parsed: t= timestamp is not an integer",
            ),
            (
                "",
                "Stripe-Signature header cannot be parsed: no t= timestamp",
            ),
        ];
        for (value, reason) in cases {
            let got = verify(
                Scheme::Stripe,
                &hs(&[("stripe-signature", value)]),
                &b,
                STRIPE_SECRET,
                T,
            );
            assert_status(&got, SignatureStatus::Malformed);
            assert_eq!(got.reason, reason);
        }
    }
}
