//! Understanding captures, over HTTP against the real server: the signature check at capture
//! (API and dashboard form), the Stripe view (mode, object summary, related events,
//! duplicates), search (`q`), exports (HAR, fixture, NDJSON), diff, the event-order view, and
//! that none of it leaks across accounts.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::TestApp;
use base64::Engine;
use hookvault_core::signing::stripe_header;
use serde_json::{json, Value};

const SECRET: &str = "whsec_understand_test_secret";

// ---------------------------------------------------------------------------------------------
// Helpers

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn unb64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().expect("base64 string"))
        .expect("valid base64")
}

/// A Stripe v1 event body.
fn stripe_event(id: &str, event_type: &str, created: i64, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "livemode": false,
        "type": event_type,
        "data": {"object": object},
    }))
    .expect("json")
}

fn invoice(id: &str, customer: &str, amount_due: i64, status: &str) -> Value {
    json!({"id": id, "object": "invoice", "amount_due": amount_due, "currency": "usd",
           "customer": customer, "status": status})
}

/// Sends a capture byte for byte (header names keep their case and order) and returns the
/// stored request id.
async fn capture(url: &str, method: &str, headers: &[(&str, String)], body: Vec<u8>) -> String {
    let rest = url.strip_prefix("http://").expect("an http:// capture URL");
    let (host, target) = rest.split_at(rest.find('/').expect("a path"));
    let addr: std::net::SocketAddr = host.parse().expect("host:port");
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.clone()))
        .collect();
    let bytes = crate::common::raw_http::request_bytes(method, target, host, &headers, &body);
    let resp = crate::common::raw_http::send(addr, &bytes)
        .await
        .expect("capture");
    assert_eq!(resp.status, 200, "capture accepted");
    resp.header("x-hookvault-request-id")
        .expect("request id header")
        .to_string()
}

/// Sends a Stripe event signed with `secret` at `signed_at`.
async fn capture_stripe(url: &str, body: Vec<u8>, secret: &str, signed_at: i64) -> String {
    let sig = stripe_header(secret, signed_at, &body);
    capture(
        url,
        "POST",
        &[
            ("Content-Type", "application/json; charset=utf-8".into()),
            ("Stripe-Signature", sig),
            (
                "User-Agent",
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)".into(),
            ),
        ],
        body,
    )
    .await
}

/// Captures a signed Stripe event until its signature status is `want`: a settings change
/// reaches the capture route cache through LISTEN/NOTIFY, a moment after the commit.
async fn capture_until_status(
    app: &TestApp,
    token: &str,
    url: &str,
    body: &[u8],
    want: &str,
) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let id = capture_stripe(url, body.to_vec(), SECRET, now()).await;
        let v = api_json(app, token, &format!("/api/v1/requests/{id}")).await;
        if v["signature"]["status"] == want {
            return id;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "signature status stayed {} instead of {want}",
            v["signature"]["status"]
        );
        tokio::task::yield_now().await;
    }
}

/// An API time (`2026-11-29T10:00:00.12Z`: RFC 3339, UTC, trailing zeros of the fraction
/// dropped) as (date and time to the second, milliseconds), so it compares in time order.
fn time_key(t: &str) -> (String, u32) {
    let t = t.strip_suffix('Z').expect("UTC time");
    match t.split_once('.') {
        Some((secs, frac)) => (
            secs.to_string(),
            format!("{frac:0<3}").parse().expect("milliseconds"),
        ),
        None => (t.to_string(), 0),
    }
}

async fn api_json(app: &TestApp, token: &str, path: &str) -> Value {
    let r = app.api_get(token, path).await;
    assert_eq!(r.status(), 200, "GET {path}");
    r.json().await.expect("json")
}

async fn patch_signing(app: &TestApp, token: &str, endpoint: &str, scheme: &str, secret: &str) {
    let r = reqwest::Client::new()
        .patch(app.at(&format!("/api/v1/endpoints/{endpoint}")))
        .bearer_auth(token)
        .json(&json!({"signing": {"scheme": scheme, "secret": secret}}))
        .send()
        .await
        .expect("PATCH");
    assert_eq!(r.status(), 200);
}

/// Ids returned by a search through the API (all pages).
async fn search(app: &TestApp, token: &str, endpoint: &str, q: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut before: Option<String> = None;
    loop {
        let mut query = vec![("q", q.to_string()), ("limit", "2".to_string())];
        if let Some(b) = &before {
            query.push(("before", b.clone()));
        }
        let r = reqwest::Client::new()
            .get(app.at(&format!("/api/v1/endpoints/{endpoint}/requests")))
            .bearer_auth(token)
            .query(&query)
            .send()
            .await
            .expect("search");
        assert_eq!(r.status(), 200, "search {q}");
        let v: Value = r.json().await.expect("json");
        for x in v["requests"].as_array().expect("requests") {
            assert!(
                out.insert(x["id"].as_str().expect("id").to_string()),
                "a page repeated a capture for {q}"
            );
        }
        match v["next"].as_str() {
            Some(n) => before = Some(n.to_string()),
            None => return out,
        }
    }
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// A second account with its own cookie jar.
async fn other_account(app: &TestApp, email: &str) -> reqwest::Client {
    let client = crate::common::browser_client();
    let html = client
        .get(app.at("/signup"))
        .send()
        .await
        .expect("GET signup")
        .text()
        .await
        .expect("html");
    let csrf = crate::common::extract_csrf(&html);
    let r = client
        .post(app.at("/signup"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .expect("POST signup");
    assert_eq!(r.status(), 303);
    client
}

async fn get(client: &reqwest::Client, url: String) -> reqwest::Response {
    client.get(url).send().await.expect("GET")
}

// ---------------------------------------------------------------------------------------------
// Signature check at capture

#[tokio::test]
async fn stripe_capture_is_valid_invalid_or_stale_as_judged_at_receive_time() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("sig@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "stripe").await;
    patch_signing(&app, &token, &endpoint, "stripe", SECRET).await;

    let body = stripe_event(
        "evt_sig_1",
        "invoice.paid",
        now(),
        invoice("in_1", "cus_1", 2000, "paid"),
    );
    let valid = capture_stripe(&url, body.clone(), SECRET, now()).await;
    let invalid = capture_stripe(&url, body.clone(), "whsec_someone_else", now()).await;
    let stale = capture_stripe(&url, body.clone(), SECRET, now() - 600).await;
    let malformed = capture(
        &url,
        "POST",
        &[("Stripe-Signature", "t=soon,v1=00".into())],
        body.clone(),
    )
    .await;

    let sig = |v: &Value| {
        (
            v["signature"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            v["signature"]["reason"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    };
    let (status, reason) = sig(&api_json(&app, &token, &format!("/api/v1/requests/{valid}")).await);
    assert_eq!((status.as_str(), reason.as_str()), ("valid", "valid"));
    let (status, reason) =
        sig(&api_json(&app, &token, &format!("/api/v1/requests/{invalid}")).await);
    assert_eq!(status, "invalid");
    assert_eq!(reason, "no v1 signature matches this secret");
    let (status, reason) = sig(&api_json(&app, &token, &format!("/api/v1/requests/{stale}")).await);
    assert_eq!(status, "valid_but_stale");
    assert!(
        reason.starts_with("signed 60") && reason.ends_with("s before arrival (tolerance 300 s)"),
        "stale reason: {reason}"
    );
    let (status, reason) =
        sig(&api_json(&app, &token, &format!("/api/v1/requests/{malformed}")).await);
    assert_eq!(status, "malformed");
    assert!(reason.contains("cannot be parsed"), "{reason}");

    // The list shows each status as a badge with its reason.
    let html = app.get_html(&format!("/endpoints/{endpoint}")).await;
    assert!(html.contains(r#"<span class="sig sig-valid" title="valid">valid</span>"#));
    assert!(html.contains(
        r#"<span class="sig sig-invalid" title="no v1 signature matches this secret">invalid</span>"#
    ));
    assert!(html.contains("sig sig-valid_but_stale"));
    assert!(html.contains("s before arrival (tolerance 300 s)"));
    assert!(html.contains("sig sig-malformed"));
    // And the request page too.
    let page = app.get_html(&format!("/requests/{stale}")).await;
    assert!(page.contains("sig-valid_but_stale"));
    assert!(page.contains("s before arrival (tolerance 300 s)"));
}

#[tokio::test]
async fn dashboard_form_sets_the_signature_check_without_showing_the_secret_and_clears_it() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("form@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "form").await;
    let page = format!("/endpoints/{endpoint}");

    let html = app.get_html(&page).await;
    assert!(html.contains(r#"action="/endpoints/"#) && html.contains("/signing"));
    assert!(html.contains("No secret is set."));

    let r = app
        .post_form(
            &format!("/endpoints/{endpoint}/signing"),
            &page,
            &[("scheme", "stripe"), ("secret", SECRET)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let html = app.get_html(&page).await;
    assert!(html.contains("A secret is set"));
    assert!(html.contains(r#"<option value="stripe" selected>Stripe</option>"#));
    assert!(!html.contains(SECRET), "the secret is never shown again");
    let api = api_json(&app, &token, &format!("/api/v1/endpoints/{endpoint}")).await;
    assert_eq!(api["signing"]["scheme"], "stripe");

    let body = stripe_event(
        "evt_form",
        "charge.succeeded",
        now(),
        json!({"id": "ch_1", "object": "charge"}),
    );
    capture_until_status(&app, &token, &url, &body, "valid").await;

    // An empty secret keeps the current one.
    let r = app
        .post_form(
            &format!("/endpoints/{endpoint}/signing"),
            &page,
            &[("scheme", "stripe"), ("secret", "")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(app.get_html(&page).await.contains("A secret is set"));
    let v = api_json(&app, &token, &format!("/api/v1/endpoints/{endpoint}")).await;
    assert_eq!(
        v["signing"],
        json!({"scheme": "stripe", "secret_set": true})
    );

    // "No check" clears it.
    let r = app
        .post_form(
            &format!("/endpoints/{endpoint}/signing"),
            &page,
            &[("scheme", ""), ("secret", "")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(app.get_html(&page).await.contains("No secret is set."));
    capture_until_status(&app, &token, &url, &body, "unchecked").await;

    // A scheme that signs needs a secret; a forged form is refused.
    let r = app
        .post_form(
            &format!("/endpoints/{endpoint}/signing"),
            &page,
            &[("scheme", "github"), ("secret", "")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .client
        .post(app.at(&format!("/endpoints/{endpoint}/signing")))
        .form(&[("csrf", "forged"), ("scheme", "stripe"), ("secret", "x")])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 403);
}

// ---------------------------------------------------------------------------------------------
// Stripe view

#[tokio::test]
async fn second_delivery_of_a_stripe_event_is_flagged_as_a_duplicate_of_the_first() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("dup@example.com").await;
    let (_, url) = app.create_endpoint(&token, "dup").await;
    let body = stripe_event(
        "evt_dup_1",
        "invoice.paid",
        now(),
        invoice("in_d", "cus_d", 500, "paid"),
    );
    let first = capture_stripe(&url, body.clone(), SECRET, now()).await;
    let second = capture_stripe(&url, body.clone(), SECRET, now()).await;
    let other = capture_stripe(
        &url,
        stripe_event(
            "evt_dup_2",
            "invoice.paid",
            now(),
            invoice("in_d", "cus_d", 500, "paid"),
        ),
        SECRET,
        now(),
    )
    .await;

    let html = app.get_html(&format!("/requests/{second}")).await;
    assert!(
        html.contains("Duplicate delivery of event <code>evt_dup_1</code>"),
        "duplicate notice"
    );
    assert!(html.contains(&format!(r#"<a href="/requests/{first}">"#)));
    let html = app.get_html(&format!("/requests/{first}")).await;
    assert!(!html.contains("Duplicate delivery"));
    assert!(html.contains("Other deliveries of this event"));
    assert!(!app
        .get_html(&format!("/requests/{other}"))
        .await
        .contains("Duplicate delivery"));

    let v = api_json(&app, &token, &format!("/api/v1/requests/{second}")).await;
    assert_eq!(v["duplicate_of"], first.as_str());
    let v = api_json(&app, &token, &format!("/api/v1/requests/{first}")).await;
    assert!(v["duplicate_of"].is_null());
}

#[tokio::test]
async fn stripe_view_shows_mode_object_summary_and_other_events_about_the_object() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("view@example.com").await;
    let (_, url) = app.create_endpoint(&token, "view").await;
    let created = now() - 100;
    let failed = capture_stripe(
        &url,
        stripe_event(
            "evt_v1",
            "invoice.payment_failed",
            created,
            invoice("in_v", "cus_v", 2000, "open"),
        ),
        SECRET,
        now(),
    )
    .await;
    let paid = capture_stripe(
        &url,
        stripe_event(
            "evt_v2",
            "invoice.paid",
            created + 50,
            invoice("in_v", "cus_v", 2000, "paid"),
        ),
        SECRET,
        now(),
    )
    .await;
    let unrelated = capture_stripe(
        &url,
        stripe_event(
            "evt_v3",
            "invoice.paid",
            created,
            invoice("in_other", "cus_v", 100, "paid"),
        ),
        SECRET,
        now(),
    )
    .await;

    let html = app.get_html(&format!("/requests/{paid}")).await;
    assert!(html.contains(r#"<span class="pill test">test mode</span>"#));
    assert!(html.contains(r#"<dd id="stripe-amount">20.00 USD</dd>"#));
    assert!(html.contains("<code>cus_v</code>"));
    assert!(html.contains("<dd>paid</dd>"));
    assert!(html.contains("<code>2024-06-20</code>"));
    assert!(html.contains("Other events about this object"));
    assert!(html.contains(&format!(
        r#"<a href="/requests/{failed}">invoice.payment_failed</a>"#
    )));
    assert!(!html.contains(&format!("/requests/{unrelated}\">")));

    let v = api_json(&app, &token, &format!("/api/v1/requests/{paid}")).await;
    assert_eq!(
        v["stripe"],
        json!({"livemode": false, "api_version": "2024-06-20", "created": created + 50,
               "object_id": "in_v", "object_type": "invoice"})
    );
}

#[tokio::test]
async fn order_view_flags_an_event_that_arrived_after_one_created_later() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("order@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "order").await;
    let t = now() - 1000;
    let obj = || json!({"id": "sub_1", "object": "subscription", "status": "active"});
    // Arrival order: created t, t+300, t+100 — the last one is out of order.
    capture_stripe(
        &url,
        stripe_event("evt_o_first", "customer.subscription.created", t, obj()),
        SECRET,
        now(),
    )
    .await;
    let later = capture_stripe(
        &url,
        stripe_event(
            "evt_o_third",
            "customer.subscription.deleted",
            t + 300,
            obj(),
        ),
        SECRET,
        now(),
    )
    .await;
    let late = capture_stripe(
        &url,
        stripe_event(
            "evt_o_second",
            "customer.subscription.updated",
            t + 100,
            obj(),
        ),
        SECRET,
        now(),
    )
    .await;
    // Not a Stripe event: not part of the view.
    capture(&url, "POST", &[], b"plain".to_vec()).await;

    let html = app.get_html(&format!("/endpoints/{endpoint}/order")).await;
    assert!(
        html.contains("1 event(s) arrived out of order."),
        "late count"
    );
    let pos = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(pos("evt_o_first") < pos("evt_o_second") && pos("evt_o_second") < pos("evt_o_third"));
    let late_row = &html[html.find(&format!("/requests/{late}\"")).expect("late row")..];
    let late_row = &late_row[..late_row.find("</tr>").expect("row end")];
    assert!(late_row.contains("out of order"), "{late_row}");
    assert!(late_row.contains(&format!("/requests/{later}")));
    assert_eq!(html.matches("class=\"out-of-order\"").count(), 1);
    assert!(app
        .get_html(&format!("/endpoints/{endpoint}"))
        .await
        .contains(&format!("/endpoints/{endpoint}/order")));
}

// ---------------------------------------------------------------------------------------------
// Search

#[tokio::test]
async fn search_filters_return_exactly_the_matching_captures() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("search@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "search").await;
    patch_signing(&app, &token, &endpoint, "stripe", SECRET).await;

    let a = capture_stripe(
        &url,
        stripe_event(
            "evt_A",
            "invoice.paid",
            now(),
            invoice("in_a", "cus_A", 100, "paid"),
        ),
        SECRET,
        now(),
    )
    .await;
    let b = capture_stripe(
        &url,
        stripe_event(
            "evt_B",
            "invoice.payment_failed",
            now(),
            invoice("in_b", "cus_B", 100, "open"),
        ),
        "whsec_wrong",
        now(),
    )
    .await;
    let c = capture_stripe(
        &url,
        stripe_event(
            "evt_C",
            "payment_intent.succeeded",
            now(),
            json!({"id": "pi_c", "object": "payment_intent", "customer": "cus_A", "amount": 2000}),
        ),
        SECRET,
        now(),
    )
    .await;
    let d = capture(
        &url,
        "POST",
        &[
            ("X-GitHub-Event", "push".into()),
            ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958".into()),
            ("Content-Type", "application/json".into()),
        ],
        br#"{"ref":"refs/heads/main","pusher":{"name":"octo"},"data":{"object":{"customer":"cus_A"}}}"#.to_vec(),
    )
    .await;
    let e = capture(
        &url,
        "PUT",
        &[
            ("Content-Type", "text/plain".into()),
            ("X-Trace", "trace-42".into()),
        ],
        b"hello needle world".to_vec(),
    )
    .await;
    let f = capture(
        &url,
        "POST",
        &[("Content-Type", "application/octet-stream".into())],
        vec![0xff, 0xfe, b'n', b'e', b'e', b'd', b'l', b'e', 0x00],
    )
    .await;
    let all = set(&[&a, &b, &c, &d, &e, &f]);

    let cases: Vec<(&str, BTreeSet<String>)> = vec![
        ("", all.clone()),
        ("provider:stripe", set(&[&a, &b, &c])),
        ("provider:github", set(&[&d])),
        ("type:invoice.*", set(&[&a, &b])),
        ("type:invoice.paid", set(&[&a])),
        ("type:*.succeeded", set(&[&c])),
        ("type:invoice.paid,payment_intent.*", set(&[&a, &c])),
        ("method:put", set(&[&e])),
        ("sig:valid", set(&[&a, &c])),
        ("sig:invalid provider:stripe", set(&[&b])),
        ("id:evt_B", set(&[&b])),
        ("data.object.customer:cus_A", set(&[&a, &c, &d])),
        ("type:invoice.* data.object.customer:cus_A", set(&[&a])),
        ("data.object.amount:2000", set(&[&c])),
        ("needle", set(&[&e, &f])),
        ("\"hello needle\"", set(&[&e])),
        ("trace-42", set(&[&e])),
        ("needle method:post", set(&[&f])),
        ("after:2000-01-01", all.clone()),
        ("before:2000-01-01", BTreeSet::new()),
        ("provider:stripe type:charge.*", BTreeSet::new()),
    ];
    for (q, want) in &cases {
        assert_eq!(&search(&app, &token, &endpoint, q).await, want, "q = {q}");
    }

    // A time range taken from the stored receive times (millisecond boundaries are exact).
    let received: Vec<(String, String)> = {
        let mut out = Vec::new();
        for id in [&a, &b, &c, &d, &e, &f] {
            let v = api_json(&app, &token, &format!("/api/v1/requests/{id}")).await;
            out.push((
                id.to_string(),
                v["received_at"].as_str().expect("time").to_string(),
            ));
        }
        out
    };
    let pivot = &received[3].1; // d
    let after: BTreeSet<String> = received
        .iter()
        .filter(|(_, t)| time_key(t) >= time_key(pivot))
        .map(|(i, _)| i.clone())
        .collect();
    let before: BTreeSet<String> = received
        .iter()
        .filter(|(_, t)| time_key(t) < time_key(pivot))
        .map(|(i, _)| i.clone())
        .collect();
    assert!(after.contains(&d) && !after.contains(&a));
    assert_eq!(
        search(&app, &token, &endpoint, &format!("after:{pivot}")).await,
        after
    );
    assert_eq!(
        search(&app, &token, &endpoint, &format!("before:{pivot}")).await,
        before
    );

    // Bad queries are a 422 with the reason.
    let r = reqwest::Client::new()
        .get(app.at(&format!("/api/v1/endpoints/{endpoint}/requests")))
        .bearer_auth(&token)
        .query(&[("q", "sig:maybe")])
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.expect("json");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("unknown signature status"));

    // The list page filters too, and pauses live insertion.
    let html = app
        .get_html(&format!("/endpoints/{endpoint}?q=type%3Ainvoice.*"))
        .await;
    assert!(
        html.contains(&format!("/requests/{a}\"")) && html.contains(&format!("/requests/{b}\""))
    );
    assert!(!html.contains(&format!("/requests/{c}\"")));
    assert!(
        !html.contains("data-live="),
        "no live insertion while filtering"
    );
    assert!(html.contains("Live updates are paused while filtering."));
    assert!(html.contains(r#"value="type:invoice.*""#));
    let html = app
        .get_html(&format!("/endpoints/{endpoint}?q=sig%3Amaybe"))
        .await;
    assert!(html.contains("id=\"search-error\""));
    let html = app.get_html(&format!("/endpoints/{endpoint}")).await;
    assert!(html.contains("data-live="), "the unfiltered list is live");
}

// ---------------------------------------------------------------------------------------------
// Exports

#[tokio::test]
async fn har_and_fixture_downloads_carry_the_exact_bytes() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("export@example.com").await;
    let (_, url) = app.create_endpoint(&token, "export").await;
    let binary = vec![0x00, 0xff, 0x10, b'{', 0x80, b'\n'];
    let bin_id = capture(
        &format!("{url}/hooks/bin?a=1&b=x%20y"),
        "POST",
        &[
            ("Content-Type", "application/octet-stream".into()),
            ("X-Order", "first".into()),
        ],
        binary.clone(),
    )
    .await;
    let text = "{\"héllo\": \"wörld\"}\n".as_bytes().to_vec();
    let json_id = capture(
        &url,
        "POST",
        &[("Content-Type", "application/json".into())],
        text.clone(),
    )
    .await;

    // HAR, binary body: base64.
    let r = get(&app.client, app.at(&format!("/requests/{bin_id}/har"))).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap_or_default()
        .starts_with("attachment;"));
    let har: Value = r.json().await.expect("HAR json");
    assert_eq!(har["log"]["version"], "1.2");
    let req = &har["log"]["entries"][0]["request"];
    assert_eq!(req["method"], "POST");
    assert_eq!(req["url"], format!("{url}/hooks/bin?a=1&b=x%20y"));
    assert_eq!(
        req["queryString"],
        json!([{"name": "a", "value": "1"}, {"name": "b", "value": "x y"}])
    );
    assert_eq!(req["postData"]["encoding"], "base64");
    assert_eq!(unb64(&req["postData"]["text"]), binary);
    let names: Vec<&str> = req["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .filter_map(|h| h["name"].as_str())
        .collect();
    let pos = |n: &str| {
        names
            .iter()
            .position(|x| x.eq_ignore_ascii_case(n))
            .unwrap_or(usize::MAX)
    };
    assert!(
        pos("Content-Type") < pos("X-Order"),
        "arrival order: {names:?}"
    );
    assert!(names.contains(&"X-Order"), "original case");
    // HAR, UTF-8 body: the text itself.
    let har: Value = get(&app.client, app.at(&format!("/requests/{json_id}/har")))
        .await
        .json()
        .await
        .expect("json");
    let post = &har["log"]["entries"][0]["request"]["postData"];
    assert_eq!(
        post["text"].as_str().map(str::as_bytes),
        Some(text.as_slice())
    );
    assert!(post.get("encoding").is_none());

    // Fixture.
    let r = get(&app.client, app.at(&format!("/requests/{bin_id}/fixture"))).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap_or_default()
        .contains(".fixture.json"));
    let fx: Value = r.json().await.expect("fixture json");
    assert_eq!(fx["method"], "POST");
    assert_eq!(fx["path"], "/hooks/bin");
    assert_eq!(fx["query"], "a=1&b=x%20y");
    assert_eq!(fx["content_type"], "application/octet-stream");
    assert_eq!(unb64(&fx["body_base64"]), binary);
    assert!(fx["headers"]
        .as_array()
        .expect("headers")
        .contains(&json!(["X-Order", "first"])));

    // The request page links to both.
    let html = app.get_html(&format!("/requests/{bin_id}")).await;
    assert!(html.contains(&format!("/requests/{bin_id}/har")));
    assert!(html.contains(&format!("/requests/{bin_id}/fixture")));
}

#[tokio::test]
async fn ndjson_export_streams_every_capture_newest_first_across_pages() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("ndjson@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "ndjson").await;
    // More than one export page (500).
    let mut sent: Vec<(String, Vec<u8>)> = Vec::new();
    for chunk in (0..520u32).collect::<Vec<_>>().chunks(26) {
        let futures = chunk.iter().map(|i| {
            let url = url.clone();
            let body = if i % 2 == 0 {
                format!("{{\"n\":{i}}}").into_bytes()
            } else {
                vec![0xff, (i % 251) as u8, 0x00]
            };
            async move { (capture(&url, "POST", &[], body.clone()).await, body) }
        });
        sent.extend(futures_util::future::join_all(futures).await);
    }

    let r = get(
        &app.client,
        app.at(&format!("/endpoints/{endpoint}/export.ndjson")),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap_or_default()
        .starts_with("attachment;"));
    let text = r.text().await.expect("body");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), sent.len());
    let by_id: std::collections::HashMap<&str, &Vec<u8>> =
        sent.iter().map(|(i, b)| (i.as_str(), b)).collect();
    for l in &lines {
        let id = l["id"].as_str().expect("id");
        assert_eq!(
            &unb64(&l["body_base64"]),
            *by_id.get(id).expect("a sent capture"),
            "{id}"
        );
        assert_eq!(l["endpoint_id"], endpoint.as_str());
    }
    // Newest first: the same order as the API's list.
    let mut listed: Vec<String> = Vec::new();
    let mut next = String::new();
    loop {
        let v = api_json(
            &app,
            &token,
            &format!("/api/v1/endpoints/{endpoint}/requests?limit=500&before={next}"),
        )
        .await;
        listed.extend(
            v["requests"]
                .as_array()
                .expect("list")
                .iter()
                .map(|r| r["id"].as_str().unwrap_or_default().to_string()),
        );
        match v["next"].as_str() {
            Some(n) => next = n.to_string(),
            None => break,
        }
    }
    let exported: Vec<String> = lines
        .iter()
        .map(|l| l["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(exported, listed, "newest first");
    // Same shape as GET /api/v1/requests/{id}.
    let one = api_json(&app, &token, &format!("/api/v1/requests/{}", sent[0].0)).await;
    let line = lines.iter().find(|l| l["id"] == one["id"]).expect("line");
    for key in one
        .as_object()
        .expect("object")
        .keys()
        .filter(|k| *k != "duplicate_of")
    {
        assert_eq!(line[key], one[key], "{key}");
    }
}

// ---------------------------------------------------------------------------------------------
// Diff

#[tokio::test]
async fn diff_page_shows_the_changed_header_and_the_changed_json_path() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("diff@example.com").await;
    let (_, url) = app.create_endpoint(&token, "diff").await;
    let one = capture(
        &url,
        "POST",
        &[
            ("Content-Type", "application/json".into()),
            ("X-Attempt", "1".into()),
            ("X-Gone", "bye".into()),
        ],
        br#"{"type":"invoice.paid","data":{"object":{"amount":2000,"currency":"usd"}}}"#.to_vec(),
    )
    .await;
    let two = capture(
        &url,
        "POST",
        &[
            ("content-type", "application/json".into()),
            ("x-attempt", "2".into()),
        ],
        br#"{"data":{"object":{"currency":"usd","amount":2500}},"type":"invoice.paid"}"#.to_vec(),
    )
    .await;

    let r = get(&app.client, app.at(&format!("/requests/{one}/diff/{two}"))).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("html");
    let header_rows = &html[html.find("id=\"header-diff\"").expect("header table")..];
    assert!(header_rows.contains("<td><code>x-attempt</code></td><td>changed</td>"));
    assert!(header_rows.contains("<td><code>X-Gone</code></td><td>removed</td>"));
    assert!(
        !header_rows[..header_rows.find("</table>").unwrap_or(0)].contains("ontent-type"),
        "same header, other case"
    );
    assert!(html.contains(
        "<td><code>data.object.amount</code></td><td>changed</td>\n    <td><code>2000</code></td>\n    <td><code>2500</code></td>"
    ));
    assert!(!html.contains("<code>data.object.currency</code>"));
    assert!(!html.contains("<code>type</code>"));

    // The request page offers a comparison with the previous capture.
    let page = app.get_html(&format!("/requests/{two}")).await;
    assert!(page.contains(&format!("/requests/{one}/diff/{two}")));
    // The "compare with id" form redirects to the diff.
    let r = get(
        &app.client,
        app.at(&format!("/requests/{two}/diff?with={one}")),
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("/requests/{two}/diff/{one}").as_str()
    );
}

// ---------------------------------------------------------------------------------------------
// Isolation

#[tokio::test]
async fn another_account_gets_404_on_exports_diff_order_search_and_signing() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("owner@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "mine").await;
    let a = capture(&url, "POST", &[], b"{\"a\":1}".to_vec()).await;
    let b = capture(&url, "POST", &[], b"{\"a\":2}".to_vec()).await;

    let intruder = other_account(&app, "intruder@example.com").await;
    // The intruder's own capture, to mix with the owner's in a diff.
    let intruder_token = app
        .token("intruder@example.com", "correct horse battery")
        .await;
    let (_, their_url) = app.create_endpoint(&intruder_token, "theirs").await;
    let own = capture(&their_url, "POST", &[], b"x".to_vec()).await;

    let paths = vec![
        format!("/requests/{a}/har"),
        format!("/requests/{a}/fixture"),
        format!("/endpoints/{endpoint}/export.ndjson"),
        format!("/endpoints/{endpoint}/order"),
        format!("/endpoints/{endpoint}?q=type%3A*"),
        format!("/requests/{a}/diff/{b}"),
        format!("/api/v1/endpoints/{endpoint}/requests?q=provider%3Astripe"),
        format!("/requests/{own}/diff/{a}"),
        format!("/requests/{a}/diff/{own}"),
    ];
    for p in &paths {
        let r = get(&intruder, app.at(p)).await;
        assert_eq!(r.status(), 404, "{p}");
        let body = r.text().await.unwrap_or_default();
        assert!(!body.contains("\"a\""), "{p} leaked data");
    }
    let html = intruder
        .get(app.at("/"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    let csrf = crate::common::extract_csrf(&html);
    let r = intruder
        .post(app.at(&format!("/endpoints/{endpoint}/signing")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("scheme", "stripe"),
            ("secret", "stolen"),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 404);
    let v = api_json(&app, &token, &format!("/api/v1/endpoints/{endpoint}")).await;
    assert!(v["signing"].is_null(), "the owner's endpoint is unchanged");
    // The owner still sees everything.
    let r = get(&app.client, app.at(&format!("/requests/{a}/diff/{b}"))).await;
    assert_eq!(r.status(), 200);
}

/// Whether the search indexer has written the capture's search document.
async fn indexed(app: &TestApp, id: &str) -> bool {
    sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM request_search WHERE request_id = $1::uuid)",
    )
    .bind(id)
    .fetch_one(&app.server.pool)
    .await
    .expect("request_search")
}

#[tokio::test]
async fn search_finds_a_just_captured_body_before_and_after_it_is_indexed() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("fresh-search@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "fresh").await;
    let old = capture(
        &url,
        "POST",
        &[("Content-Type", "application/json".into())],
        br#"{"data":{"object":{"customer":"cus_old","amount":10}}}"#.to_vec(),
    )
    .await;

    // The indexer cannot move on while this transaction holds its progress row.
    let mut hold = app.server.pool.begin().await.expect("begin");
    sqlx::query("SELECT xid FROM search_progress FOR UPDATE")
        .execute(&mut *hold)
        .await
        .expect("lock the indexer's progress");
    let json = capture(
        &url,
        "POST",
        &[
            ("Content-Type", "application/json".into()),
            ("X-Trace", "trace-77".into()),
        ],
        br#"{"data":{"object":{"customer":"cus_fresh","amount":2000,"paid":true,"items":[{"sku":"a-1"}]}},"note":"fresh needle"}"#.to_vec(),
    )
    .await;
    let text = capture(
        &url,
        "POST",
        &[("Content-Type", "text/plain".into())],
        b"plain 100% fresh\xff needle".to_vec(),
    )
    .await;
    let cases: Vec<(&str, BTreeSet<String>)> = vec![
        ("data.object.customer:cus_fresh", set(&[&json])),
        ("data.object.customer:cus_old", set(&[&old])),
        ("data.object.amount:2000", set(&[&json])),
        ("data.object.amount:2.0e3", BTreeSet::new()),
        ("data.object.paid:true", set(&[&json])),
        ("data.object.items.0.sku:a-1", set(&[&json])),
        ("needle", set(&[&json, &text])),
        ("\"100% fresh\"", set(&[&text])),
        ("100_", BTreeSet::new()),
        ("trace-77", set(&[&json])),
        // Parts of words at the text's ends, whole words inside it, a header name.
        ("eedl", set(&[&json, &text])),
        ("\"ustomer\\\":\\\"cus_fre\"", set(&[&json])),
        ("\"ustomer\\\":\\\"cus_old\"", set(&[&old])),
        ("\"ustomer\\\": \\\"cus_fre\"", BTreeSet::new()),
        ("X-Trac", set(&[&json])),
        ("data.object.customer:cus_fresh needle", set(&[&json])),
    ];
    assert!(!indexed(&app, &json).await, "not indexed yet");
    for (q, want) in &cases {
        assert_eq!(
            &search(&app, &token, &endpoint, q).await,
            want,
            "before indexing, q = {q}"
        );
    }

    hold.rollback().await.expect("release");
    let released = std::time::Instant::now();
    while !(indexed(&app, &json).await && indexed(&app, &text).await) {
        assert!(
            released.elapsed() < std::time::Duration::from_secs(10),
            "the indexer did not index the new captures"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    eprintln!(
        "search documents written {:?} after the indexer could run",
        released.elapsed()
    );
    for (q, want) in &cases {
        assert_eq!(
            &search(&app, &token, &endpoint, q).await,
            want,
            "after indexing, q = {q}"
        );
    }
}

#[tokio::test]
async fn a_body_search_finds_matches_older_than_the_newest_captures_it_reads_first() {
    use hookvault_core::ids::EndpointId;
    use hookvault_store::requests::insert_captures;
    use hookvault_store::search::FIRST_READ;
    use hookvault_store::testing::capture as plain;

    let app = TestApp::spawn().await;
    let token = app.signup_with_token("deep-search@example.com").await;
    let (endpoint, _) = app.create_endpoint(&token, "deep").await;
    let id: EndpointId = endpoint.parse().expect("endpoint id");
    let mut batch = vec![plain(id, br#"{"note":"needle deep","k":"rare"}"#)];
    batch.extend((0..FIRST_READ + 5).map(|_| plain(id, b"filler")));
    batch.extend((0..3).map(|_| plain(id, br#"{"note":"needle new","k":"common"}"#)));
    insert_captures(&app.server.pool, &batch)
        .await
        .expect("store");

    // The newest captures hold a full page of the common terms; the deep capture, older than
    // the captures read first, is found after them (`search` pages two at a time with the
    // cursor, and fails on a page that repeats a capture).
    let needle = search(&app, &token, &endpoint, "needle").await;
    assert_eq!(needle.len(), 4, "every capture holding the word");
    let deep = search(&app, &token, &endpoint, "\"needle deep\"").await;
    assert_eq!(deep.len(), 1);
    assert!(needle.is_superset(&deep));
    assert_eq!(search(&app, &token, &endpoint, "k:rare").await, deep);
    let common = search(&app, &token, &endpoint, "k:common").await;
    assert_eq!(common.len(), 3);
    assert!(needle.is_superset(&common));
}
