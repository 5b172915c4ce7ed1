//! Tests of [`detect`](super::detect) for each provider, by headers and by body shape, and of
//! what it must never do (panic, report hostile strings, work unboundedly).

use super::*;

fn hs(pairs: &[(&str, &str)]) -> Vec<RawHeader> {
    pairs.iter().map(|(k, v)| RawHeader::new(*k, *v)).collect()
}

fn check(d: &Detected, provider: Option<Provider>, ty: Option<&str>, id: Option<&str>) {
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
fn stripe_by_header_and_by_body_with_meta() {
    let body = br#"{"id":"evt_1","object":"event","api_version":"2024-06-20","created":1700000000,
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

#[test]
fn github_event_header_plus_action_and_delivery_id() {
    let h = hs(&[
        ("X-GitHub-Event", "pull_request"),
        ("X-GitHub-Delivery", "d-1"),
    ]);
    let d = detect(&h, br#"{"action":"opened","number":1}"#, None);
    check(
        &d,
        Some(Provider::Github),
        Some("pull_request.opened"),
        Some("d-1"),
    );
    let d = detect(&hs(&[("x-github-event", "push")]), br#"{"ref":"x"}"#, None);
    check(&d, Some(Provider::Github), Some("push"), None);
}

#[test]
fn github_payload_shapes_without_headers() {
    let sender = r#""sender":{"login":"octocat","node_id":"MDQ6"}"#;
    let repo = r#""repository":{"full_name":"o/r","node_id":"R_1"}"#;
    let cases = [
        (
            format!(r#"{{"zen":"z","hook_id":1,"hook":{{}},{sender}}}"#),
            Some("ping"),
        ),
        (
            format!(
                r#"{{"ref":"refs/heads/m","before":"0","after":"1","pusher":{{"name":"o"}},{repo},{sender}}}"#
            ),
            Some("push"),
        ),
        (
            format!(r#"{{"action":"opened","issue":{{"id":1}},{repo},{sender}}}"#),
            Some("issues.opened"),
        ),
        (
            format!(r#"{{"action":"created","issue":{{}},"comment":{{}},{repo},{sender}}}"#),
            Some("issue_comment.created"),
        ),
        (
            format!(r#"{{"ref":"t","ref_type":"tag","pusher_type":"user",{repo},{sender}}}"#),
            Some("delete"),
        ),
        (
            format!(r#"{{"action":"weird","unknown_thing":{{}},{repo},{sender}}}"#),
            None,
        ),
    ];
    for (body, ty) in cases {
        let d = detect(&[], body.as_bytes(), None);
        check(&d, Some(Provider::Github), ty, None);
    }
    // Without GitHub's node ids the same shape is not claimed (Gitea/Gogs look alike).
    let gitea = br#"{"ref":"refs/heads/m","before":"0","after":"1","pusher":{"login":"o"},
        "repository":{"full_name":"o/r"},"sender":{"login":"o"}}"#;
    check(&detect(&[], gitea, None), None, None, None);
    let h = hs(&[("X-GitHub-Event", "push"), ("X-Gitea-Event", "push")]);
    check(&detect(&h, gitea, None), None, None, None);
}

#[test]
fn github_form_encoded_payload() {
    let body = b"payload=%7B%22zen%22%3A%22z%22%2C%22hook_id%22%3A7%7D";
    let d = detect(
        &hs(&[("X-GitHub-Event", "ping"), ("X-GitHub-Delivery", "x")]),
        body,
        Some("application/x-www-form-urlencoded"),
    );
    check(&d, Some(Provider::Github), Some("ping"), Some("x"));
    check(
        &detect(&[], body, None),
        Some(Provider::Github),
        Some("ping"),
        None,
    );
}

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

#[test]
fn slack_events_api_interactivity_and_slash_commands() {
    let ev = br#"{"token":"t","team_id":"T1","api_app_id":"A1","type":"event_callback",
        "event":{"type":"app_mention","text":"hi"},"event_id":"Ev1"}"#;
    check(
        &detect(&[], ev, None),
        Some(Provider::Slack),
        Some("event_callback.app_mention"),
        Some("Ev1"),
    );
    let challenge = br#"{"token":"t","challenge":"c","type":"url_verification"}"#;
    check(
        &detect(&[], challenge, None),
        Some(Provider::Slack),
        Some("url_verification"),
        None,
    );
    let interactive =
        b"payload=%7B%22type%22%3A%22block_actions%22%2C%22api_app_id%22%3A%22A1%22%7D";
    check(
        &detect(&[], interactive, None),
        Some(Provider::Slack),
        Some("block_actions"),
        None,
    );
    let slash = b"token=t&team_id=T1&command=%2Fhello&text=hi&response_url=https%3A%2F%2Fhooks.slack.com%2Fx";
    check(
        &detect(&[], slash, None),
        Some(Provider::Slack),
        Some("slash_command"),
        None,
    );
    let h = hs(&[
        ("X-Slack-Signature", "v0=ab"),
        ("X-Slack-Request-Timestamp", "1"),
    ]);
    check(
        &detect(&h, b"ssl_check=1&token=t", None),
        Some(Provider::Slack),
        Some("ssl_check"),
        None,
    );
}

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

#[test]
fn paddle_billing_and_classic() {
    let billing = br#"{"event_id":"evt_01","event_type":"subscription.created","occurred_at":"x",
        "notification_id":"ntf_01","data":{}}"#;
    check(
        &detect(&hs(&[("Paddle-Signature", "ts=1;h1=ab")]), billing, None),
        Some(Provider::Paddle),
        Some("subscription.created"),
        Some("evt_01"),
    );
    check(
        &detect(&[], billing, None),
        Some(Provider::Paddle),
        Some("subscription.created"),
        Some("evt_01"),
    );
    let classic = b"alert_id=9&alert_name=payment_succeeded&p_signature=abc%3D";
    check(
        &detect(&[], classic, None),
        Some(Provider::Paddle),
        Some("payment_succeeded"),
        Some("9"),
    );
}

#[test]
fn gitlab_bitbucket_paypal_woocommerce() {
    let h = hs(&[
        ("X-Gitlab-Event", "Merge Request Hook"),
        ("X-Gitlab-Event-UUID", "u1"),
    ]);
    let mr = br#"{"object_kind":"merge_request","project":{},"object_attributes":{}}"#;
    check(
        &detect(&h, mr, None),
        Some(Provider::Gitlab),
        Some("merge_request"),
        Some("u1"),
    );
    check(
        &detect(&[], mr, None),
        Some(Provider::Gitlab),
        Some("merge_request"),
        None,
    );
    check(
        &detect(&h, b"", None),
        Some(Provider::Gitlab),
        Some("Merge Request Hook"),
        Some("u1"),
    );

    let h = hs(&[
        ("User-Agent", "Bitbucket-Webhooks/2.0"),
        ("X-Event-Key", "pullrequest:created"),
        ("X-Request-UUID", "r1"),
    ]);
    check(
        &detect(&h, b"{}", None),
        Some(Provider::Bitbucket),
        Some("pullrequest:created"),
        Some("r1"),
    );
    // X-Event-Key alone is not enough.
    check(
        &detect(&hs(&[("X-Event-Key", "a")]), b"", None),
        None,
        None,
        None,
    );

    let pp = br#"{"id":"WH-1","event_type":"CHECKOUT.ORDER.APPROVED","resource_type":"checkout-order","resource":{}}"#;
    check(
        &detect(&[], pp, None),
        Some(Provider::Paypal),
        Some("CHECKOUT.ORDER.APPROVED"),
        Some("WH-1"),
    );
    let h = hs(&[("PAYPAL-TRANSMISSION-ID", "t1")]);
    check(
        &detect(&h, b"", None),
        Some(Provider::Paypal),
        None,
        Some("t1"),
    );

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

#[test]
fn email_providers() {
    let events = br#"[{"email":"a@b","event":"delivered","sg_event_id":"sg1","timestamp":1}]"#;
    check(
        &detect(&[], events, None),
        Some(Provider::Sendgrid),
        Some("delivered"),
        Some("sg1"),
    );
    let mixed = br#"[{"event":"open","sg_event_id":"a"},{"event":"click","sg_event_id":"b"}]"#;
    check(
        &detect(&[], mixed, None),
        Some(Provider::Sendgrid),
        None,
        None,
    );

    let mp =
        b"--XyZ\r\nContent-Disposition: form-data; name=\"envelope\"\r\n\r\n{\"to\":[\"a@b\"]}\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\nx@y\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"charsets\"\r\n\r\n{}\r\n--XyZ--\r\n";
    let ct = "multipart/form-data; boundary=XyZ";
    check(
        &detect(&[], mp, Some(ct)),
        Some(Provider::Sendgrid),
        None,
        None,
    );
    check(&detect(&[], mp, None), Some(Provider::Sendgrid), None, None);
    let sendlib = hs(&[("User-Agent", "Sendlib/1.0")]);
    check(
        &detect(&sendlib, b"", None),
        Some(Provider::Sendgrid),
        None,
        None,
    );

    let mg = br#"{"signature":{"token":"t","timestamp":"1","signature":"s"},
        "event-data":{"event":"delivered","id":"mg-1"}}"#;
    check(
        &detect(&[], mg, None),
        Some(Provider::Mailgun),
        Some("delivered"),
        Some("mg-1"),
    );
    let mg_form = b"token=t&timestamp=1&signature=s&event=bounced&recipient=a%40b";
    check(
        &detect(&[], mg_form, None),
        Some(Provider::Mailgun),
        Some("bounced"),
        None,
    );

    let mandrill = b"mandrill_events=%5B%7B%22event%22%3A%22send%22%2C%22_id%22%3A%22m1%22%2C%22ts%22%3A1%2C%22msg%22%3A%7B%7D%7D%5D";
    check(
        &detect(&[], mandrill, None),
        Some(Provider::Mandrill),
        Some("send"),
        Some("m1"),
    );
    let h = hs(&[("X-Mandrill-Signature", "x")]);
    check(&detect(&h, b"", None), Some(Provider::Mandrill), None, None);
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
