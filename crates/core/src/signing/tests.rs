//! Tests of what the schemes share: detection, header ownership, names, the pseudo-schemes,
//! and re-signing round trips over every scheme.

use super::test_support::*;
use super::*;

#[test]
fn missing_signature_header_is_invalid_for_every_signing_scheme() {
    let h = hs(&[("Content-Type", "application/json")]);
    let expected = [
        (Scheme::Stripe, "no Stripe-Signature header"),
        (
            Scheme::StandardWebhooks,
            "no webhook-id or webhook-timestamp or webhook-signature header",
        ),
        (Scheme::Github, "no X-Hub-Signature-256 header"),
        (Scheme::Shopify, "no X-Shopify-Hmac-Sha256 header"),
        (Scheme::Slack, "no X-Slack-Signature header"),
    ];
    for (scheme, reason) in expected {
        let got = verify(
            scheme,
            &h,
            b"{}",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            T,
        );
        assert_status(&got, SignatureStatus::Invalid);
        assert_eq!(got.reason, reason);
    }
}

#[test]
fn non_utf8_body_is_signed_byte_exact_and_flagged_when_valid() {
    let b = [0xff_u8, 0xfe, b'{', 0x00, b'}'];
    let h = resign(Scheme::Stripe, &[], &b, STRIPE_SECRET, T).unwrap();
    let got = verify(Scheme::Stripe, &h, &b, STRIPE_SECRET, T);
    assert_status(&got, SignatureStatus::Valid);
    assert_eq!(
        got.reason,
        "valid; body is not UTF-8, official verifiers may reject it"
    );
    let lossy = String::from_utf8_lossy(&b).into_owned().into_bytes();
    assert_status(
        &verify(Scheme::Stripe, &h, &lossy, STRIPE_SECRET, T),
        SignatureStatus::Invalid,
    );
}

#[test]
fn empty_secret_leaves_captures_unchecked_and_refuses_to_resign() {
    let (h, b) = stripe_basic();
    let got = verify(Scheme::Stripe, &h, &b, "", T);
    assert_status(&got, SignatureStatus::Unchecked);
    assert_eq!(got.reason, "no Stripe signing secret configured");
    for scheme in Scheme::ALL.into_iter().filter(|s| s.signs()) {
        let err = resign(scheme, &h, &b, "", T).unwrap_err();
        assert_eq!(err, SignError::MissingSecret(scheme));
        assert!(err.to_string().contains(scheme.label()), "{err}");
    }
}

#[test]
fn original_and_none_schemes_are_unchecked() {
    let (h, b) = stripe_basic();
    for scheme in [Scheme::Original, Scheme::None] {
        assert_status(
            &verify(scheme, &h, &b, STRIPE_SECRET, T),
            SignatureStatus::Unchecked,
        );
    }
}

// ---- re-signing --------------------------------------------------------------------------

fn secret_for(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::StandardWebhooks => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        _ => "replay-secret",
    }
}

fn other_secret_for(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::StandardWebhooks => "whsec_cHJldmlvdXMtcm90YXRlZC1vdXQta2V5LTMyLWJ5dGU=",
        _ => "another-secret",
    }
}

#[test]
fn resign_then_verify_round_trips_for_every_signing_scheme() {
    let body = b"{\"hello\":\"world\"}\n";
    let now = T + 86_400;
    let captured = hs(&[
        ("Host", "example.test"),
        ("Content-Type", "application/json"),
    ]);
    for scheme in Scheme::ALL.into_iter().filter(|s| s.signs()) {
        let secret = secret_for(scheme);
        let replay = resign(scheme, &captured, body, secret, now).unwrap();
        assert_eq!(detect_scheme(&replay), Some(scheme));
        let got = verify(scheme, &replay, body, secret, now);
        assert_status(&got, SignatureStatus::Valid);
        assert_eq!(got.reason, "valid", "{scheme}");
        // Re-signing an already re-signed request later still verifies at that time.
        let again = resign(scheme, &replay, body, secret, now + 3600).unwrap();
        assert_eq!(again.len(), replay.len(), "{scheme}");
        assert_status(
            &verify(scheme, &again, body, secret, now + 3600),
            SignatureStatus::Valid,
        );
        assert_status(
            &verify(scheme, &again, body, other_secret_for(scheme), now + 3600),
            SignatureStatus::Invalid,
        );
    }
}

#[test]
fn resign_replaces_signature_headers_in_place_and_keeps_the_rest_in_order() {
    let (_, b) = stripe_basic();
    let captured = hs(&[
        ("Host", "example.test"),
        ("stripe-signature", "t=1,v1=aa,v0=bb"),
        ("Content-Type", "application/json"),
        ("Stripe-Signature", "t=2,v1=cc"),
    ]);
    let replay = resign(Scheme::Stripe, &captured, &b, STRIPE_SECRET, T).unwrap();
    assert_eq!(names(&replay), ["Host", "Stripe-Signature", "Content-Type"]);
    assert_eq!(
        header(&replay, "stripe-signature"),
        Some(stripe_header(STRIPE_SECRET, T, &b).as_str())
    );
    assert!(!header(&replay, "stripe-signature").unwrap().contains("v0="));
}

#[test]
fn resign_original_returns_the_captured_headers_unchanged() {
    let (h, b) = stripe_basic();
    assert_eq!(resign(Scheme::Original, &h, &b, "", T).unwrap(), h);
}

#[test]
fn resign_none_strips_the_signature_headers_of_every_scheme() {
    let mut all = hs(&[("Host", "example.test"), ("webhook-id", "msg_1")]);
    for scheme in Scheme::ALL {
        for name in signature_header_names(scheme) {
            all.push(RawHeader::new(name.to_uppercase(), "x"));
        }
    }
    all.push(RawHeader::new("Content-Type", "text/plain"));
    let replay = resign(Scheme::None, &all, b"", "", T).unwrap();
    assert_eq!(names(&replay), ["Host", "webhook-id", "Content-Type"]);
}

// ---- detection and names ----------------------------------------------------------------

#[test]
fn detect_scheme_recognises_each_signing_scheme_by_header_presence() {
    let cases = [
        ("Stripe-Signature", Some(Scheme::Stripe)),
        ("webhook-signature", Some(Scheme::StandardWebhooks)),
        ("Svix-Signature", Some(Scheme::StandardWebhooks)),
        ("X-Hub-Signature-256", Some(Scheme::Github)),
        ("x-hub-signature", Some(Scheme::Github)),
        ("X-Shopify-Hmac-SHA256", Some(Scheme::Shopify)),
        ("shopify-hmac-sha256", Some(Scheme::Shopify)),
        ("X-Slack-Signature", Some(Scheme::Slack)),
        ("X-Twilio-Signature", None),
        ("webhook-id", None),
    ];
    for (name, scheme) in cases {
        assert_eq!(detect_scheme(&hs(&[(name, "x")])), scheme, "{name}");
    }
}

#[test]
fn signature_header_names_are_lower_case_and_exclude_id_headers() {
    for scheme in Scheme::ALL {
        for name in signature_header_names(scheme) {
            assert_eq!(*name, name.to_ascii_lowercase());
        }
    }
    let sw = signature_header_names(Scheme::StandardWebhooks);
    assert!(!sw.contains(&"webhook-id") && !sw.contains(&"svix-id"));
    assert_eq!(signature_header_names(Scheme::Stripe), ["stripe-signature"]);
    assert!(signature_header_names(Scheme::Original).is_empty());
}

#[test]
fn scheme_names_round_trip_through_from_str_and_serde() {
    for scheme in Scheme::ALL {
        assert_eq!(scheme.as_str().parse::<Scheme>().unwrap(), scheme);
        assert_eq!(
            scheme.as_str().to_uppercase().parse::<Scheme>().unwrap(),
            scheme
        );
        let json = serde_json::to_string(&scheme).unwrap();
        assert_eq!(json, format!("\"{}\"", scheme.as_str()));
        assert_eq!(serde_json::from_str::<Scheme>(&json).unwrap(), scheme);
    }
    assert_eq!(Scheme::StandardWebhooks.label(), "Standard Webhooks / Svix");
    let err = "svx".parse::<Scheme>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown signing scheme \"svx\"; expected one of stripe, standard-webhooks, \
         github, shopify, slack, original, none"
    );
}

#[test]
fn signature_status_names_match_serde() {
    for status in [
        SignatureStatus::Valid,
        SignatureStatus::ValidButStale,
        SignatureStatus::Invalid,
        SignatureStatus::Malformed,
        SignatureStatus::Unchecked,
    ] {
        assert_eq!(
            serde_json::to_string(&status).unwrap(),
            format!("\"{}\"", status.as_str())
        );
    }
}
