//! Standard Webhooks and Svix (spec §3): `webhook-*` or `svix-*` id, timestamp and signature
//! headers, `v1,<base64>` entries of an HMAC-SHA256 over `id "." ts "." body`, keyed with the
//! base64 after `whsec_`. Only the symmetric `v1` entries are checked; `v1a` (Ed25519) is ignored.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use hmac::Mac;
use rand::distributions::{Alphanumeric, DistString};

use super::check::Check;
use super::mac::{hmac_sha256, matches_any};
use super::{SignError, SignatureStatus, Verification};
use crate::headers::{self, RawHeader};

/// Prefix of Standard Webhooks / Svix symmetric secrets; it is stripped before base64 decoding.
pub const STANDARD_WEBHOOKS_SECRET_PREFIX: &str = "whsec_";

pub(super) const WEBHOOK_ID: &str = "webhook-id";
pub(super) const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
pub(super) const WEBHOOK_SIGNATURE: &str = "webhook-signature";
pub(super) const SVIX_ID: &str = "svix-id";
pub(super) const SVIX_TIMESTAMP: &str = "svix-timestamp";
pub(super) const SVIX_SIGNATURE: &str = "svix-signature";

/// Standard base64 that accepts input with or without `=` padding (for secrets only; signatures
/// are always emitted and compared padded).
const BASE64_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Standard Webhooks HMAC key: strip an optional `whsec_` prefix and base64-decode the rest
/// (standard alphabet, padded or unpadded).
pub fn standard_webhooks_key(secret: &str) -> Result<Vec<u8>, SignError> {
    let encoded = secret
        .strip_prefix(STANDARD_WEBHOOKS_SECRET_PREFIX)
        .unwrap_or(secret);
    if encoded.is_empty() {
        return Err(SignError::EmptyStandardWebhooksSecret);
    }
    let key = BASE64_ANY_PADDING
        .decode(encoded)
        .map_err(|_| SignError::InvalidStandardWebhooksSecret)?;
    if key.is_empty() {
        return Err(SignError::EmptyStandardWebhooksSecret);
    }
    Ok(key)
}

fn standard_webhooks_mac(key: &[u8], msg_id: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = hmac_sha256(key);
    mac.update(msg_id);
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Standard Webhooks `v1` signature: padded standard base64 of
/// `HMAC-SHA256(key, msg_id || "." || ts || "." || body)`; `key` comes from
/// [`standard_webhooks_key`]. The header entry is `v1,<this>`.
pub fn standard_webhooks_signature(
    key: &[u8],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    standard_webhooks_mac(key, msg_id.as_bytes(), timestamp, body)
}

/// A fresh Standard Webhooks message id: `msg_` followed by 27 random alphanumerics.
pub fn new_message_id() -> String {
    format!(
        "msg_{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 27)
    )
}

/// New Standard Webhooks headers (id only when the capture had none for that family,
/// timestamp, signature) for each family the capture used.
pub(super) fn resign_headers(
    headers: &[RawHeader],
    key: &[u8],
    body: &[u8],
    now: i64,
) -> Vec<RawHeader> {
    let present = |name: &str| headers::find(headers, name).filter(|v| !v.is_empty());
    let family_seen = |names: [&str; 3]| names.iter().any(|n| headers::find(headers, n).is_some());
    let svix = family_seen([SVIX_ID, SVIX_TIMESTAMP, SVIX_SIGNATURE]);
    let webhook = family_seen([WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE]) || !svix;
    let shared_id: Vec<u8> = present(WEBHOOK_ID)
        .or_else(|| present(SVIX_ID))
        .map(<[u8]>::to_vec)
        .unwrap_or_else(|| new_message_id().into_bytes());

    let mut out = Vec::new();
    let families = [
        (webhook, WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE),
        (svix, SVIX_ID, SVIX_TIMESTAMP, SVIX_SIGNATURE),
    ];
    for (used, id_name, ts_name, sig_name) in families {
        if !used {
            continue;
        }
        let id = match present(id_name) {
            Some(id) => id.to_vec(),
            None => {
                out.push(RawHeader::new(id_name, shared_id.clone()));
                shared_id.clone()
            }
        };
        let signature = standard_webhooks_mac(key, &id, now, body);
        out.push(RawHeader::new(ts_name, now.to_string()));
        out.push(RawHeader::new(sig_name, format!("v1,{signature}")));
    }
    out
}

pub(super) fn verify_standard_webhooks(
    check: Check<'_>,
    headers: &[RawHeader],
    secret: &str,
    received_at: i64,
) -> Verification {
    let present = |name: &str| headers::find(headers, name).filter(|v| !v.is_empty());
    let svix = [SVIX_ID, SVIX_TIMESTAMP, SVIX_SIGNATURE];
    let names = if svix.iter().all(|n| present(n).is_some()) {
        svix
    } else {
        [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE]
    };
    let [id_name, ts_name, sig_name] = names;
    let (Some(id), Some(ts), Some(sig)) = (present(id_name), present(ts_name), present(sig_name))
    else {
        let missing: Vec<&str> = names.into_iter().filter(|n| present(n).is_none()).collect();
        return check.missing(&missing.join(" or "));
    };
    let Ok(ts) = std::str::from_utf8(ts) else {
        return check.malformed(ts_name, "not UTF-8");
    };
    let Ok(timestamp) = ts.parse::<i64>() else {
        return check.malformed(ts_name, &format!("{ts:?} is not an integer"));
    };
    let Ok(sig) = std::str::from_utf8(sig) else {
        return check.malformed(sig_name, "not UTF-8");
    };
    let mut v1 = Vec::new();
    let mut without_comma = 0usize;
    for entry in sig.split(' ') {
        match entry.split_once(',') {
            Some(("v1", value)) => v1.push(value),
            Some(_) => {}
            None => without_comma += 1,
        }
    }
    if v1.is_empty() {
        return check.done(
            SignatureStatus::Invalid,
            format!("{sig_name} has no v1 signature (v1a and other versions are ignored)"),
        );
    }
    if secret.is_empty() {
        return check.no_secret();
    }
    let key = match standard_webhooks_key(secret) {
        Ok(key) => key,
        Err(err) => return check.done(SignatureStatus::Unchecked, err.to_string()),
    };
    let expected = standard_webhooks_mac(&key, id, timestamp, check.body);
    if !matches_any(&expected, v1) {
        return check.done(
            SignatureStatus::Invalid,
            "no v1 signature matches this secret",
        );
    }
    let mut verdict = check.fresh_or_stale(timestamp, received_at, false);
    if without_comma > 0 {
        verdict.reason.push_str(&format!(
            "; {sig_name} has an entry without a comma, which makes the Python libraries raise"
        ));
    }
    verdict
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::headers::RawHeader;
    use crate::signing::test_support::*;
    use crate::signing::*;

    fn sw_basic() -> (Value, Vec<RawHeader>, Vec<u8>) {
        let v = vector("standard_webhooks", "standard_webhooks_v1_basic");
        let h = vector_headers(&v, "headers");
        let b = body(&v);
        (v, h, b)
    }

    // ---- vectors ----------------------------------------------------------------------------

    #[test]
    fn standard_webhooks_basic_vector_is_reproduced_and_verifies_as_webhook_and_svix_headers() {
        let (v, h, b) = sw_basic();
        let key = standard_webhooks_key(s(&v, "secret")).unwrap();
        assert_eq!(hex::encode(&key), s(&v, "hmac_key_hex"));
        assert_eq!(
            format!(
                "v1,{}",
                standard_webhooks_signature(&key, s(&v, "msg_id"), ts(&v), &b)
            ),
            s(&v, "expected_signature")
        );
        for headers in [h, vector_headers(&v, "svix_headers")] {
            let got = verify(
                Scheme::StandardWebhooks,
                &headers,
                &b,
                s(&v, "secret"),
                ts(&v) + 10,
            );
            assert_status(&got, SignatureStatus::Valid);
        }
    }

    #[test]
    fn standard_webhooks_rotation_vector_accepts_any_v1_entry_and_ignores_v2() {
        let v = vector("standard_webhooks", "standard_webhooks_v1_rotation_multi");
        let b = body(&v);
        let h = vector_headers(&v, "headers");
        for secret in [s(&v, "secret"), s(&v, "other_secret")] {
            assert_status(
                &verify(Scheme::StandardWebhooks, &h, &b, secret, ts(&v) + 10),
                SignatureStatus::Valid,
            );
        }
        // The v2 entry carries the right digest for `secret`, but only v1 counts.
        let only_v2 = hs(&[
            ("webhook-id", s(&v, "msg_id")),
            ("webhook-timestamp", "1700000000"),
            (
                "webhook-signature",
                "v2,R9+eg4lQu9fg1FzJvFNKBRs7srOTo81ZJ1iOc7Yqtno=",
            ),
        ]);
        assert_status(
            &verify(Scheme::StandardWebhooks, &only_v2, &b, s(&v, "secret"), T),
            SignatureStatus::Invalid,
        );
    }

    fn assert_sw_kat(v: &Value) {
        let b = body(v);
        let key = standard_webhooks_key(s(v, "secret")).unwrap();
        let entry = format!(
            "v1,{}",
            standard_webhooks_signature(&key, s(v, "msg_id"), ts(v), &b)
        );
        assert_eq!(entry, s(v, "expected_signature"));
        assert_eq!(entry, s(v, "upstream_expected"));
        let timestamp = ts(v).to_string();
        let headers = hs(&[
            ("webhook-id", s(v, "msg_id")),
            ("webhook-timestamp", &timestamp),
            ("webhook-signature", &entry),
        ]);
        assert_status(
            &verify(
                Scheme::StandardWebhooks,
                &headers,
                &b,
                s(v, "secret"),
                ts(v),
            ),
            SignatureStatus::Valid,
        );
    }

    #[test]
    fn standard_webhooks_upstream_js_known_answer_is_reproduced() {
        assert_sw_kat(&vector(
            "standard_webhooks",
            "standard_webhooks_upstream_kat_js",
        ));
    }

    #[test]
    fn svix_upstream_rust_known_answer_is_reproduced() {
        assert_sw_kat(&vector("standard_webhooks", "svix_upstream_kat_rust"));
    }

    #[test]
    fn standard_webhooks_mixed_v1_and_v1a_header_verifies_through_the_v1_entry() {
        let v = vector("standard_webhooks", "standard_webhooks_v1a_ed25519_basic");
        let b = body(&v);
        let (basic, _, _) = sw_basic();
        let got = verify(
            Scheme::StandardWebhooks,
            &vector_headers(&v, "headers"),
            &b,
            s(&basic, "secret"),
            ts(&v) + 10,
        );
        assert_status(&got, SignatureStatus::Valid);
    }

    #[test]
    fn standard_webhooks_v1a_only_header_is_ignored_rather_than_accepted() {
        let v = vector(
            "standard_webhooks",
            "standard_webhooks_v1a_ed25519_upstream_kat",
        );
        let b = body(&v);
        let timestamp = ts(&v).to_string();
        let headers = hs(&[
            ("webhook-id", s(&v, "msg_id")),
            ("webhook-timestamp", &timestamp),
            ("webhook-signature", s(&v, "expected_signature")),
        ]);
        let got = verify(
            Scheme::StandardWebhooks,
            &headers,
            &b,
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ts(&v),
        );
        assert_status(&got, SignatureStatus::Invalid);
        assert!(got.reason.contains("no v1 signature"), "{}", got.reason);
    }

    // ---- negative checks (spec §10) ---------------------------------------------------------

    #[test]
    fn standard_webhooks_timestamp_301_seconds_off_either_way_is_rejected() {
        let (v, h, b) = sw_basic();
        for (at, status) in [
            (T + 300, SignatureStatus::Valid),
            (T - 300, SignatureStatus::Valid),
            (T + 301, SignatureStatus::ValidButStale),
            (T - 301, SignatureStatus::ValidButStale),
        ] {
            assert_status(
                &verify(Scheme::StandardWebhooks, &h, &b, s(&v, "secret"), at),
                status,
            );
        }
        let got = verify(Scheme::StandardWebhooks, &h, &b, s(&v, "secret"), T - 301);
        assert_eq!(got.reason, "signed 301 s after arrival (tolerance 300 s)");
    }

    #[test]
    fn standard_webhooks_signature_made_with_the_verbatim_secret_string_is_rejected() {
        let (v, _, b) = sw_basic();
        let verbatim =
            standard_webhooks_signature(s(&v, "secret").as_bytes(), s(&v, "msg_id"), T, &b);
        let sig = format!("v1,{verbatim}");
        let h = hs(&[
            ("webhook-id", s(&v, "msg_id")),
            ("webhook-timestamp", "1700000000"),
            ("webhook-signature", &sig),
        ]);
        assert_status(
            &verify(Scheme::StandardWebhooks, &h, &b, s(&v, "secret"), T),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn standard_webhooks_timestamp_header_that_differs_from_the_signed_one_is_rejected() {
        let (v, mut h, b) = sw_basic();
        for header in &mut h {
            if header.name == "webhook-timestamp" {
                header.value = b"1700000001".to_vec();
            }
        }
        assert_status(
            &verify(Scheme::StandardWebhooks, &h, &b, s(&v, "secret"), T),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn standard_webhooks_secret_is_accepted_padded_unpadded_and_without_prefix() {
        let padded = "whsec_cHJldmlvdXMtcm90YXRlZC1vdXQta2V5LTMyLWJ5dGU=";
        let key = standard_webhooks_key(padded).unwrap();
        assert_eq!(key, b"previous-rotated-out-key-32-byte");
        assert_eq!(
            standard_webhooks_key(padded.trim_end_matches('=')).unwrap(),
            key
        );
        assert_eq!(
            standard_webhooks_key(padded.trim_start_matches("whsec_")).unwrap(),
            key
        );
    }

    #[test]
    fn standard_webhooks_secret_that_is_not_base64_cannot_sign_or_verify() {
        let (_, h, b) = sw_basic();
        for secret in ["whsec_not base64!", "whsec_", "whsec_a-b_"] {
            assert!(
                resign(Scheme::StandardWebhooks, &h, &b, secret, T).is_err(),
                "{secret}"
            );
            assert_status(
                &verify(Scheme::StandardWebhooks, &h, &b, secret, T),
                SignatureStatus::Unchecked,
            );
        }
        let err = standard_webhooks_key("whsec_???").unwrap_err();
        assert!(err.to_string().contains("not valid base64"), "{err}");
    }

    #[test]
    fn standard_webhooks_entry_without_comma_is_skipped_with_a_note() {
        let (v, _, b) = sw_basic();
        let h = hs(&[
            ("webhook-id", s(&v, "msg_id")),
            ("webhook-timestamp", "1700000000"),
            (
                "webhook-signature",
                "garbage v1,R9+eg4lQu9fg1FzJvFNKBRs7srOTo81ZJ1iOc7Yqtno=",
            ),
        ]);
        let got = verify(Scheme::StandardWebhooks, &h, &b, s(&v, "secret"), T);
        assert_status(&got, SignatureStatus::Valid);
        assert!(
            got.reason.contains("Python libraries raise"),
            "{}",
            got.reason
        );
    }

    #[test]
    fn standard_webhooks_prefers_svix_headers_only_when_all_three_are_present() {
        let (v, h, b) = sw_basic();
        let mut both = h.clone();
        both.push(RawHeader::new("svix-id", s(&v, "msg_id")));
        both.push(RawHeader::new("svix-signature", "v1,AAAA"));
        // svix-timestamp missing: the webhook-* family is used and verifies.
        assert_status(
            &verify(Scheme::StandardWebhooks, &both, &b, s(&v, "secret"), T),
            SignatureStatus::Valid,
        );
        both.push(RawHeader::new("svix-timestamp", "1700000000"));
        assert_status(
            &verify(Scheme::StandardWebhooks, &both, &b, s(&v, "secret"), T),
            SignatureStatus::Invalid,
        );
    }

    #[test]
    fn standard_webhooks_non_integer_timestamp_is_malformed() {
        let (v, _, b) = sw_basic();
        let h = hs(&[
            ("webhook-id", s(&v, "msg_id")),
            ("webhook-timestamp", "1700000000.5"),
            ("webhook-signature", s(&v, "expected_signature")),
        ]);
        let got = verify(Scheme::StandardWebhooks, &h, &b, s(&v, "secret"), T);
        assert_status(&got, SignatureStatus::Malformed);
        assert!(got
            .reason
            .starts_with("webhook-timestamp header cannot be parsed"));
    }

    // ---- re-signing -------------------------------------------------------------------------

    #[test]
    fn resign_standard_webhooks_keeps_the_captured_id_and_header_family() {
        let (v, h, b) = sw_basic();
        let secret = s(&v, "secret");
        let now = T + 1000;

        let svix_only = hs(&[
            ("svix-id", s(&v, "msg_id")),
            ("svix-timestamp", "1700000000"),
            ("svix-signature", s(&v, "expected_signature")),
        ]);
        let replay = resign(Scheme::StandardWebhooks, &svix_only, &b, secret, now).unwrap();
        assert_eq!(names(&replay), names(&svix_only));
        assert_eq!(header(&replay, "svix-id"), Some(s(&v, "msg_id")));
        assert_eq!(header(&replay, "svix-timestamp"), Some("1700001000"));
        assert_status(
            &verify(Scheme::StandardWebhooks, &replay, &b, secret, now),
            SignatureStatus::Valid,
        );

        let mut both = h.clone();
        both.extend(svix_only);
        let replay = resign(Scheme::StandardWebhooks, &both, &b, secret, now).unwrap();
        assert_eq!(names(&replay), names(&both));
        assert_eq!(
            header(&replay, "webhook-signature"),
            header(&replay, "svix-signature")
        );
        assert_status(
            &verify(Scheme::StandardWebhooks, &replay, &b, secret, now),
            SignatureStatus::Valid,
        );

        let replay = resign(Scheme::StandardWebhooks, &h, &b, secret, now).unwrap();
        assert_eq!(names(&replay), names(&h));
        assert!(header(&replay, "svix-signature").is_none());
    }

    #[test]
    fn resign_standard_webhooks_generates_a_msg_id_when_the_capture_had_none() {
        let (v, _, b) = sw_basic();
        let captured = hs(&[("Content-Type", "application/json")]);
        let replay = resign(Scheme::StandardWebhooks, &captured, &b, s(&v, "secret"), T).unwrap();
        assert_eq!(
            names(&replay),
            [
                "Content-Type",
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature"
            ]
        );
        let id = header(&replay, "webhook-id").unwrap();
        assert!(id.starts_with("msg_") && id.len() == 31, "{id}");
        let empty_id = hs(&[("Webhook-Id", ""), ("Content-Type", "application/json")]);
        let replaced = resign(Scheme::StandardWebhooks, &empty_id, &b, s(&v, "secret"), T).unwrap();
        assert_eq!(
            names(&replaced),
            [
                "webhook-id",
                "Content-Type",
                "webhook-timestamp",
                "webhook-signature"
            ]
        );
        assert!(header(&replaced, "webhook-id").unwrap().starts_with("msg_"));
        assert_ne!(new_message_id(), new_message_id());
        assert_status(
            &verify(Scheme::StandardWebhooks, &replay, &b, s(&v, "secret"), T),
            SignatureStatus::Valid,
        );
    }
}
