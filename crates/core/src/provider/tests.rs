//! Tests of [`detect`](super::detect) over every provider: names, what it must never do (panic,
//! report hostile strings, work unboundedly), and the helpers of the per-provider tests (which
//! live with each provider's rules in `senders/`).

use super::*;

pub(super) fn hs(pairs: &[(&str, &str)]) -> Vec<RawHeader> {
    pairs.iter().map(|(k, v)| RawHeader::new(*k, *v)).collect()
}

pub(super) fn check(d: &Detected, provider: Option<Provider>, ty: Option<&str>, id: Option<&str>) {
    assert_eq!(d.provider, provider, "provider of {d:?}");
    assert_eq!(d.event_type.as_deref(), ty, "event type of {d:?}");
    assert_eq!(d.event_id.as_deref(), id, "event id of {d:?}");
}

#[test]
fn provider_names_round_trip_through_as_str_label_serde_and_from_str() {
    for p in Provider::ALL {
        assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
        assert_eq!(p.label().parse::<Provider>(), Ok(p));
        assert_eq!(p.to_string(), p.as_str());
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, format!("\"{}\"", p.as_str()));
        assert_eq!(serde_json::from_str::<Provider>(&json).unwrap(), p);
    }
    assert_eq!(Provider::StandardWebhooks.as_str(), "standard-webhooks");
    assert_eq!(Provider::Github.label(), "GitHub");
    assert_eq!(
        " Standard_Webhooks ".parse(),
        Ok(Provider::StandardWebhooks)
    );
    assert_eq!(
        "smee".parse::<Provider>(),
        Err(UnknownProvider("smee".to_owned()))
    );
}

#[test]
fn unknown_bodies_stay_unknown() {
    for body in [
        &b""[..],
        b"{}",
        b"[]",
        b"hello world",
        br#"{"type":"thing","id":"1","data":{}}"#,
        br#"{"property": "value", "boolean": true}"#,
        b"a=1&b=2",
    ] {
        check(&detect(&[], body, None), None, None, None);
    }
}

#[test]
fn hostile_strings_are_not_reported() {
    let long = "x".repeat(MAX_TEXT_LEN + 1);
    let body = format!(r#"{{"id":"evt_1","object":"event","type":"{long}"}}"#);
    check(
        &detect(&[], body.as_bytes(), None),
        Some(Provider::Stripe),
        None,
        Some("evt_1"),
    );
    let h = hs(&[("X-GitHub-Event", "push\u{7}"), ("X-GitHub-Delivery", " ")]);
    check(&detect(&h, b"", None), Some(Provider::Github), None, None);
    // Non-UTF-8 header values still count as present.
    let h = vec![RawHeader::new("Stripe-Signature", vec![0xff, 0xfe])];
    check(
        &detect(&h, b"\xff", None),
        Some(Provider::Stripe),
        None,
        None,
    );
}

#[test]
fn never_panics_on_garbage_truncation_or_nesting() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"{}[]\":,=&%+-\r\n \\abcXYZ019\xff\x00";
    let cts = [
        None,
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=ab"),
        Some("multipart/form-data; boundary="),
        Some("multipart/form-data; boundary=\"\""),
    ];
    for _ in 0..3000 {
        let len = (next() % 200) as usize;
        let mut body: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        if next() % 3 == 0 {
            body.splice(
                0..0,
                b"--ab\r\nContent-Disposition: form-data; name=\""
                    .iter()
                    .copied(),
            );
        }
        let ct = cts[(next() % cts.len() as u64) as usize];
        let _ = detect(&[], &body, ct);
    }
    let samples: [&[u8]; 4] = [
        b"--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nt\r\n--b\r\nContent-Disposition: form-data; name=\"x\"",
        b"payload=%7B%22type%22%3A%22block_actions%22%2C%22api_app_id%22%3A%22A1%22%7D",
        br#"{"id":"evt_1","object":"event","type":"a","data":{"object":{"id":"x"}}}"#,
        b"mandrill_events=%5B%7B%22event%22%3A%22send%22%7D%5D",
    ];
    for s in samples {
        for cut in 0..=s.len() {
            let _ = detect(&[], &s[..cut], None);
            let _ = detect(&[], &s[cut..], Some("multipart/form-data; boundary=b"));
        }
    }
    let deep = "[".repeat(100_000);
    let _ = detect(&[], deep.as_bytes(), None);
    let deep_obj = r#"{"a":"#.repeat(50_000);
    let _ = detect(&[], deep_obj.as_bytes(), None);
    let newlines = "\n--".repeat(100_000);
    let _ = detect(
        &[],
        newlines.as_bytes(),
        Some("multipart/form-data; boundary=x"),
    );
}

#[test]
fn huge_bodies_fall_back_to_headers_and_prefixes() {
    let mut big = br#"{"id":"evt_1","object":"event","type":"a","pad":""#.to_vec();
    big.resize(MAX_PARSE_BYTES + 10, b'a');
    big.extend_from_slice(b"\"}");
    check(&detect(&[], &big, None), None, None, None);
    check(
        &detect(&hs(&[("Stripe-Signature", "t=1")]), &big, None),
        Some(Provider::Stripe),
        None,
        None,
    );
    let mut form = b"mandrill_events=".to_vec();
    form.resize(MAX_PARSE_BYTES + 10, b'a');
    check(
        &detect(&[], &form, None),
        Some(Provider::Mandrill),
        None,
        None,
    );
    let mut form = b"a=1&mandrill_".to_vec();
    form.resize(MAX_PARSE_BYTES + 10, b'a');
    check(&detect(&[], &form, None), None, None, None);
    let mut form = b"alert_name=x&p_signature=y&pad=".to_vec();
    form.resize(MAX_PARSE_BYTES + 10, b'a');
    check(
        &detect(&[], &form, None),
        Some(Provider::Paddle),
        Some("x"),
        None,
    );
}

#[test]
fn detected_serializes_with_kebab_case_provider() {
    let d = Detected {
        provider: Some(Provider::StandardWebhooks),
        event_type: Some("a.b".to_owned()),
        event_id: None,
        stripe: None,
    };
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["provider"], "standard-webhooks");
    assert_eq!(v["event_type"], "a.b");
}
