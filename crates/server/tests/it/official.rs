//! Replays re-signed by Hookvault are accepted by the providers' official verifiers:
//! stripe.Webhook.construct_event, standardwebhooks' Webhook.verify, slack_sdk's
//! SignatureVerifier, and GitHub's and Shopify's documented checks — all in a FastAPI app.

use std::time::Duration;

use crate::common::official::*;
use crate::common::wait::wait_for;
use crate::common::TestApp;
use hookvault_core::signing;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Captures `body` with `headers` at a fresh endpoint and returns the request id.
async fn capture(app: &TestApp, token: &str, headers: &[(&str, String)], body: &[u8]) -> String {
    let (_, url) = app.create_endpoint(token, "official").await;
    let mut req = reqwest::Client::new().post(&url).body(body.to_vec());
    for (n, v) in headers {
        req = req.header(*n, v);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.headers()["x-hookvault-request-id"]
        .to_str()
        .unwrap()
        .to_string()
}

/// Replays a capture to the receiver and returns the finished replay.
async fn replay(
    app: &TestApp,
    token: &str,
    request: &str,
    url: String,
    scheme: &str,
    secret: &str,
) -> serde_json::Value {
    let r = reqwest::Client::new()
        .post(app.at(&format!("/api/v1/requests/{request}/replays")))
        .bearer_auth(token)
        .json(&serde_json::json!({"target_url": url, "signing": {"scheme": scheme, "secret": secret}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for(
        "the replay to finish",
        Duration::from_secs(30),
        async || {
            let v: serde_json::Value = app
                .api_get(token, &format!("/api/v1/replays/{id}"))
                .await
                .json()
                .await
                .unwrap();
            match v["status"] == "succeeded" || v["status"] == "failed" {
                true => Ok(v),
                false => Err(v),
            }
        },
    )
    .await
}

fn accepted_by(v: &serde_json::Value, verifier: &str) {
    assert_eq!(v["status"], "succeeded", "{v}");
    let attempt = &v["attempts"][0];
    assert_eq!(attempt["status_code"], 200, "{v}");
    let answer: serde_json::Value =
        serde_json::from_str(attempt["response_body"].as_str().unwrap()).unwrap();
    assert_eq!(answer["ok"], true);
    assert_eq!(answer["verified_by"], verifier);
}

#[tokio::test]
async fn replays_with_fresh_signatures_are_accepted_by_the_official_verifiers() {
    let Some(rx) = OfficialReceiver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("official@example.com").await;
    let day_ago = now() - 86_400;

    // Stripe: captured with a signature a day old (made with Stripe's secret, unknown to the
    // handler); the body has Stripe's pretty-printing and no trailing newline.
    let body = b"{\n  \"id\": \"evt_official_1\",\n  \"object\": \"event\",\n  \"type\": \"invoice.paid\",\n  \"data\": {\n    \"object\": {\n      \"id\": \"in_1\",\n      \"lines\": [\n\n      ],\n      \"note\": \"Caf\xc3\xa9 \xe2\x80\x93 10 \xe2\x82\xac\"\n    }\n  }\n}";
    let id = capture(
        &app,
        &token,
        &[
            ("Content-Type", "application/json; charset=utf-8".into()),
            (
                "Stripe-Signature",
                signing::stripe_header("whsec_stripes_own", day_ago, body),
            ),
        ],
        body,
    )
    .await;
    // The stale capture itself would be refused by construct_event …
    let stale = replay(
        &app,
        &token,
        &id,
        format!("{}/webhooks/stripe", rx.base),
        "original",
        "",
    )
    .await;
    assert_eq!(stale["attempts"][0]["status_code"], 400, "{stale}");
    // … the re-signed replay is accepted.
    let v = replay(
        &app,
        &token,
        &id,
        format!("{}/webhooks/stripe", rx.base),
        "stripe",
        STRIPE_SECRET,
    )
    .await;
    accepted_by(&v, "stripe.Webhook.construct_event");
    assert_eq!(
        rx.received().await.last().unwrap(),
        &body.to_vec(),
        "byte-exact body"
    );

    // Standard Webhooks (captured in the svix-* family and as webhook-*).
    let body = br#"{"type":"contact.created","timestamp":"2023-11-14T22:13:20.000000Z","data":{"id":"1"}}"#;
    let key = signing::standard_webhooks_key("whsec_cHJldmlvdXMtcm90YXRlZC1vdXQta2V5LTMyLWJ5dGU=")
        .unwrap();
    let sig = signing::standard_webhooks_signature(
        &key,
        "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        day_ago,
        body,
    );
    let id = capture(
        &app,
        &token,
        &[
            ("Content-Type", "application/json".into()),
            ("webhook-id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W".into()),
            ("webhook-timestamp", day_ago.to_string()),
            ("webhook-signature", format!("v1,{sig}")),
        ],
        body,
    )
    .await;
    let v = replay(
        &app,
        &token,
        &id,
        format!("{}/webhooks/standard", rx.base),
        "standard-webhooks",
        STANDARD_WEBHOOKS_SECRET,
    )
    .await;
    accepted_by(&v, "standardwebhooks.Webhook.verify");

    // GitHub: signed by the real hook's secret; the handler uses its own.
    let body = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let id = capture(
        &app,
        &token,
        &[
            ("Content-Type", "application/json".into()),
            ("X-GitHub-Event", "ping".into()),
            (
                "X-Hub-Signature-256",
                signing::github_sha256("prod-secret", body),
            ),
        ],
        body,
    )
    .await;
    let v = replay(
        &app,
        &token,
        &id,
        format!("{}/webhooks/github", rx.base),
        "github",
        GITHUB_SECRET,
    )
    .await;
    accepted_by(&v, "github documented check");

    // Shopify.
    let body = br#"{"id":820982911946154508,"email":"jon@example.com","total_price":"199.00"}"#;
    let id = capture(
        &app,
        &token,
        &[
            ("Content-Type", "application/json".into()),
            ("X-Shopify-Topic", "orders/create".into()),
            (
                "X-Shopify-Hmac-Sha256",
                signing::shopify_hmac("app-secret", body),
            ),
        ],
        body,
    )
    .await;
    let v = replay(
        &app,
        &token,
        &id,
        format!("{}/webhooks/shopify", rx.base),
        "shopify",
        SHOPIFY_SECRET,
    )
    .await;
    accepted_by(&v, "shopify documented check");

    // Slack: a slash command (form body) with a day-old timestamp.
    let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fwebhook-collect&text=";
    let id = capture(
        &app,
        &token,
        &[
            ("Content-Type", "application/x-www-form-urlencoded".into()),
            ("X-Slack-Request-Timestamp", day_ago.to_string()),
            (
                "X-Slack-Signature",
                signing::slack_signature(SLACK_SECRET, day_ago, body),
            ),
            ("X-Slack-Retry-Num", "1".into()),
        ],
        body,
    )
    .await;
    let v = replay(
        &app,
        &token,
        &id,
        format!("{}/webhooks/slack", rx.base),
        "slack",
        SLACK_SECRET,
    )
    .await;
    accepted_by(&v, "slack_sdk SignatureVerifier");
}
