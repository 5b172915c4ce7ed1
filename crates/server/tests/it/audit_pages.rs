//! The audit from the dashboard ("Audit a handler" on a capture's page, in real Chromium) and
//! through the API: probes built from a stored capture, sent through the server's guarded
//! client to a real handler, the report stored and shown.

use std::time::Duration;

use fantoccini::Locator;
use hookvault_core::audit::{Outcome, Report};
use serde_json::{json, Value};

use crate::browser::{
    at_path, button, eventually, input_labelled, text_of, BrowserTools, ChromeDriver,
};
use crate::common::browser::PASSWORD;
use crate::common::official::{OfficialReceiver, STRIPE_SECRET};
use crate::common::wait::wait_for;
use crate::common::TestApp;

/// How long one browser step may take (the same bound `eventually!` uses).
const STEP: Duration = Duration::from_secs(20);

/// Captures a Stripe event (signed a while ago with Stripe's own secret) on a new endpoint of
/// the account; returns the capture's id and the event id.
async fn capture_stripe_event(app: &TestApp, token: &str) -> (String, String) {
    let (_, capture_url) = app.create_endpoint(token, "stripe").await;
    let event_id = format!("evt_dashboard_{}", uuid::Uuid::new_v4().simple());
    let body = format!(
        "{{\n  \"id\": \"{event_id}\",\n  \"object\": \"event\",\n  \"created\": 1764500000,\n  \"data\": {{\n    \"object\": {{\n      \"id\": \"in_1\",\n      \"object\": \"invoice\",\n      \"amount_paid\": 2000\n    }}\n  }},\n  \"type\": \"invoice.paid\"\n}}"
    );
    let header = hookvault_core::signing::stripe_header(
        "whsec_stripes_own_secret",
        1_764_500_000,
        body.as_bytes(),
    );
    let r = reqwest::Client::new()
        .post(&capture_url)
        .header("Content-Type", "application/json")
        .header("Stripe-Signature", header)
        .body(body)
        .send()
        .await
        .expect("capture");
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-hookvault-request-id"]
        .to_str()
        .expect("id")
        .to_owned();
    (id, event_id)
}

/// Polls the API until the audit is no longer running.
async fn finished_audit(app: &TestApp, token: &str, id: &str) -> Value {
    wait_for("the audit to finish", Duration::from_secs(60), async || {
        let v = app.api_json(token, &format!("/api/v1/audits/{id}")).await;
        match v["status"] != "running" {
            true => Ok(v),
            false => Err(v),
        }
    })
    .await
}

#[tokio::test]
async fn the_api_audits_a_capture_through_the_guarded_client_and_stores_the_report() {
    let Some(receiver) = OfficialReceiver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let (_, token) = app.account("api-audit@example.com").await;
    let (request_id, event_id) = capture_stripe_event(&app, &token).await;
    let start = json!({
        "target_url": format!("{}/audit/stripe", receiver.base),
        "signing": {"scheme": "stripe", "secret": STRIPE_SECRET},
    });
    let path = format!("/api/v1/requests/{request_id}/audits");
    let r = app
        .api(reqwest::Method::POST, &token, &path)
        .json(&start)
        .send()
        .await
        .expect("POST audits");
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let created: Value = r.json().await.expect("json");
    assert_eq!(created["status"], "running");
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(location, format!("/api/v1/audits/{id}"));

    // One audit at a time per account (probes take two seconds at least).
    let again = app
        .api(reqwest::Method::POST, &token, &path)
        .json(&start)
        .send()
        .await
        .expect("POST audits");
    assert_eq!(again.status(), 429);

    let audit = finished_audit(&app, &token, &id).await;
    assert_eq!(audit["status"], "passed", "{audit}");
    assert_eq!(audit["request_id"], request_id.as_str());
    let report: Report = serde_json::from_value(audit["report"].clone()).expect("a report");
    assert!(report.passed);
    assert_eq!(report.requests, 9);
    assert!(report.probes.iter().all(|p| p.outcome == Outcome::Pass));
    assert_eq!(report.event.source, "capture");
    assert_eq!(report.event.event_id.as_deref(), Some(event_id.as_str()));
    assert!(receiver.received_audit_ids().await.contains(&event_id));

    let list = app.api_json(&token, &path).await;
    assert_eq!(list["audits"][0]["id"], id.as_str());
    // The secret is used in memory only.
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audits WHERE target_url LIKE '%' || $1 || '%'
            OR report::text LIKE '%' || $1 || '%' OR coalesce(error, '') LIKE '%' || $1 || '%'",
    )
    .bind(STRIPE_SECRET)
    .fetch_one(&app.server.pool)
    .await
    .expect("query");
    assert_eq!(stored, 0);
    assert!(!audit.to_string().contains(STRIPE_SECRET));

    // Another account sees nothing of it.
    let (_, other) = app.account("someone-else@example.com").await;
    assert_eq!(
        app.api_get(&other, &format!("/api/v1/audits/{id}"))
            .await
            .status(),
        404
    );
    let theirs = app
        .api(reqwest::Method::POST, &other, &path)
        .json(&start)
        .send()
        .await
        .expect("POST");
    assert_eq!(theirs.status(), 404);
}

#[tokio::test]
async fn a_hosted_server_audits_public_targets_only() {
    let app = TestApp::spawn_with(|c| {
        c.private_targets = Some(hookvault_replay::guard::PrivateTargets::Deny);
    })
    .await;
    let (_, token) = app.account("hosted-audit@example.com").await;
    let (request_id, _) = capture_stripe_event(&app, &token).await;
    let path = format!("/api/v1/requests/{request_id}/audits");
    for (url, scheme, why) in [
        (
            "http://127.0.0.1:8000/webhooks",
            "stripe",
            "refused: private address 127.0.0.1",
        ),
        (
            "http://169.254.169.254/latest",
            "stripe",
            "refused: link-local address 169.254.169.254",
        ),
        (
            "https://example.com/webhooks",
            "none",
            "an audit needs a signing scheme",
        ),
    ] {
        let r = app
            .api(reqwest::Method::POST, &token, &path)
            .json(
                &json!({"target_url": url, "signing": {"scheme": scheme, "secret": STRIPE_SECRET}}),
            )
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 422, "{url}");
        let v: Value = r.json().await.expect("json");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{url}: {message}");
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM audits")
        .fetch_one(&app.server.pool)
        .await
        .expect("count");
    assert_eq!(stored, 0, "a refused audit stores nothing");
}

#[tokio::test]
async fn a_user_audits_a_handler_from_a_captures_page_and_reads_the_scorecard() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let Some(receiver) = OfficialReceiver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let email = "dashboard-audit@example.com";
    let (_, token) = app.account(email).await;
    let (request_id, _) = capture_stripe_event(&app, &token).await;
    let mut driver = ChromeDriver::start(&tools).await;
    let c = driver.connect(&tools).await;

    c.goto(&app.at("/login")).await.expect("open /login");
    let field = eventually!("the login form", input_labelled(&c, "Email", "email").await);
    field.send_keys(email).await.expect("type email");
    input_labelled(&c, "Password", "password")
        .await
        .expect("Password field")
        .send_keys(PASSWORD)
        .await
        .expect("type password");
    button(&c, "Log in").await.click().await.expect("log in");
    eventually!("the endpoint list", at_path(&c, |p| p == "/").await);

    // From the capture's page to the audit form.
    c.goto(&app.at(&format!("/requests/{request_id}")))
        .await
        .expect("open the capture");
    let link = eventually!("the audit link", {
        match c
            .find(Locator::XPath("//a[normalize-space(.)='Audit a handler']"))
            .await
        {
            Ok(l) => Ok(l),
            Err(e) => Err(e.to_string()),
        }
    });
    link.click().await.expect("click Audit a handler");
    let form_path = format!("/requests/{request_id}/audit");
    eventually!("the audit form", at_path(&c, |p| p == form_path).await);
    let handler = format!("{}/audit/stripe?mode=skip-verification", receiver.base);
    input_labelled(&c, "Handler URL", "target_url")
        .await
        .expect("Handler URL field")
        .send_keys(&handler)
        .await
        .expect("type the URL");
    input_labelled(
        &c,
        "Signing secret your handler verifies with (used for this audit only, never stored)",
        "secret",
    )
    .await
    .expect("secret field")
    .send_keys(STRIPE_SECRET)
    .await
    .expect("type the secret");
    let scheme = c.find(Locator::Id("scheme")).await.expect("scheme select");
    scheme
        .select_by_value("stripe")
        .await
        .expect("choose stripe");
    button(&c, "Audit").await.click().await.expect("start");

    // The audit's page reloads itself until the scorecard is there.
    let audit_path = eventually!(
        "the audit page",
        at_path(&c, |p| p.starts_with("/audits/")).await
    );
    let status = wait_for("the audit page to finish", STEP, async || {
        let s = text_of(&c, "#audit-status").await.unwrap_or_default();
        match s != "running" && !s.is_empty() {
            true => Ok(s),
            false => Err(s),
        }
    })
    .await;
    assert_eq!(status, "failed");
    assert_eq!(
        c.current_url().await.expect("url").path(),
        audit_path,
        "same audit page, reloaded"
    );
    let mut outcomes = Vec::new();
    for n in 1..=9 {
        let css = format!("#scorecard tr[data-probe='{n}']");
        let row = c.find(Locator::Css(&css)).await.expect("probe row");
        outcomes.push(
            row.attr("data-outcome")
                .await
                .expect("attr")
                .unwrap_or_default(),
        );
    }
    assert_eq!(
        outcomes,
        ["pass", "fail", "fail", "fail", "fail", "pass", "pass", "pass", "pass"]
    );
    let card = text_of(&c, "#scorecard").await.expect("scorecard text");
    assert!(
        card.contains("Anyone who learns this URL can post forged events"),
        "{card}"
    );
    assert!(card.contains("no signature header"), "{card}");
    let verdict = text_of(&c, "#audit-verdict").await.expect("verdict");
    assert!(
        verdict.contains("FAILED: must-pass probes 2, 3, 4, 5 failed."),
        "{verdict}"
    );
    assert_eq!(text_of(&c, "#audit-target").await.expect("target"), handler);
    let html = c.source().await.expect("page source");
    assert!(!html.contains(STRIPE_SECRET), "the secret is never shown");

    // The capture's audit list shows it.
    c.goto(&app.at(&form_path)).await.expect("back to the form");
    let history = eventually!("the audit history", text_of(&c, "#audit-history").await);
    assert!(
        history.contains("failed") && history.contains(&handler),
        "{history}"
    );

    driver.close(c).await;
}
