//! Isolation: one account can neither see nor change another account's endpoints, captures or
//! tokens, through any page or API call; every attempt is a 404.

use crate::common::browser::api_client;
use crate::common::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn another_account_gets_404_for_everything_of_mine_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (alice, alice_token) = app.account("alice@example.com").await;
    let (bob, bob_token) = app.account("bob@example.com").await;

    // Alice's things: an endpoint with a custom response, a capture, an extra API token.
    let (ep, url) = app.create_endpoint(&alice_token, "alice-private").await;
    let r = app
        .api(
            Method::PATCH,
            &alice_token,
            &format!("/api/v1/endpoints/{ep}"),
        )
        .json(&json!({"response": {"status": 201, "body": "alice says hi"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = api_client()
        .post(format!("{url}/secret"))
        .header("content-type", "text/plain")
        .body("alice's secret payload")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let req = r.headers()["x-hookvault-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let r = api_client()
        .post(app.at("/api/v1/tokens"))
        .basic_auth("alice@example.com", Some(crate::common::browser::PASSWORD))
        .json(&json!({"name": "alice-cli"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    let alice_token_id = v["id"].as_str().unwrap().to_string();
    let alice_cli_token = v["token"].as_str().unwrap().to_string();

    let endpoint_before = app
        .api_json(&alice_token, &format!("/api/v1/endpoints/{ep}"))
        .await;
    let request_before = app
        .api_json(&alice_token, &format!("/api/v1/requests/{req}"))
        .await;

    // Bob's pages.
    for path in [
        format!("/endpoints/{ep}"),
        format!("/endpoints/{ep}?before=999999"),
        format!("/endpoints/{ep}/live"),
        format!("/requests/{req}"),
        format!("/requests/{req}/raw"),
        format!("/requests/{req}/replay"),
        format!("/endpoints/{ep}/replays"),
        format!("/endpoints/{ep}/bulk-replay"),
    ] {
        let r = bob.get(&path).await;
        assert_eq!(r.status(), 404, "Bob GET {path}");
        let html = r.text().await.unwrap();
        assert!(
            !html.contains("alice"),
            "Bob GET {path} shows nothing of Alice's"
        );
    }
    let bob_csrf = bob.csrf("/").await;
    for (path, fields) in [
        (format!("/endpoints/{ep}/rename"), vec![("name", "pwned")]),
        (
            format!("/endpoints/{ep}/response"),
            vec![
                ("status", "500"),
                ("content_type", "text/plain"),
                ("body", "pwned"),
                ("headers", ""),
                ("delay_ms", "0"),
            ],
        ),
        (format!("/endpoints/{ep}/delete"), vec![]),
        (
            format!("/endpoints/{ep}/signing"),
            vec![("scheme", "github"), ("secret", "bob's secret")],
        ),
        (
            format!("/requests/{req}/replay"),
            vec![("mode", "url"), ("target_url", "http://127.0.0.1:9/bob")],
        ),
        (format!("/settings/tokens/{alice_token_id}/revoke"), vec![]),
    ] {
        let r = bob.post_form_with(&path, Some(&bob_csrf), &fields).await;
        assert_eq!(r.status(), 404, "Bob POST {path}");
    }
    assert!(
        !bob.get_html("/").await.contains("alice-private"),
        "not in Bob's list"
    );
    assert!(
        !bob.get_html("/settings").await.contains("alice-cli"),
        "not in Bob's settings"
    );

    // Bob's API calls, with his token and with his browser session.
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/endpoints/{ep}"), None),
        (
            Method::PATCH,
            format!("/api/v1/endpoints/{ep}"),
            Some(json!({"name": "pwned", "response": {"status": 500}})),
        ),
        (Method::DELETE, format!("/api/v1/endpoints/{ep}"), None),
        (
            Method::GET,
            format!("/api/v1/endpoints/{ep}/requests"),
            None,
        ),
        (Method::GET, format!("/api/v1/endpoints/{ep}/stream"), None),
        (Method::GET, format!("/api/v1/requests/{req}"), None),
        (Method::GET, format!("/api/v1/requests/{req}/body"), None),
        (Method::GET, format!("/api/v1/requests/{req}/replays"), None),
        (
            Method::POST,
            format!("/api/v1/requests/{req}/replays"),
            Some(json!({"target_url": "http://127.0.0.1:9/bob"})),
        ),
        (Method::GET, format!("/api/v1/endpoints/{ep}/replays"), None),
        (
            Method::POST,
            format!("/api/v1/endpoints/{ep}/replays"),
            Some(json!({"request_ids": [req], "target_url": "http://127.0.0.1:9/bob"})),
        ),
    ] {
        let mut rq = app.api(method.clone(), &bob_token, &path);
        if let Some(b) = &body {
            rq = rq.json(b);
        }
        let r = rq.send().await.unwrap();
        assert_eq!(r.status(), 404, "Bob (token) {method} {path}");
        let text = r.text().await.unwrap();
        assert!(
            !text.contains("alice"),
            "Bob (token) {method} {path}: {text}"
        );

        let mut rq = bob
            .client
            .request(method.clone(), bob.at(&path))
            .header("x-csrf-token", &bob_csrf);
        if let Some(b) = &body {
            rq = rq.json(b);
        }
        let r = rq.send().await.unwrap();
        assert_eq!(r.status(), 404, "Bob (session) {method} {path}");
    }
    let list = app.api_json(&bob_token, "/api/v1/endpoints").await;
    assert_eq!(
        list["endpoints"].as_array().unwrap().len(),
        0,
        "Bob lists nothing"
    );

    // Alice's things are unchanged, and nothing was replayed.
    let replays: i64 = sqlx::query_scalar("SELECT count(*) FROM replays")
        .fetch_one(&app.server.pool)
        .await
        .unwrap();
    assert_eq!(replays, 0, "Bob queued no replay of Alice's capture");
    assert_eq!(
        app.api_json(&alice_token, &format!("/api/v1/endpoints/{ep}"))
            .await,
        endpoint_before
    );
    assert_eq!(
        app.api_json(&alice_token, &format!("/api/v1/requests/{req}"))
            .await,
        request_before
    );
    assert_eq!(
        app.api_get(&alice_cli_token, "/api/v1/endpoints")
            .await
            .status(),
        200,
        "Alice's token still works"
    );
    assert!(alice.get_html("/settings").await.contains("alice-cli"));
    assert_eq!(alice.get(&format!("/requests/{req}")).await.status(), 200);
    let r = api_client()
        .post(&url)
        .body("still mine")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        201,
        "the capture URL and its response are unchanged"
    );
    assert_eq!(r.text().await.unwrap(), "alice says hi");
}
