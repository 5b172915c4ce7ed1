//! Smaller dashboard fixes of issue 17: login returns to the page asked for (same-origin paths
//! only), a replay target typed without `http://` is told what to add, the order view compares
//! events of the same object only, and times are `<time datetime>` elements in UTC.

use hookvault_core::signing::stripe_header;
use serde_json::json;

use crate::common::browser::{location, PASSWORD};
use crate::common::TestApp;
use crate::inspector::send;

#[tokio::test]
async fn login_returns_to_the_page_asked_for_and_never_to_another_site() {
    let app = TestApp::spawn().await;
    let (_, token) = app.account("next@example.com").await;
    let (endpoint, _) = app.create_endpoint(&token, "next").await;
    let wanted = format!("/endpoints/{endpoint}?q=type:invoice.*");

    let b = app.browser();
    let r = b.get(&wanted).await;
    assert_eq!(r.status(), 303);
    let login = location(&r);
    assert_eq!(
        login,
        format!("/login?next=%2Fendpoints%2F{endpoint}%3Fq%3Dtype%3Ainvoice.%2A")
    );
    let page = b.get_html(&login).await;
    assert!(
        page.contains(&format!(
            "name=\"next\" value=\"/endpoints/{endpoint}?q=type:invoice.*\""
        )),
        "the login form carries the page: {page}"
    );
    let r = b
        .post_form(
            "/login",
            &login,
            &[
                ("email", "next@example.com"),
                ("password", PASSWORD),
                ("next", &wanted),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), wanted, "back to the page asked for");

    for hostile in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example/x",
    ] {
        let b = app.browser();
        let r = b
            .post_form(
                "/login",
                "/login",
                &[
                    ("email", "next@example.com"),
                    ("password", PASSWORD),
                    ("next", hostile),
                ],
            )
            .await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/", "{hostile} is not followed");
    }
}

#[tokio::test]
async fn a_target_typed_without_http_is_told_to_add_it() {
    let app = TestApp::spawn().await;
    let (b, token) = app.account("words@example.com").await;
    let (_, url) = app.create_endpoint(&token, "words").await;
    let id = send(&url, &[], "x").await;
    let page = format!("/requests/{id}/replay");
    let r = b
        .post_form(
            &page,
            &page,
            &[
                ("mode", "url"),
                ("target_url", "localhost:8000/hook"),
                ("scheme", "none"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.expect("page");
    assert!(
        html.contains(
            "the URL must start with http:// or https:// — add it, e.g. http://localhost:8000/hook"
        ),
        "{html}"
    );
    assert!(
        html.contains("value=\"localhost:8000/hook\""),
        "the typed URL is kept"
    );
    // The API says the same.
    let r = app
        .api(
            reqwest::Method::POST,
            &token,
            &format!("/api/v1/requests/{id}/replays"),
        )
        .json(&json!({"target_url": "localhost:8000/hook"}))
        .send()
        .await
        .expect("POST replay");
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        v["error"]["message"],
        "the URL must start with http:// or https:// — add it, e.g. http://localhost:8000/hook"
    );
}

fn stripe_event(id: &str, created: i64, object: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "object": "event", "created": created, "livemode": false,
        "type": "customer.subscription.updated",
        "data": {"object": {"id": object, "object": "subscription"}},
    }))
    .expect("json")
}

#[tokio::test]
async fn the_order_view_compares_events_of_the_same_object_only_and_times_are_utc_time_elements() {
    let app = TestApp::spawn().await;
    let (b, token) = app.account("order-object@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "order").await;
    let t = 1_764_000_000;
    // Arrival order: A@t+300, B@t+100 (another object: in order), A@t+200 (out of order).
    for (id, created, object) in [
        ("evt_a_late", t + 300, "sub_A"),
        ("evt_b", t + 100, "sub_B"),
        ("evt_a_early", t + 200, "sub_A"),
    ] {
        let body = stripe_event(id, created, object);
        let sig = stripe_header("whsec_x", t, &body);
        let r = reqwest::Client::new()
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Stripe-Signature", sig)
            .body(body)
            .send()
            .await
            .expect("capture");
        assert_eq!(r.status(), 200);
    }
    let html = b.get_html(&format!("/endpoints/{endpoint}/order")).await;
    assert!(
        html.contains("1 event(s) arrived out of order."),
        "only the sub_A event is flagged: {html}"
    );
    let row = |event: &str| {
        let at = html
            .find(event)
            .unwrap_or_else(|| panic!("{event} missing"));
        let end = at + html[at..].find("</tr>").expect("row end");
        html[at..end].to_string()
    };
    assert!(row("evt_b").contains("in order"), "{}", row("evt_b"));
    assert!(row("evt_a_early").contains("out of order"));
    assert!(
        row("evt_a_early").contains("created later"),
        "{}",
        row("evt_a_early")
    );
    // Times: UTC in the datetime attribute, filled in as local and relative times by the page's
    // script.
    assert!(
        html.contains("<time datetime=\"2025-11-24T16:05:00Z\">"),
        "{html}"
    );
}

#[tokio::test]
async fn another_accounts_captures_and_endpoints_are_404_on_the_new_pages() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.account("alice-new@example.com").await;
    let (endpoint, url) = app.create_endpoint(&alice, "alice").await;
    let id = send(&url, &[("Content-Type", "application/json")], "{}").await;
    let (bob, _) = app.account("bob-new@example.com").await;
    for path in [
        format!("/requests/{id}/pane"),
        format!("/requests/{id}/edit"),
        format!("/endpoints/{endpoint}/clear"),
        format!("/endpoints/{endpoint}/delete"),
        format!("/endpoints/{endpoint}/bulk-replay?all=1&q="),
    ] {
        assert_eq!(bob.get(&path).await.status(), 404, "Bob GET {path}");
    }
    let csrf = bob.csrf("/").await;
    for (path, fields) in [
        (
            format!("/requests/{id}/edit"),
            vec![
                ("headers", "Content-Type: application/json"),
                ("body", "{}"),
                ("mode", "url"),
                ("target_url", "http://127.0.0.1:9/x"),
                ("scheme", "none"),
            ],
        ),
        (
            format!("/endpoints/{endpoint}/clear"),
            vec![("confirm", "yes")],
        ),
        (format!("/endpoints/{endpoint}/batches/{id}/retry"), vec![]),
    ] {
        let r = bob.post_form_with(&path, Some(&csrf), &fields).await;
        assert_eq!(r.status(), 404, "Bob POST {path}");
    }
    // Alice's capture is untouched and has no edited copy.
    let list = app
        .api_json(&alice, &format!("/api/v1/endpoints/{endpoint}/requests"))
        .await;
    assert_eq!(list["requests"].as_array().expect("requests").len(), 1);
}
