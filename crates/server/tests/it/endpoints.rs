//! Endpoints: create, rename and delete through pages and the API, capture tokens, the custom
//! response senders get, and keyset pages of an endpoint's captures.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::common::browser::{api_client, location};
use crate::common::TestApp;
use reqwest::Method;
use serde_json::json;

/// Sends a small capture and returns its request id.
async fn capture(url: &str, body: &str) -> String {
    let r = api_client()
        .post(url)
        .header("content-type", "text/plain")
        .body(body.to_string())
        .send()
        .await
        .expect("capture");
    assert_eq!(r.status(), 200, "capture to {url}");
    r.headers()
        .get("x-hookvault-request-id")
        .expect("request id header")
        .to_str()
        .unwrap()
        .to_string()
}

async fn capture_status(url: &str) -> u16 {
    api_client()
        .post(url)
        .body("x")
        .send()
        .await
        .expect("capture")
        .status()
        .as_u16()
}

/// The text of `<code id="capture-url">…</code>` on an endpoint page.
fn shown_capture_url(html: &str) -> String {
    let marker = "id=\"capture-url\">";
    let start = html.find(marker).expect("capture URL on the page") + marker.len();
    let end = html[start..].find('<').unwrap() + start;
    html[start..end].to_string()
}

#[tokio::test]
async fn endpoints_are_created_renamed_and_deleted_through_pages() {
    let app = TestApp::spawn().await;
    let (b, token) = app.account("pages@example.com").await;

    let r = b
        .post_form("/endpoints", "/", &[("name", "Stripe test")])
        .await;
    assert_eq!(r.status(), 303);
    let page = location(&r);
    let id = page
        .strip_prefix("/endpoints/")
        .expect("redirect to the new endpoint")
        .to_string();
    let html = b.get_html(&page).await;
    assert!(html.contains("Stripe test"));
    let url = shown_capture_url(&html);
    assert!(url.starts_with(&format!("{}/in/", app.url)), "{url}");
    assert!(b.get_html("/").await.contains("Stripe test"), "listed on /");

    let r = b
        .post_form(
            &format!("/endpoints/{id}/rename"),
            &page,
            &[("name", "Renamed one")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(b.get_html(&page).await.contains("Renamed one"));
    let v = app
        .api_json(&token, &format!("/api/v1/endpoints/{id}"))
        .await;
    assert_eq!(v["name"], "Renamed one");

    let request_id = capture(&url, "before delete").await;
    let r = b
        .post_form(
            &format!("/endpoints/{id}/delete"),
            &page,
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/");
    assert!(
        !b.get_html("/").await.contains("Renamed one"),
        "gone from the list"
    );
    assert_eq!(b.get(&page).await.status(), 404, "its page is gone");
    assert_eq!(
        b.get(&format!("/requests/{request_id}")).await.status(),
        404
    );
    assert_eq!(
        capture_status(&url).await,
        404,
        "the capture URL stops accepting"
    );
    let r = app
        .api_get(&token, &format!("/api/v1/requests/{request_id}"))
        .await;
    assert_eq!(r.status(), 404, "its captures are deleted");
    assert_eq!(app.stored_requests().await, 0);
}

#[tokio::test]
async fn endpoints_are_created_renamed_and_deleted_through_the_api() {
    let app = TestApp::spawn().await;
    let (_, token) = app.account("api-endpoints@example.com").await;

    let r = app
        .api(Method::POST, &token, "/api/v1/endpoints")
        .json(&json!({"name": "GitHub"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: serde_json::Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let url = created["url"].as_str().unwrap().to_string();
    assert_eq!(created["name"], "GitHub");
    assert!(created["created_at"].is_string());

    let list = app.api_json(&token, "/api/v1/endpoints").await;
    let listed = &list["endpoints"][0];
    assert_eq!(listed["id"], id.as_str());
    assert_eq!(listed["url"], url.as_str());
    assert_eq!(listed["request_count"], 0);

    let r = app
        .api(Method::PATCH, &token, &format!("/api/v1/endpoints/{id}"))
        .json(&json!({"name": "GitHub app"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["name"], "GitHub app");
    assert_eq!(
        app.api_json(&token, &format!("/api/v1/endpoints/{id}"))
            .await["name"],
        "GitHub app"
    );

    let request_id = capture(&url, "one").await;
    capture(&url, "two").await;
    let list = app.api_json(&token, "/api/v1/endpoints").await;
    assert_eq!(list["endpoints"][0]["request_count"], 2);

    let r = app
        .api(Method::DELETE, &token, &format!("/api/v1/endpoints/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(capture_status(&url).await, 404, "the capture URL 404s");
    for path in [
        format!("/api/v1/requests/{request_id}"),
        format!("/api/v1/requests/{request_id}/body"),
        format!("/api/v1/endpoints/{id}"),
        format!("/api/v1/endpoints/{id}/requests"),
    ] {
        assert_eq!(app.api_get(&token, &path).await.status(), 404, "GET {path}");
    }
    let list = app.api_json(&token, "/api/v1/endpoints").await;
    assert_eq!(list["endpoints"].as_array().unwrap().len(), 0);
    assert_eq!(app.stored_requests().await, 0, "the captures are gone");
}

#[tokio::test]
async fn capture_urls_carry_a_token_of_at_least_128_random_bits() {
    let app = TestApp::spawn().await;
    let (_, token) = app.account("tokens@example.com").await;
    let mut seen = HashSet::new();
    for i in 0..5 {
        let (_, url) = app.create_endpoint(&token, &format!("e{i}")).await;
        let capture_token = url
            .strip_prefix(&format!("{}/in/", app.url))
            .unwrap_or_else(|| panic!("capture URL {url} is {{public_url}}/in/{{token}}"));
        assert!(
            capture_token.len() >= 22 && capture_token.bytes().all(|b| b.is_ascii_alphanumeric()),
            "at least 22 base62 characters (128 bits): {capture_token}"
        );
        assert!(seen.insert(capture_token.to_string()), "tokens differ");
    }
}

#[tokio::test]
async fn a_custom_response_is_what_the_sender_receives() {
    let app = TestApp::spawn().await;
    let (_, token) = app.account("response@example.com").await;
    let (id, url) = app.create_endpoint(&token, "custom").await;

    let r = api_client().post(&url).body("x").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert!(r.headers().contains_key("x-hookvault-request-id"));
    crate::common::assert_inert(r.headers(), "the default response");
    assert_eq!(
        r.text().await.unwrap(),
        "{\"ok\":true}",
        "the default response"
    );

    let r = app
        .api(Method::PATCH, &token, &format!("/api/v1/endpoints/{id}"))
        .json(&json!({"response": {
            "status": 202,
            "content_type": "text/plain; charset=utf-8",
            "body": "queued for later",
            "headers": [["X-Custom", "yes"], ["X-Custom", "twice"], ["Cache-Control", "no-store"]],
            "delay_ms": 300
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["response"]["status"], 202);
    assert_eq!(v["response"]["delay_ms"], 300);

    let started = Instant::now();
    let r = api_client()
        .post(format!("{url}/deep/path?q=1"))
        .body("x")
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 202);
    crate::common::assert_inert(r.headers(), "a custom response");
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    let custom: Vec<&str> = r
        .headers()
        .get_all("x-custom")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(custom, ["yes", "twice"]);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let request_id = r.headers()["x-hookvault-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(r.text().await.unwrap(), "queued for later");
    assert!(
        took >= Duration::from_millis(300),
        "the delay is applied ({took:?})"
    );
    let stored = app
        .api_json(&token, &format!("/api/v1/requests/{request_id}"))
        .await;
    assert_eq!(
        stored["path"], "/deep/path",
        "the id names the stored capture"
    );
}

#[tokio::test]
async fn an_invalid_custom_response_is_422_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (b, token) = app.account("invalid@example.com").await;
    let (id, url) = app.create_endpoint(&token, "strict").await;
    let before = app
        .api_json(&token, &format!("/api/v1/endpoints/{id}"))
        .await;

    for (what, body) in [
        ("status 700", json!({"response": {"status": 700}})),
        ("status 99", json!({"response": {"status": 99}})),
        ("delay 20000", json!({"response": {"delay_ms": 20000}})),
        ("negative delay", json!({"response": {"delay_ms": -1}})),
        (
            "framing header",
            json!({"response": {"headers": [["Content-Length", "5"]]}}),
        ),
        (
            "bad header name",
            json!({"response": {"headers": [["Bad Name", "x"]]}}),
        ),
        (
            "valid name with an invalid status",
            json!({"name": "should not stick", "response": {"status": 700}}),
        ),
        ("status 101", json!({"response": {"status": 101}})),
        ("status 199", json!({"response": {"status": 199}})),
        (
            "Set-Cookie",
            json!({"response": {"headers": [["Set-Cookie", "hookvault=x"]]}}),
        ),
        (
            "Content-Security-Policy",
            json!({"response": {"headers": [["Content-Security-Policy", "script-src *"]]}}),
        ),
        (
            "Content-Security-Policy-Report-Only",
            json!({"response": {"headers": [["content-security-policy-report-only", "x"]]}}),
        ),
        (
            "Service-Worker-Allowed",
            json!({"response": {"headers": [["Service-Worker-Allowed", "/"]]}}),
        ),
        (
            "Clear-Site-Data",
            json!({"response": {"headers": [["Clear-Site-Data", "\"*\""]]}}),
        ),
        (
            "Strict-Transport-Security",
            json!({"response": {"headers": [["Strict-Transport-Security", "max-age=1"]]}}),
        ),
        (
            "X-Frame-Options",
            json!({"response": {"headers": [["X-Frame-Options", "ALLOWALL"]]}}),
        ),
        (
            "Connection",
            json!({"response": {"headers": [["Connection", "close"]]}}),
        ),
        (
            "21 headers",
            json!({"response": {"headers": (0..21).map(|i| [format!("X-H{i}"), "v".to_string()]).collect::<Vec<_>>()}}),
        ),
        (
            "9 KiB of headers",
            json!({"response": {"headers": [["X-A", "a".repeat(4600)], ["X-B", "b".repeat(4600)]]}}),
        ),
    ] {
        let r = app
            .api(Method::PATCH, &token, &format!("/api/v1/endpoints/{id}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{what}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(v["error"]["code"].is_string(), "{what}: error code in {v}");
        assert!(
            v["error"]["message"].is_string(),
            "{what}: error message in {v}"
        );
    }
    let r = app
        .api(Method::PATCH, &token, &format!("/api/v1/endpoints/{id}"))
        .json(&json!({"response": {"headers": [["Set-Cookie", "a=b"]]}}))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Set-Cookie cannot be set: capture responses may only carry"),
        "the API says why: {message}"
    );

    // The same through the page form.
    let page = format!("/endpoints/{id}");
    let r = b
        .post_form(
            &format!("/endpoints/{id}/response"),
            &page,
            &[
                ("status", "700"),
                ("content_type", "text/plain"),
                ("body", "nope"),
                ("headers", ""),
                ("delay_ms", "20000"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422, "page form");
    let r = b
        .post_form(
            &format!("/endpoints/{id}/response"),
            &page,
            &[
                ("status", "200"),
                ("content_type", "text/html"),
                ("body", "<p>hi</p>"),
                ("headers", "X-Fine: yes\nService-Worker-Allowed: /"),
                ("delay_ms", "0"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422, "page form with a refused header");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Service-Worker-Allowed cannot be set: capture responses may only carry"),
        "the page says which header is refused and what is allowed: {html}"
    );

    let after = app
        .api_json(&token, &format!("/api/v1/endpoints/{id}"))
        .await;
    assert_eq!(before, after, "nothing changed");
    let r = api_client().post(&url).body("x").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "{\"ok\":true}");
}

#[tokio::test]
async fn a_response_stored_before_the_allow_list_is_served_without_its_refused_parts() {
    let app = TestApp::spawn().await;
    let (_, token) = app.account("legacy@example.com").await;
    let (id, url) = app.create_endpoint(&token, "legacy").await;
    // As an older version could have stored it, before capture has ever looked it up.
    sqlx::query(
        "UPDATE endpoints SET response_status = 101, response_content_type = 'text/html', \
         response_body = '<script>alert(1)</script>', response_headers = $1 WHERE id = $2",
    )
    .bind(json!([
        ["Set-Cookie", "hookvault=planted"],
        ["Service-Worker-Allowed", "/"],
        ["Content-Security-Policy", "script-src *"],
        ["X-Kept", "yes"]
    ]))
    .bind(uuid::Uuid::parse_str(&id).unwrap())
    .execute(&app.server.pool)
    .await
    .unwrap();

    let r = api_client().post(&url).body("x").send().await.unwrap();
    assert_eq!(r.status(), 200, "a status outside 200-599 is served as 200");
    crate::common::assert_inert(r.headers(), "a legacy custom response");
    assert!(r.headers().get("set-cookie").is_none());
    assert!(r.headers().get("service-worker-allowed").is_none());
    assert_eq!(
        r.headers()
            .get_all("content-security-policy")
            .iter()
            .count(),
        1
    );
    assert_eq!(r.headers()["x-kept"], "yes");
}

#[tokio::test]
async fn keyset_pages_of_captures_list_every_capture_once_newest_first() {
    let app = TestApp::spawn().await;
    let (_, token) = app.account("pages-api@example.com").await;
    let (id, url) = app.create_endpoint(&token, "many").await;
    let (other_id, other_url) = app.create_endpoint(&token, "other").await;
    let mut sent = Vec::new();
    for i in 0..11 {
        sent.push(capture(&url, &format!("capture {i}")).await);
        if i % 3 == 0 {
            capture(&other_url, "elsewhere").await;
        }
    }
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();

    let mut got = Vec::new();
    let mut path = format!("/api/v1/endpoints/{id}/requests?limit=3");
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages <= 10, "pagination ends");
        let v = app.api_json(&token, &path).await;
        let page = v["requests"].as_array().unwrap();
        assert!(page.len() <= 3, "limit is respected");
        got.extend(page.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        match v["next"].as_str() {
            Some(next) => {
                assert_eq!(page.len(), 3, "only the last page is short");
                path = format!("/api/v1/endpoints/{id}/requests?limit=3&before={next}");
            }
            None => {
                assert!(v["next"].is_null());
                break;
            }
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(
        got, newest_first,
        "every capture exactly once, newest first"
    );

    let all = app
        .api_json(&token, &format!("/api/v1/endpoints/{id}/requests"))
        .await;
    let all: Vec<&str> = all["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(all, newest_first, "the default page holds them all");
    let other = app
        .api_json(&token, &format!("/api/v1/endpoints/{other_id}/requests"))
        .await;
    assert_eq!(
        other["requests"].as_array().unwrap().len(),
        4,
        "no mixing of endpoints"
    );
}

#[tokio::test]
async fn original_is_refused_as_a_signature_check_by_the_api_and_the_page_alike() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("agree@example.com").await;
    let (id, _) = app.create_endpoint(&token, "agree").await;

    let r = api_client()
        .patch(app.at(&format!("/api/v1/endpoints/{id}")))
        .bearer_auth(&token)
        .json(&json!({"signing": {"scheme": "original"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "the API refuses it");
    let v: serde_json::Value = r.json().await.unwrap();
    let message = v["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("does not check signatures"), "{message}");

    let page = app
        .post_form(
            &format!("/endpoints/{id}/signing"),
            &format!("/endpoints/{id}"),
            &[("scheme", "original"), ("secret", "")],
        )
        .await;
    assert_eq!(page.status(), 422, "the page refuses it too");
    assert!(
        page.text().await.unwrap().contains(&message),
        "with the same reason"
    );

    // And both keep the current secret when only the scheme changes.
    let r = api_client()
        .patch(app.at(&format!("/api/v1/endpoints/{id}")))
        .bearer_auth(&token)
        .json(&json!({"signing": {"scheme": "stripe", "secret": "whsec_one"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = api_client()
        .patch(app.at(&format!("/api/v1/endpoints/{id}")))
        .bearer_auth(&token)
        .json(&json!({"signing": {"scheme": "github"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the API keeps the sealed secret");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["signing"]["scheme"], "github");
    assert_eq!(v["signing"]["secret_set"], true);
}

/// The `{"error":{"code","message"}}` of an API answer with this status.
async fn api_error(r: reqwest::Response, status: u16) -> (String, String) {
    assert_eq!(r.status(), status);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "the contract's JSON error, not plain text"
    );
    let v: serde_json::Value = r.json().await.unwrap();
    (
        v["error"]["code"].as_str().unwrap().to_string(),
        v["error"]["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn bad_json_and_a_path_id_that_is_not_an_id_get_the_apis_json_errors() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("extract@example.com").await;
    let (id, _) = app.create_endpoint(&token, "extract").await;

    let r = api_client()
        .patch(app.at(&format!("/api/v1/endpoints/{id}")))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"name": "#)
        .send()
        .await
        .unwrap();
    let (code, message) = api_error(r, 422).await;
    assert_eq!(code, "invalid");
    assert!(!message.is_empty() && !message.contains('\n'), "{message}");

    let r = api_client()
        .patch(app.at(&format!("/api/v1/endpoints/{id}")))
        .bearer_auth(&token)
        .json(&json!({"name": 42}))
        .send()
        .await
        .unwrap();
    let (code, _) = api_error(r, 422).await;
    assert_eq!(code, "invalid", "JSON of the wrong shape");

    for path in [
        "/api/v1/endpoints/not-a-uuid",
        "/api/v1/requests/123",
        "/api/v1/endpoints/not-a-uuid/requests",
    ] {
        let r = api_client()
            .get(app.at(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let (code, _) = api_error(r, 404).await;
        assert_eq!(code, "not_found", "{path}");
    }
    let r = api_client()
        .patch(app.at("/api/v1/endpoints/not-a-uuid"))
        .bearer_auth(&token)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    let (code, _) = api_error(r, 404).await;
    assert_eq!(code, "not_found");

    let r = api_client()
        .get(app.at(&format!("/api/v1/endpoints/{id}/requests?limit=many")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (code, _) = api_error(r, 422).await;
    assert_eq!(code, "invalid", "a bad query parameter");

    let r = api_client()
        .get(app.at(&format!("/api/v1/endpoints/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["name"], "extract", "nothing was changed");
}

#[tokio::test]
async fn an_endpoints_signature_check_and_a_replay_refuse_a_bad_secret_in_the_same_words() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("same-words@example.com").await;
    let (id, url) = app.create_endpoint(&token, "same-words").await;
    let request = capture(&url, "{}").await;

    for (scheme, secret, expected) in [
        ("stripe", "", "signing with Stripe needs a secret"),
        (
            "standard-webhooks",
            "whsec_!!!",
            "the Standard Webhooks secret is not valid base64",
        ),
    ] {
        let r = api_client()
            .patch(app.at(&format!("/api/v1/endpoints/{id}")))
            .bearer_auth(&token)
            .json(&json!({"signing": {"scheme": scheme, "secret": secret}}))
            .send()
            .await
            .unwrap();
        let (_, endpoint_words) = api_error(r, 422).await;
        let r = api_client()
            .post(app.at(&format!("/api/v1/requests/{request}/replays")))
            .bearer_auth(&token)
            .json(&json!({
                "target_url": "http://127.0.0.1:9/hook",
                "signing": {"scheme": scheme, "secret": secret},
            }))
            .send()
            .await
            .unwrap();
        let (_, replay_words) = api_error(r, 422).await;
        assert!(endpoint_words.starts_with(expected), "{endpoint_words}");
        assert_eq!(endpoint_words, replay_words, "one rule, one message");
        let page = app
            .post_form(
                &format!("/endpoints/{id}/signing"),
                &format!("/endpoints/{id}"),
                &[("scheme", scheme), ("secret", secret)],
            )
            .await;
        assert_eq!(page.status(), 422);
        let html = page.text().await.unwrap();
        assert!(
            html.contains(&endpoint_words.replace('"', "&#34;")) || html.contains(&endpoint_words),
            "the page says it in the same words: {endpoint_words}"
        );
    }
}
