//! Replays: what a local target receives (bytes, headers, fresh signatures), SSRF refusals,
//! failures in words, recovery after a crash, retries, bulk order and account isolation. Every
//! target is a real HTTP server on 127.0.0.1:0 that records exactly what arrives.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::wait::wait_for;
use crate::common::TestApp;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use hookvault_core::headers::RawHeader;
use hookvault_core::signing::{self, Scheme, SignatureStatus};
use hookvault_replay::guard::PrivateTargets;
use hookvault_server::Server;
use hookvault_store::replays;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A Stripe event as Stripe sends it: pretty-printed, no trailing newline, non-ASCII text.
const STRIPE_BODY: &str = "{\n  \"id\": \"evt_1QbCdEfGhIjKlMnO\",\n  \"object\": \"event\",\n  \"api_version\": \"2024-06-20\",\n  \"created\": 1732800000,\n  \"data\": {\n    \"object\": {\n      \"id\": \"in_1QbCdE\",\n      \"object\": \"invoice\",\n      \"description\": \"Café – 10 €\",\n      \"amount_due\": 1000\n    }\n  },\n  \"livemode\": false,\n  \"type\": \"invoice.paid\"\n}";

pub(crate) const STRIPE_SECRET: &str = "whsec_test_5WbX5kEWLlfzsGNjH64I8lOOqUB6e8FH";
/// The example secret of the Standard Webhooks / Svix documentation (24 bytes).
const SVIX_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Byte fidelity

#[tokio::test]
async fn the_target_receives_the_captured_bytes_and_headers_without_hop_by_hop_ones() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("bytes@example.com").await;
    let (_, capture_url) = app.create_endpoint(&token, "bytes").await;
    let target = Target::ok().await;
    let stale = now() - 86_400;
    let signature = signing::stripe_header(STRIPE_SECRET, stale, STRIPE_BODY.as_bytes());
    let request_id = capture(
        &app,
        &capture_url,
        &[
            ("Content-Type", "application/json; charset=utf-8"),
            (
                "User-Agent",
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            ),
            ("Accept", "*/*; q=0.5"),
            ("Stripe-Signature", &signature),
            ("X-Custom-Trace", "Abc-123"),
            ("Connection", "keep-alive"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
        ],
        STRIPE_BODY.as_bytes(),
    )
    .await;

    let url = target.url("/webhooks/stripe?source=hookvault");
    let id = replay(
        &app.url,
        &token,
        &request_id,
        json!({"target_url": url, "signing": {"scheme": "original"}}),
    )
    .await;
    let done = wait_finished(&app.url, &token, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["request_id"], request_id.as_str());
    assert_eq!(done["target_url"], url.as_str());

    let got = target.single();
    assert_eq!(
        got.body,
        STRIPE_BODY.as_bytes(),
        "body bytes changed on the way"
    );
    assert!(!got.body.ends_with(b"\n"));
    assert_eq!(got.method, "POST");
    assert_eq!(
        got.uri, "/webhooks/stripe?source=hookvault",
        "nothing is appended to the target URL"
    );
    assert_eq!(
        got.header("content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        got.header("user-agent").as_deref(),
        Some("Stripe/1.0 (+https://stripe.com/docs/webhooks)")
    );
    assert_eq!(got.header("accept").as_deref(), Some("*/*; q=0.5"));
    assert_eq!(got.header("x-custom-trace").as_deref(), Some("Abc-123"));
    assert_eq!(
        got.header("stripe-signature").as_deref(),
        Some(signature.as_str())
    );
    assert_eq!(
        got.header("content-length"),
        Some(STRIPE_BODY.len().to_string())
    );
    assert_eq!(
        got.header("host"),
        Some(target.addr.to_string()),
        "Host is the target's"
    );
    for hop in [
        "connection",
        "keep-alive",
        "te",
        "proxy-authorization",
        "transfer-encoding",
    ] {
        assert_eq!(got.header(hop), None, "{hop} was forwarded");
    }
}

// ---------------------------------------------------------------------------------------------
// Fresh signatures

#[tokio::test]
async fn a_stale_stripe_capture_arrives_with_a_fresh_signature_that_verifies() {
    let stale = now() - 86_400;
    let captured = vec![
        (
            "Content-Type",
            "application/json; charset=utf-8".to_string(),
        ),
        (
            "Stripe-Signature",
            signing::stripe_header(STRIPE_SECRET, stale, STRIPE_BODY.as_bytes()),
        ),
        ("X-Custom-Trace", "kept".to_string()),
    ];
    let got = replay_signed(&captured, STRIPE_BODY.as_bytes(), "stripe", STRIPE_SECRET).await;
    let check = signing::verify(
        Scheme::Stripe,
        &got.raw_headers(),
        &got.body,
        STRIPE_SECRET,
        now(),
    );
    assert_eq!(check.status, SignatureStatus::Valid, "{}", check.reason);
    assert_eq!(got.all("stripe-signature").len(), 1);
    assert_eq!(got.header("x-custom-trace").as_deref(), Some("kept"));
}

#[tokio::test]
async fn a_svix_capture_is_re_signed_in_the_svix_family_with_its_message_id_kept() {
    let stale = now() - 86_400;
    let key = signing::standard_webhooks_key(SVIX_SECRET).unwrap();
    let msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    let body = r#"{"type":"user.created","data":{"name":"Zoë"}}"#.as_bytes();
    let captured = vec![
        ("Content-Type", "application/json".to_string()),
        ("svix-id", msg_id.to_string()),
        ("svix-timestamp", stale.to_string()),
        (
            "svix-signature",
            format!(
                "v1,{}",
                signing::standard_webhooks_signature(&key, msg_id, stale, body)
            ),
        ),
    ];
    let got = replay_signed(&captured, body, "standard-webhooks", SVIX_SECRET).await;
    let check = signing::verify(
        Scheme::StandardWebhooks,
        &got.raw_headers(),
        &got.body,
        SVIX_SECRET,
        now(),
    );
    assert_eq!(check.status, SignatureStatus::Valid, "{}", check.reason);
    assert_eq!(got.header("svix-id").as_deref(), Some(msg_id));
    assert_ne!(got.header("svix-timestamp"), Some(stale.to_string()));
    for absent in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        assert_eq!(got.header(absent), None, "{absent} appeared");
    }
}

#[tokio::test]
async fn a_github_capture_arrives_with_both_signature_headers_for_the_new_secret() {
    let body = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let captured = vec![
        ("Content-Type", "application/json".to_string()),
        ("X-GitHub-Event", "ping".to_string()),
        (
            "X-GitHub-Delivery",
            "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_string(),
        ),
        (
            "X-Hub-Signature-256",
            signing::github_sha256("an old secret", body),
        ),
    ];
    let got = replay_signed(&captured, body, "github", "It's a Secret to Everybody").await;
    let check = signing::verify(
        Scheme::Github,
        &got.raw_headers(),
        &got.body,
        "It's a Secret to Everybody",
        now(),
    );
    assert_eq!(check.status, SignatureStatus::Valid, "{}", check.reason);
    assert_eq!(
        got.header("x-hub-signature-256"),
        Some(signing::github_sha256("It's a Secret to Everybody", body))
    );
    assert_eq!(
        got.header("x-hub-signature"),
        Some(signing::github_sha1("It's a Secret to Everybody", body))
    );
    assert_eq!(got.header("x-github-event").as_deref(), Some("ping"));
}

#[tokio::test]
async fn a_shopify_capture_arrives_with_an_hmac_for_the_new_secret() {
    let body = r#"{"id":820982911946154508,"email":"jon@example.com","note":"Café"}"#.as_bytes();
    let captured = vec![
        ("Content-Type", "application/json".to_string()),
        ("X-Shopify-Topic", "orders/create".to_string()),
        ("X-Shopify-Hmac-Sha256", signing::shopify_hmac("old", body)),
    ];
    let got = replay_signed(&captured, body, "shopify", "shpss_0123456789abcdef").await;
    let check = signing::verify(
        Scheme::Shopify,
        &got.raw_headers(),
        &got.body,
        "shpss_0123456789abcdef",
        now(),
    );
    assert_eq!(check.status, SignatureStatus::Valid, "{}", check.reason);
    assert_eq!(
        got.header("x-shopify-topic").as_deref(),
        Some("orders/create")
    );
}

#[tokio::test]
async fn a_stale_slack_capture_arrives_with_a_fresh_timestamp_and_no_retry_headers() {
    let stale = now() - 86_400;
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&text=Caf%C3%A9";
    let captured = vec![
        (
            "Content-Type",
            "application/x-www-form-urlencoded".to_string(),
        ),
        ("X-Slack-Request-Timestamp", stale.to_string()),
        (
            "X-Slack-Signature",
            signing::slack_signature(secret, stale, body),
        ),
        ("X-Slack-Retry-Num", "1".to_string()),
    ];
    let got = replay_signed(&captured, body, "slack", secret).await;
    let check = signing::verify(Scheme::Slack, &got.raw_headers(), &got.body, secret, now());
    assert_eq!(check.status, SignatureStatus::Valid, "{}", check.reason);
    assert_eq!(got.header("x-slack-retry-num"), None);
}

#[tokio::test]
async fn original_sends_the_captured_signature_and_none_removes_it() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("pseudo@example.com").await;
    let (_, capture_url) = app.create_endpoint(&token, "pseudo").await;
    let target = Target::ok().await;
    let signature = signing::stripe_header(STRIPE_SECRET, now() - 86_400, STRIPE_BODY.as_bytes());
    let request_id = capture(
        &app,
        &capture_url,
        &[
            ("Content-Type", "application/json"),
            ("Stripe-Signature", &signature),
            ("X-Kept", "yes"),
        ],
        STRIPE_BODY.as_bytes(),
    )
    .await;
    for scheme in ["original", "none"] {
        let id = replay(&app.url, &token, &request_id, json!({"target_url": target.url("/"), "signing": {"scheme": scheme, "secret": "ignored"}})).await;
        assert_eq!(
            wait_finished(&app.url, &token, &id).await["status"],
            "succeeded"
        );
    }
    let got = target.wait_for(2).await;
    assert_eq!(
        got[0].header("stripe-signature").as_deref(),
        Some(signature.as_str())
    );
    assert_eq!(got[1].header("stripe-signature"), None);
    assert!(got
        .iter()
        .all(|r| r.header("x-kept").as_deref() == Some("yes")));
    assert!(got.iter().all(|r| r.body == STRIPE_BODY.as_bytes()));
}

// ---------------------------------------------------------------------------------------------
// Refusals

#[tokio::test]
async fn with_private_targets_denied_every_spelling_of_loopback_is_refused_and_nothing_connects() {
    let app = TestApp::spawn_with(|c| c.private_targets = Some(PrivateTargets::Deny)).await;
    let token = app.signup_with_token("ssrf@example.com").await;
    let (endpoint_id, capture_url) = app.create_endpoint(&token, "ssrf").await;
    let request_id = capture(&app, &capture_url, &[("Content-Type", "text/plain")], b"hi").await;
    let target = Target::ok().await;
    let port = target.addr.port();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://127.1:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://0x7f000001:{port}/"),
        format!("http://localhost:{port}/"),
    ] {
        let (status, body) = post(
            &app.url,
            &token,
            &format!("/api/v1/requests/{request_id}/replays"),
            json!({"target_url": url, "signing": {"scheme": "none"}}),
        )
        .await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["error"]["code"], "invalid");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("refused: "), "{url}: {message}");
        let (status, body) = post(
            &app.url,
            &token,
            &format!("/api/v1/endpoints/{endpoint_id}/targets"),
            json!({"name": "dev", "url": url}),
        )
        .await;
        assert_eq!(status, 422, "saved target {url}: {body}");
    }
    let history = get(
        &app.url,
        &token,
        &format!("/api/v1/requests/{request_id}/replays"),
    )
    .await;
    assert_eq!(history["replays"], json!([]), "nothing was queued");
    assert_eq!(target.connections(), 0, "the target saw a connection");
}

#[tokio::test]
async fn bad_targets_and_signing_are_refused_with_the_reason_in_words() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("refusals@example.com").await;
    let (_, capture_url) = app.create_endpoint(&token, "refusals").await;
    let request_id = capture(&app, &capture_url, &[("Content-Type", "text/plain")], b"hi").await;
    let path = format!("/api/v1/requests/{request_id}/replays");
    let cases = [
        (
            json!({"target_url": "ftp://example.com/x"}),
            "refused: scheme \"ftp\" is not http or https",
        ),
        (json!({"target_url": "not a url"}), "refused: invalid URL"),
        (
            json!({"target_url": "http://127.0.0.1:9/", "signing": {"scheme": "paypal"}}),
            "unknown signing scheme \"paypal\"",
        ),
        (
            json!({"target_url": "http://127.0.0.1:9/", "signing": {"scheme": "stripe"}}),
            "signing with Stripe needs a secret",
        ),
        (
            json!({"target_url": "http://127.0.0.1:9/", "signing": {"scheme": "standard-webhooks", "secret": "whsec_***"}}),
            "the Standard Webhooks secret is not valid base64",
        ),
        (
            json!({"target_url": "http://127.0.0.1:9/", "max_attempts": 11}),
            "max_attempts must be between 1 and 10",
        ),
        (
            json!({}),
            "target_url (or target_id, or to_cli) is required",
        ),
        (
            json!({"to_cli": true, "target_url": "http://127.0.0.1:9/"}),
            "give either to_cli or a target, not both",
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = post(&app.url, &token, &path, body.clone()).await;
        assert_eq!(status, 422, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(expected), "{body}: {message}");
    }
    assert_eq!(get(&app.url, &token, &path).await["replays"], json!([]));
    // With no `hookvault listen` connected, a replay to the CLI waits for one (listen_queue).
    let (status, answer) = post(&app.url, &token, &path, json!({"to_cli": true})).await;
    assert_eq!((status, &answer["status"]), (202, &json!("queued")));
}

// ---------------------------------------------------------------------------------------------
// Failures

#[tokio::test]
async fn a_down_target_and_a_500_are_recorded_as_failures_in_words_and_the_server_stays_healthy() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("failures@example.com").await;
    let (_, capture_url) = app.create_endpoint(&token, "failures").await;
    let request_id = capture(
        &app,
        &capture_url,
        &[("Content-Type", "application/json")],
        b"{}",
    )
    .await;

    let closed = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let id = replay(
        &app.url,
        &token,
        &request_id,
        json!({"target_url": format!("http://{closed}/hook")}),
    )
    .await;
    let done = wait_finished(&app.url, &token, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(done["attempts"][0]["error"], "connection refused");
    assert_eq!(done["attempts"][0]["status_code"], Value::Null);

    let broken = Target::spawn(|_| Reply::new(500, "boom: the database is on fire")).await;
    let id = replay(
        &app.url,
        &token,
        &request_id,
        json!({"target_url": broken.url("/hook")}),
    )
    .await;
    let done = wait_finished(&app.url, &token, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    let attempt = &done["attempts"][0];
    assert_eq!(attempt["status_code"], 500);
    assert_eq!(attempt["error"], Value::Null);
    assert_eq!(attempt["response_body"], "boom: the database is on fire");
    assert!(
        attempt["response_headers"]
            .as_array()
            .is_some_and(|h| h.iter().any(|p| p[0] == "content-length")),
        "{attempt}"
    );
    assert!(attempt["duration_ms"].as_i64().is_some_and(|ms| ms >= 0));
    assert!(attempt["started_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert!(done["finished_at"].as_str().is_some());

    let health = reqwest::get(format!("{}/healthz", app.url)).await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn a_target_slower_than_the_timeout_fails_with_timed_out() {
    let app = TestApp::spawn_with(|c| c.replay_timeout = Duration::from_secs(1)).await;
    let token = app.signup_with_token("slow@example.com").await;
    let (_, capture_url) = app.create_endpoint(&token, "slow").await;
    let request_id = capture(
        &app,
        &capture_url,
        &[("Content-Type", "application/json")],
        b"{}",
    )
    .await;
    let slow = Target::spawn(|_| Reply::new(200, "late").after(Duration::from_secs(5))).await;
    let id = replay(
        &app.url,
        &token,
        &request_id,
        json!({"target_url": slow.url("/")}),
    )
    .await;
    let done = wait_finished(&app.url, &token, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["attempts"][0]["error"], "timed out after 1 s");
    assert!(
        done["attempts"][0]["duration_ms"]
            .as_i64()
            .is_some_and(|ms| (900..5000).contains(&ms)),
        "{done}"
    );
    assert_eq!(
        reqwest::get(format!("{}/healthz", app.url))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn replays_to_one_host_never_exceed_its_concurrency_limit() {
    // Four workers, but at most one send in flight per destination host.
    let app = TestApp::spawn_with(|c| {
        c.replay_workers = 4;
        c.replay_host_concurrency = 1;
    })
    .await;
    let token = app.signup_with_token("limits@example.com").await;
    let (_, capture_url) = app.create_endpoint(&token, "limited").await;

    // A target that notes the most requests it ever had in flight at once.
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let target = {
        let (in_flight, most) = (in_flight.clone(), most.clone());
        axum::Router::new().fallback(move || {
            let (in_flight, most) = (in_flight.clone(), most.clone());
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                "ok"
            }
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target_url = format!("http://{}/hook", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, target).await });

    let mut ids = Vec::new();
    for n in 0..4 {
        let request_id = capture(
            &app,
            &capture_url,
            &[("Content-Type", "application/json")],
            format!("{{\"n\":{n}}}").as_bytes(),
        )
        .await;
        ids.push(
            replay(
                &app.url,
                &token,
                &request_id,
                json!({"target_url": target_url}),
            )
            .await,
        );
    }
    for id in &ids {
        let done = wait_finished(&app.url, &token, id).await;
        assert_eq!(done["status"], "succeeded", "{done}");
    }
    assert_eq!(
        most.load(Ordering::SeqCst),
        1,
        "the target never had more than one replay in flight"
    );
    server.abort();
}

// ---------------------------------------------------------------------------------------------
// Recovery and retries

#[tokio::test]
async fn replays_left_running_by_a_dead_worker_are_recovered_when_the_server_restarts() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("recover@example.com").await;
    let (endpoint_id, capture_url) = app.create_endpoint(&token, "recover").await;
    let request_id = capture(
        &app,
        &capture_url,
        &[("Content-Type", "application/json")],
        b"{\"n\":1}",
    )
    .await;
    let target = Target::ok().await;
    // Two jobs a crashed process was sending an hour ago: one may be tried again, one may not.
    let recovered_url = target.url("/recovered");
    let pool = &app.server.pool;
    let retryable = insert_running_replay(pool, &endpoint_id, &request_id, &recovered_url, 2).await;
    let exhausted = insert_running_replay(pool, &endpoint_id, &request_id, &recovered_url, 1).await;

    let options = (*app.server.pool.connect_options()).clone();
    let TestApp {
        server, data_dir, ..
    } = app;
    server.stop().await;
    let server = Server::start(crate::common::config(options, &data_dir.0))
        .await
        .unwrap();
    let base = server.public_url.clone();

    let done = wait_finished(&base, &token, &retryable.to_string()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["attempts_made"], 2);
    assert_eq!(
        done["attempts"][0]["error"],
        "interrupted: the server stopped while sending"
    );
    assert_eq!(done["attempts"][1]["status_code"], 200);
    let done = wait_finished(&base, &token, &exhausted.to_string()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        done["attempts"][0]["error"],
        "interrupted: the server stopped while sending"
    );
    assert_eq!(
        target.wait_for(1).await.len(),
        1,
        "only the retryable job was sent"
    );
    let running: i64 = sqlx::query_scalar("SELECT count(*) FROM replays WHERE status = 'running'")
        .fetch_one(&server.pool)
        .await
        .unwrap();
    assert_eq!(running, 0);
    server.stop().await;
}

#[tokio::test]
async fn a_job_whose_destination_is_busy_goes_back_to_the_queue_without_using_an_attempt() {
    // No workers: the test plays the worker.
    let app = TestApp::spawn_with(|c| c.replay_workers = 0).await;
    let token = app.signup_with_token("requeue@example.com").await;
    let (endpoint_id, capture_url) = app.create_endpoint(&token, "requeue").await;
    let request_id = capture(
        &app,
        &capture_url,
        &[("Content-Type", "application/json")],
        b"{}",
    )
    .await;
    let pool = &app.server.pool;
    // A job claimed (attempt 1) an hour ago whose destination turned out to be busy.
    let id = insert_running_replay(pool, &endpoint_id, &request_id, "http://127.0.0.1:9/", 3).await;

    assert!(
        replays::requeue_replay(pool, id.into(), 1, Duration::from_secs(60))
            .await
            .unwrap()
    );
    let (status, attempts, due_later): (String, i32, bool) = sqlx::query_as(
        "SELECT status, attempts_made, next_attempt_at > now() + interval '50 seconds'
         FROM replays WHERE id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), attempts, due_later),
        ("queued", 0, true),
        "queued again, no attempt used, due when the destination has room"
    );
    assert!(
        !replays::requeue_replay(pool, id.into(), 1, Duration::ZERO)
            .await
            .unwrap(),
        "a job that is no longer this claim's is left alone"
    );
}

#[tokio::test]
async fn a_crash_in_the_middle_of_a_bulk_run_charges_an_attempt_only_to_the_job_that_may_have_been_sent(
) {
    // No workers: the test plays a worker that claims a run of three jobs and dies.
    let app = TestApp::spawn_with(|c| c.replay_workers = 0).await;
    let token = app.signup_with_token("crashrun@example.com").await;
    let (endpoint_id, capture_url) = app.create_endpoint(&token, "crashrun").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let body = format!("{{\"n\":{n}}}");
        ids.push(
            capture(
                &app,
                &capture_url,
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            )
            .await,
        );
    }
    let (status, queued) = post(&app.url, &token, &format!("/api/v1/endpoints/{endpoint_id}/replays"), json!({
        "request_ids": ids, "order": "received", "target_url": "http://127.0.0.1:9/run", "signing": {"scheme": "none"},
    }))
    .await;
    assert_eq!(status, 202, "{queued}");
    let batch_id: uuid::Uuid = queued["batch_id"].as_str().unwrap().parse().unwrap();
    let pool = &app.server.pool;
    let claimed = replays::claim_replays(pool, 10, 10, 32, 1 << 20)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3, "one run of three jobs");
    sqlx::query("UPDATE replays SET locked_at = now() - interval '1 hour' WHERE batch_id = $1")
        .bind(batch_id)
        .execute(pool)
        .await
        .unwrap();

    let recovered = replays::recover_stale_replays(pool, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(recovered.len(), 3);
    let rows: Vec<(String, i32, i64)> = sqlx::query_as(
        "SELECT r.status, r.attempts_made,
                (SELECT count(*) FROM replay_attempts a WHERE a.replay_id = r.id)
         FROM replays r WHERE r.batch_id = $1 ORDER BY r.position",
    )
    .bind(batch_id)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        rows[0],
        ("failed".to_string(), 1, 1),
        "the first job may have been sent: its one attempt is recorded as interrupted"
    );
    for row in &rows[1..] {
        assert_eq!(
            row,
            &("queued".to_string(), 0, 0),
            "a job behind it was never sent: queued again, no attempt used"
        );
    }
}

/// Inserts a replay that a worker claimed (attempt 1) an hour ago and is still `running`;
/// returns its id.
async fn insert_running_replay(
    pool: &sqlx::PgPool,
    endpoint_id: &str,
    request_id: &str,
    target_url: &str,
    max_attempts: i32,
) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO replays (id, user_id, endpoint_id, request_id, target_url, scheme, status,
                attempts_made, max_attempts, locked_at)
         SELECT $1, e.user_id, e.id, $3, $4, 'none', 'running', 1, $5, now() - interval '1 hour'
         FROM endpoints e WHERE e.id = $2",
    )
    .bind(id)
    .bind(endpoint_id.parse::<uuid::Uuid>().unwrap())
    .bind(request_id.parse::<uuid::Uuid>().unwrap())
    .bind(target_url)
    .bind(max_attempts)
    .execute(pool)
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn a_saved_target_with_three_attempts_retries_until_the_target_answers_200() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("retry@example.com").await;
    let (endpoint_id, capture_url) = app.create_endpoint(&token, "retry").await;
    let request_id = capture(
        &app,
        &capture_url,
        &[("Content-Type", "application/json")],
        STRIPE_BODY.as_bytes(),
    )
    .await;
    let flaky = Target::spawn(|i| {
        if i < 2 {
            Reply::new(503, "busy")
        } else {
            Reply::new(200, "ok")
        }
    })
    .await;

    let (status, saved) = post(
        &app.url,
        &token,
        &format!("/api/v1/endpoints/{endpoint_id}/targets"),
        json!({
            "name": "dev server", "url": flaky.url("/hooks"), "max_attempts": 3,
            "signing": {"scheme": "stripe", "secret": STRIPE_SECRET},
        }),
    )
    .await;
    assert_eq!(status, 201, "{saved}");
    assert_eq!(
        saved["secret_hint"],
        hookvault_core::secretbox::mask(STRIPE_SECRET)
    );
    assert!(
        !saved.to_string().contains(STRIPE_SECRET),
        "the secret was returned"
    );
    let listed = get(
        &app.url,
        &token,
        &format!("/api/v1/endpoints/{endpoint_id}/targets"),
    )
    .await;
    assert_eq!(listed["targets"][0]["id"], saved["id"]);
    assert!(!listed.to_string().contains(STRIPE_SECRET));

    let id = replay(
        &app.url,
        &token,
        &request_id,
        json!({"target_id": saved["id"]}),
    )
    .await;
    let done = wait_finished(&app.url, &token, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let codes: Vec<&Value> = done["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(codes, [&json!(503), &json!(503), &json!(200)]);
    assert_eq!(done["target_id"], saved["id"]);
    let got = flaky.wait_for(3).await;
    for r in &got {
        let check = signing::verify(
            Scheme::Stripe,
            &r.raw_headers(),
            &r.body,
            STRIPE_SECRET,
            now(),
        );
        assert_eq!(check.status, SignatureStatus::Valid, "{}", check.reason);
    }

    let gone = reqwest::Client::new()
        .delete(format!(
            "{}/api/v1/targets/{}",
            app.url,
            saved["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let kept = get(&app.url, &token, &format!("/api/v1/replays/{id}")).await;
    assert_eq!(
        kept["status"], "succeeded",
        "the history outlives the saved target"
    );
    assert_eq!(kept["target_id"], Value::Null);
}

// ---------------------------------------------------------------------------------------------
// Bulk

#[tokio::test]
async fn a_bulk_replay_of_1000_captures_sends_each_once_in_capture_order() {
    const N: usize = 1000;
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("bulk@example.com").await;
    let (endpoint_id, capture_url) = app.create_endpoint(&token, "bulk").await;
    let target = Target::ok().await;
    let client = reqwest::Client::new();
    let mut ids = Vec::with_capacity(N);
    for n in 0..N {
        let r = client
            .post(&capture_url)
            .header("content-type", "application/json")
            .body(format!("{{\"n\":{n}}}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        ids.push(
            r.headers()["x-hookvault-request-id"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    // Listed newest first: the order of the list must not matter, only capture order.
    let listed: Vec<&String> = ids.iter().rev().collect();

    let started = Instant::now();
    let (status, queued) = post(&app.url, &token, &format!("/api/v1/endpoints/{endpoint_id}/replays"), json!({
        "request_ids": listed, "order": "received", "target_url": target.url("/bulk"), "signing": {"scheme": "none"},
    }))
    .await;
    assert_eq!(status, 202, "{queued}");
    let replays = queued["replays"].as_array().unwrap();
    assert_eq!(replays.len(), N);
    assert_eq!(replays[0]["request_id"], ids[0].as_str());
    let batch_id: uuid::Uuid = queued["batch_id"].as_str().unwrap().parse().unwrap();

    let got = target.wait_for(N).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let (attempts, succeeded) = loop {
        let (attempts, succeeded): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM replay_attempts a JOIN replays r ON r.id = a.replay_id WHERE r.batch_id = $1),
                    (SELECT count(*) FROM replays WHERE batch_id = $1 AND status = 'succeeded')",
        )
        .bind(batch_id)
        .fetch_one(&app.server.pool)
        .await
        .unwrap();
        if succeeded == N as i64 || Instant::now() > deadline {
            break (attempts, succeeded);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let elapsed = started.elapsed();
    println!(
        "bulk replay of {N} captures: {:.2} s ({:.0} replays/s)",
        elapsed.as_secs_f64(),
        N as f64 / elapsed.as_secs_f64()
    );
    assert_eq!((attempts, succeeded), (N as i64, N as i64));
    assert_eq!(target.received().len(), N, "a capture was sent twice");
    let order: Vec<u64> = got
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        order,
        (0..N as u64).collect::<Vec<_>>(),
        "not in capture order"
    );

    let first = get(
        &app.url,
        &token,
        &format!("/api/v1/endpoints/{endpoint_id}/replays?limit=10"),
    )
    .await;
    assert_eq!(first["replays"].as_array().map(Vec::len), Some(10));
    let next = first["next"].as_str().expect("a next cursor").to_string();
    let second = get(
        &app.url,
        &token,
        &format!("/api/v1/endpoints/{endpoint_id}/replays?limit=10&before={next}"),
    )
    .await;
    assert_eq!(second["replays"].as_array().map(Vec::len), Some(10));
    assert_ne!(first["replays"][9]["id"], second["replays"][0]["id"]);
}

#[tokio::test]
async fn bulk_order_created_follows_the_events_own_created_field_and_reversed_is_newest_first() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("order@example.com").await;
    let (endpoint_id, capture_url) = app.create_endpoint(&token, "order").await;
    let bodies: [&[u8]; 3] = [
        br#"{"id":"evt_a","created":300}"#,
        br#"{"id":"evt_b","created":100}"#,
        b"not json",
    ];
    let mut ids = Vec::new();
    for body in bodies {
        ids.push(
            capture(
                &app,
                &capture_url,
                &[("Content-Type", "application/json")],
                body,
            )
            .await,
        );
    }
    let target = Target::ok().await;
    let mut seen = 0;
    for (order, expected) in [("created", [1, 0, 2]), ("reversed", [2, 1, 0])] {
        let (status, queued) = post(
            &app.url,
            &token,
            &format!("/api/v1/endpoints/{endpoint_id}/replays"),
            json!({
                "request_ids": ids, "order": order, "target_url": target.url("/"),
            }),
        )
        .await;
        assert_eq!(status, 202, "{queued}");
        seen += 3;
        let got = target.wait_for(seen).await;
        let bodies_seen: Vec<&[u8]> = got[seen - 3..].iter().map(|r| r.body.as_slice()).collect();
        let wanted: Vec<&[u8]> = expected.iter().map(|&i| bodies[i]).collect();
        assert_eq!(bodies_seen, wanted, "order {order}");
    }
}

// ---------------------------------------------------------------------------------------------
// Isolation

#[tokio::test]
async fn another_account_gets_404_for_replays_requests_endpoints_and_targets() {
    let app = TestApp::spawn().await;
    let alice = app.signup_with_token("alice@example.com").await;
    let (endpoint_id, capture_url) = app.create_endpoint(&alice, "alice").await;
    let request_id = capture(
        &app,
        &capture_url,
        &[("Content-Type", "application/json")],
        b"{}",
    )
    .await;
    let target = Target::ok().await;
    let replay_id = replay(
        &app.url,
        &alice,
        &request_id,
        json!({"target_url": target.url("/")}),
    )
    .await;
    let (_, saved) = post(
        &app.url,
        &alice,
        &format!("/api/v1/endpoints/{endpoint_id}/targets"),
        json!({"url": target.url("/saved")}),
    )
    .await;
    let target_id = saved["id"].as_str().unwrap().to_string();

    let mallory = app.signup_with_token("mallory@example.com").await;
    let (own_endpoint, own_capture) = app.create_endpoint(&mallory, "mallory").await;
    let own_request = capture(&app, &own_capture, &[("Content-Type", "text/plain")], b"x").await;
    let to_target = json!({"target_url": target.url("/")});
    let checks: Vec<(u16, Value)> = vec![
        get_status(&app.url, &mallory, &format!("/api/v1/replays/{replay_id}")).await,
        get_status(
            &app.url,
            &mallory,
            &format!("/api/v1/requests/{request_id}/replays"),
        )
        .await,
        get_status(
            &app.url,
            &mallory,
            &format!("/api/v1/endpoints/{endpoint_id}/replays"),
        )
        .await,
        get_status(
            &app.url,
            &mallory,
            &format!("/api/v1/endpoints/{endpoint_id}/targets"),
        )
        .await,
        post(
            &app.url,
            &mallory,
            &format!("/api/v1/requests/{request_id}/replays"),
            to_target.clone(),
        )
        .await,
        post(
            &app.url,
            &mallory,
            &format!("/api/v1/endpoints/{endpoint_id}/replays"),
            json!({"request_ids": [request_id], "target_url": target.url("/")}),
        )
        .await,
        post(
            &app.url,
            &mallory,
            &format!("/api/v1/endpoints/{endpoint_id}/targets"),
            to_target.clone(),
        )
        .await,
        post(
            &app.url,
            &mallory,
            &format!("/api/v1/requests/{own_request}/replays"),
            json!({"target_id": target_id}),
        )
        .await,
    ];
    for (i, (status, body)) in checks.iter().enumerate() {
        assert_eq!(*status, 404, "check {i}: {body}");
    }
    // Someone else's capture in one's own bulk replay is simply not one's capture.
    let (status, body) = post(
        &app.url,
        &mallory,
        &format!("/api/v1/endpoints/{own_endpoint}/replays"),
        json!({"request_ids": [request_id], "target_url": target.url("/")}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let gone = reqwest::Client::new()
        .delete(format!("{}/api/v1/targets/{target_id}", app.url))
        .bearer_auth(&mallory)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(
        get(
            &app.url,
            &alice,
            &format!("/api/v1/endpoints/{endpoint_id}/targets")
        )
        .await["targets"][0]["id"],
        target_id.as_str()
    );
    assert_eq!(
        wait_finished(&app.url, &alice, &replay_id).await["status"],
        "succeeded"
    );
    assert_eq!(
        target.wait_for(1).await.len(),
        1,
        "only alice's replay reached the target"
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Captures `body` with exactly these headers (raw HTTP/1.1, so names and values are sent
/// as written) and returns the request id.
async fn capture(
    app: &TestApp,
    capture_url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> String {
    let path = capture_url
        .strip_prefix(&app.url)
        .expect("capture URL on this server");
    let mut bytes = format!(
        "POST {path}/webhooks?via=test HTTP/1.1\r\nHost: {}\r\n",
        app.server.addr
    )
    .into_bytes();
    for (name, value) in headers {
        bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    bytes.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    bytes.extend_from_slice(body);
    let mut stream = tokio::net::TcpStream::connect(app.server.addr)
        .await
        .unwrap();
    stream.write_all(&bytes).await.unwrap();
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(DEADLINE, stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the capture connection closed early");
        head.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "capture answered {head}");
    head.lines()
        .find_map(|l| {
            l.strip_prefix("x-hookvault-request-id: ")
                .or_else(|| l.strip_prefix("X-Hookvault-Request-Id: "))
        })
        .expect("X-Hookvault-Request-Id")
        .trim()
        .to_string()
}

/// Captures `captured` at a fresh endpoint, replays it with `scheme`/`secret` to a local
/// target and returns what arrived there.
async fn replay_signed(
    captured: &[(&str, String)],
    body: &[u8],
    scheme: &str,
    secret: &str,
) -> Received {
    let app = TestApp::spawn().await;
    let token = app
        .signup_with_token(&format!("{scheme}@example.com"))
        .await;
    let (_, capture_url) = app.create_endpoint(&token, scheme).await;
    let headers: Vec<(&str, &str)> = captured.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let request_id = capture(&app, &capture_url, &headers, body).await;
    let target = Target::ok().await;
    let id = replay(
        &app.url,
        &token,
        &request_id,
        json!({"target_url": target.url("/hook"), "signing": {"scheme": scheme, "secret": secret}}),
    )
    .await;
    let done = wait_finished(&app.url, &token, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let got = target.single();
    assert_eq!(got.body, body);
    got
}

pub(crate) async fn post(base: &str, token: &str, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get_status(base: &str, token: &str, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(base: &str, token: &str, path: &str) -> Value {
    let (status, body) = get_status(base, token, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// Queues a replay of one capture; returns its id.
pub(crate) async fn replay(base: &str, token: &str, request_id: &str, body: Value) -> String {
    let (status, answer) = post(
        base,
        token,
        &format!("/api/v1/requests/{request_id}/replays"),
        body,
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["status"], "queued");
    answer["id"].as_str().unwrap().to_string()
}

/// Polls the replay until it is `succeeded` or `failed`.
pub(crate) async fn wait_finished(base: &str, token: &str, id: &str) -> Value {
    wait_for(&format!("replay {id} to finish"), DEADLINE, async || {
        let v = get(base, token, &format!("/api/v1/replays/{id}")).await;
        if v["status"] == "succeeded" || v["status"] == "failed" {
            Ok(v)
        } else {
            Err(v)
        }
    })
    .await
}

/// One request as the target received it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    method: String,
    uri: String,
    headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
}

impl Received {
    fn all(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.all(name).into_iter().next()
    }

    pub(crate) fn raw_headers(&self) -> Vec<RawHeader> {
        self.headers
            .iter()
            .map(|(n, v)| RawHeader::new(n.as_str(), v.clone()))
            .collect()
    }
}

/// What the target answers to its n-th request.
#[derive(Clone)]
pub(crate) struct Reply {
    status: u16,
    body: &'static str,
    delay: Duration,
}

impl Reply {
    pub(crate) fn new(status: u16, body: &'static str) -> Self {
        Reply {
            status,
            body,
            delay: Duration::ZERO,
        }
    }

    pub(crate) fn after(self, delay: Duration) -> Self {
        Reply { delay, ..self }
    }
}

type Behaviour = Arc<dyn Fn(usize) -> Reply + Send + Sync>;
type Log = Arc<Mutex<Vec<Received>>>;

/// A local HTTP server that records every request and counts every TCP connection and the
/// most requests it had in flight at once.
pub(crate) struct Target {
    addr: SocketAddr,
    log: Log,
    connections: Arc<AtomicUsize>,
    flight: Arc<Flight>,
    task: tokio::task::JoinHandle<()>,
}

/// Requests in flight now, and the most ever.
#[derive(Default)]
struct Flight {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Drop for Target {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Target {
    pub(crate) async fn ok() -> Target {
        Target::spawn(|_| Reply::new(200, "{\"received\":true}")).await
    }

    pub(crate) async fn spawn(
        behaviour: impl Fn(usize) -> Reply + Send + Sync + 'static,
    ) -> Target {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log: Log = Arc::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let listener = listener.tap_io(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let flight = Arc::new(Flight::default());
        let app = axum::Router::new().fallback(record).with_state((
            log.clone(),
            Arc::new(behaviour) as Behaviour,
            flight.clone(),
        ));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Target {
            addr,
            log,
            connections,
            flight,
            task,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The most requests the target had in flight at once.
    pub(crate) fn most_in_flight(&self) -> usize {
        self.flight.most.load(Ordering::SeqCst)
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    fn single(&self) -> Received {
        let got = self.received();
        assert_eq!(got.len(), 1, "the target got {} requests", got.len());
        got[0].clone()
    }

    /// Waits until at least `n` requests arrived; returns them all.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Received> {
        let what = format!("{n} requests at the target");
        wait_for(&what, Duration::from_secs(120), async || {
            let got = self.received();
            match got.len() >= n {
                true => Ok(got),
                false => Err(format!("{} of {n}", got.len())),
            }
        })
        .await
    }
}

async fn record(
    State((log, behaviour, flight)): State<(Log, Behaviour, Arc<Flight>)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let index = {
        let mut log = log.lock().unwrap();
        log.push(Received {
            method: method.to_string(),
            uri: uri.to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
                .collect(),
            body: body.to_vec(),
        });
        log.len() - 1
    };
    let reply = behaviour(index);
    let now = flight.now.fetch_add(1, Ordering::SeqCst) + 1;
    flight.most.fetch_max(now, Ordering::SeqCst);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    flight.now.fetch_sub(1, Ordering::SeqCst);
    (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response()
}
