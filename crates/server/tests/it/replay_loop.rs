//! The everyday replay loop in a real browser (headless Chromium, see `browser.rs`) against the
//! official Stripe verifier (`stripe.Webhook.construct_event`, see `common/official.rs`): the
//! replay form defaults to the detected provider's scheme, the last target is remembered per
//! endpoint (its secret sealed), "Replay to …" sends there in one click, "Replay to my dev
//! server" sends through a connected `hookvault listen --sign` in one click, and "Copy as curl"
//! gives a command signed now that the verifier accepts.

use crate::browser::{at_path, button, eventually, text_of, BrowserTools, ChromeDriver};
use crate::common::official::{OfficialReceiver, STRIPE_SECRET};
use crate::common::TestApp;
use crate::inspector::log_in;
use fantoccini::{Client, Locator};

/// Captures a Stripe event signed a day ago with Stripe's own secret (so only a re-signed
/// replay can pass the dev server's verifier); returns the capture's id and the event id.
pub(crate) async fn capture_stale_stripe_event(url: &str, n: u32) -> (String, String) {
    let event_id = format!("evt_loop_{n}_{}", uuid::Uuid::new_v4().simple());
    let body = format!(
        "{{\n  \"id\": \"{event_id}\",\n  \"object\": \"event\",\n  \"type\": \"checkout.session.completed\",\n  \"data\": {{\n    \"object\": {{\n      \"id\": \"cs_{n}\",\n      \"object\": \"checkout.session\"\n    }}\n  }}\n}}"
    );
    let day_ago = time::OffsetDateTime::now_utc().unix_timestamp() - 86_400;
    let sig = hookvault_core::signing::stripe_header("whsec_stripes_own", day_ago, body.as_bytes());
    let r = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Stripe-Signature", sig)
        .body(body)
        .send()
        .await
        .expect("capture");
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-hookvault-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    (id, event_id)
}

/// The replay history once a replay finished, as text.
pub(crate) async fn finished_history(c: &Client) -> String {
    eventually!("a finished replay in the history", {
        match text_of(
            c,
            "#replay-history td.replay-succeeded, #replay-history td.replay-failed",
        )
        .await
        {
            Ok(_) => text_of(c, "#replay-history").await,
            Err(e) => Err(e),
        }
    })
}

async fn value_of(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
}

#[tokio::test]
async fn the_default_replay_and_the_one_click_replay_to_the_last_target_pass_the_official_stripe_verifier(
) {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let Some(rx) = OfficialReceiver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let (_, token) = app.account("loop@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "Stripe").await;
    let (first, first_event) = capture_stale_stripe_event(&url, 1).await;
    let dev_server = format!("{}/webhooks/stripe", rx.base);

    let mut driver = ChromeDriver::start(&tools).await;
    let c = driver.connect(&tools).await;
    log_in(&c, &app, "loop@example.com").await;

    // First replay: the scheme is already Stripe (detected); only the URL and the dev server's
    // secret are typed.
    c.goto(&app.at(&format!("/requests/{first}/replay")))
        .await
        .expect("open the replay page");
    eventually!("the replay form", text_of(&c, "#replay-form").await);
    assert_eq!(
        value_of(&c, "scheme").await,
        "stripe",
        "the detected scheme"
    );
    assert!(
        c.find_all(Locator::Id("replay-last"))
            .await
            .expect("find")
            .is_empty(),
        "nothing is remembered yet"
    );
    c.find(Locator::Id("target_url"))
        .await
        .expect("URL field")
        .send_keys(&dev_server)
        .await
        .expect("type URL");
    c.find(Locator::Id("secret"))
        .await
        .expect("secret field")
        .send_keys(STRIPE_SECRET)
        .await
        .expect("type secret");
    button(&c, "Replay").await.click().await.expect("Replay");
    let history = finished_history(&c).await;
    assert!(
        history.contains("\"ok\":true") && history.contains(&first_event),
        "construct_event accepted the default replay: {history}"
    );

    // A second event, opened in the inspector: one click on "Replay to …" sends it to the same
    // URL, signed with the remembered secret.
    let (second, second_event) = capture_stale_stripe_event(&url, 2).await;
    c.goto(&app.at(&format!("/endpoints/{endpoint}?r={second}")))
        .await
        .expect("open the endpoint");
    let label = eventually!(
        "the one-click button",
        text_of(&c, "#detail button.replay-last").await
    );
    assert_eq!(label, format!("Replay to {dev_server} (Stripe)"));
    c.find(Locator::Css("#detail button.replay-last"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click Replay to …");
    eventually!(
        "the replay page",
        at_path(&c, |p| p == format!("/requests/{second}/replay")).await
    );
    let history = finished_history(&c).await;
    assert!(
        history.contains("\"ok\":true") && history.contains(&second_event),
        "construct_event accepted the one-click replay: {history}"
    );

    // The form is pre-filled with the last target; its secret is remembered, never shown.
    assert_eq!(value_of(&c, "target_url").await, dev_server);
    assert_eq!(value_of(&c, "secret").await, "");
    text_of(&c, "#secret-remembered")
        .await
        .expect("the remembered-secret note");
    let page = c.source().await.expect("source");
    assert!(!page.contains(STRIPE_SECRET), "the secret is never shown");
    // Stored sealed: the row holds ciphertext, never the secret's bytes.
    let sealed: Vec<u8> = sqlx::query_scalar(
        "SELECT secret_sealed FROM endpoint_last_targets WHERE endpoint_id = $1::uuid",
    )
    .bind(&endpoint)
    .fetch_one(&app.server.pool)
    .await
    .expect("the remembered target");
    assert!(
        sealed.len() > STRIPE_SECRET.len(),
        "a sealed secret (nonce, ciphertext, tag): {} bytes",
        sealed.len()
    );
    assert!(
        !sealed
            .windows(STRIPE_SECRET.len())
            .any(|w| w == STRIPE_SECRET.as_bytes()),
        "the plaintext secret is not in the stored row"
    );
    assert!(
        !sealed
            .windows(24)
            .any(|w| STRIPE_SECRET.as_bytes().windows(24).any(|p| p == w)),
        "no part of the plaintext secret is in the stored row"
    );

    // "Copy as curl" with the pre-filled form: a command signed now, which the verifier accepts.
    button(&c, "Copy as curl")
        .await
        .click()
        .await
        .expect("Copy as curl");
    let curl = eventually!(
        "the signed command",
        text_of(&c, "#signed-curl-command").await
    );
    assert!(curl.contains("Stripe-Signature: t="), "{curl}");
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!("{curl} --silent --show-error"))
        .output()
        .await
        .expect("run curl");
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(
        answer.contains("\"ok\":true") && answer.contains(&second_event),
        "construct_event accepted the copied command: {answer} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    driver.close(c).await;
}

#[tokio::test]
async fn an_edited_capture_is_kept_beside_the_original_and_its_replay_passes_the_official_stripe_verifier(
) {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let Some(rx) = OfficialReceiver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let (_, token) = app.account("edit@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "Stripe").await;
    let (original, event_id) = capture_stale_stripe_event(&url, 7).await;
    let original_before = app
        .api_json(&token, &format!("/api/v1/requests/{original}"))
        .await;
    let dev_server = format!("{}/webhooks/stripe", rx.base);

    let mut driver = ChromeDriver::start(&tools).await;
    let c = driver.connect(&tools).await;
    log_in(&c, &app, "edit@example.com").await;
    c.goto(&app.at(&format!("/endpoints/{endpoint}?r={original}")))
        .await
        .expect("open the endpoint");
    eventually!("the pane", text_of(&c, "#detail #edit-link").await);
    c.find(Locator::Css("#detail #edit-link"))
        .await
        .expect("Edit and replay")
        .click()
        .await
        .expect("click Edit and replay");
    eventually!(
        "the edit page",
        at_path(&c, |p| p == format!("/requests/{original}/edit")).await
    );
    assert_eq!(
        value_of(&c, "scheme").await,
        "stripe",
        "the detected scheme"
    );
    c.execute("window.__hvSameDocument = true", vec![])
        .await
        .expect("mark document");

    // Broken JSON is caught in the page, next to the body, and not sent.
    let body = c.find(Locator::Id("edit-body")).await.expect("body field");
    body.clear().await.expect("clear");
    body.send_keys("{\"id\": \"evt_broken\",")
        .await
        .expect("type");
    c.find(Locator::Id("target_url"))
        .await
        .expect("URL field")
        .send_keys(&dev_server)
        .await
        .expect("type URL");
    c.find(Locator::Id("secret"))
        .await
        .expect("secret field")
        .send_keys(STRIPE_SECRET)
        .await
        .expect("type secret");
    button(&c, "Send edited copy")
        .await
        .click()
        .await
        .expect("send");
    let error = eventually!(
        "the JSON error next to the body",
        text_of(&c, "#body-error")
            .await
            .and_then(|t| if t.contains("not valid JSON") {
                Ok(t)
            } else {
                Err(t)
            })
    );
    assert!(error.contains("not valid JSON"), "{error}");
    assert_eq!(
        c.execute("return window.__hvSameDocument === true", vec![])
            .await
            .expect("check document"),
        serde_json::json!(true),
        "the broken body was not sent"
    );

    // The fixed body is sent, re-signed, and accepted.
    let edited = format!(
        "{{\"id\": \"{event_id}\", \"object\": \"event\", \"type\": \"checkout.session.completed\", \"data\": {{\"object\": {{\"id\": \"cs_edited\", \"object\": \"checkout.session\", \"amount_total\": 4200}}}}}}"
    );
    body.clear().await.expect("clear");
    body.send_keys(&edited).await.expect("type the edit");
    button(&c, "Send edited copy")
        .await
        .click()
        .await
        .expect("send");
    let copy = eventually!(
        "the copy's replay page",
        at_path(&c, |p| p.starts_with("/requests/")
            && p.ends_with("/replay")
            && !p.contains(&original))
        .await
    );
    let copy = copy
        .trim_start_matches("/requests/")
        .trim_end_matches("/replay")
        .to_string();
    let history = finished_history(&c).await;
    assert!(
        history.contains("\"ok\":true") && history.contains(&event_id),
        "construct_event accepted the edited copy: {history}"
    );
    let received = rx.received().await;
    assert_eq!(
        received
            .last()
            .map(|b| String::from_utf8_lossy(b).into_owned()),
        Some(edited.clone()),
        "the dev server got the edited bytes"
    );

    // The copy is stored beside the original and marked; the original is unchanged.
    let original_after = app
        .api_json(&token, &format!("/api/v1/requests/{original}"))
        .await;
    assert_eq!(
        original_before, original_after,
        "the original never changes"
    );
    assert_eq!(original_after["edited_from"], serde_json::Value::Null);
    let copy_json = app
        .api_json(&token, &format!("/api/v1/requests/{copy}"))
        .await;
    assert_eq!(
        copy_json["edited_from"], original,
        "the API names the copy's original"
    );
    let list = app
        .api_json(&token, &format!("/api/v1/endpoints/{endpoint}/requests"))
        .await;
    let edited_from: Vec<(String, serde_json::Value)> = list["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or_default().to_owned(),
                r["edited_from"].clone(),
            )
        })
        .collect();
    assert!(
        edited_from.contains(&(copy.clone(), serde_json::json!(original)))
            && edited_from.contains(&(original.clone(), serde_json::Value::Null)),
        "the list says which capture is a copy of which: {edited_from:?}"
    );
    c.goto(&app.at(&format!("/endpoints/{endpoint}")))
        .await
        .expect("open the endpoint");
    let row = eventually!(
        "the copy's row",
        text_of(&c, &format!("#requests tr[data-id='{copy}']")).await
    );
    assert!(row.contains("edited"), "the copy's row is marked: {row}");
    let row = text_of(&c, &format!("#requests tr[data-id='{original}']"))
        .await
        .expect("the original's row");
    assert!(!row.contains("edited"), "the original is not marked: {row}");
    c.goto(&app.at(&format!("/requests/{copy}")))
        .await
        .expect("open the copy");
    let note = eventually!("the edited note", text_of(&c, "#edited-from").await);
    assert!(note.contains(&original), "{note}");
    driver.close(c).await;
}

#[tokio::test]
async fn an_edit_whose_json_body_is_broken_is_refused_by_the_server_with_the_input_kept_and_nothing_stored(
) {
    let app = TestApp::spawn().await;
    let (browser, token) = app.account("edit-server@example.com").await;
    let (_, url) = app.create_endpoint(&token, "edits").await;
    let (id, _) = capture_stale_stripe_event(&url, 3).await;
    let before = app.stored_requests().await;
    let page = format!("/requests/{id}/edit");
    let r = browser
        .post_form(
            &page,
            &page,
            &[
                ("headers", "Content-Type: application/json"),
                ("body", "{\"half\": <b>"),
                ("mode", "url"),
                ("target_url", "http://127.0.0.1:9/hook"),
                ("scheme", "none"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.expect("page");
    assert!(
        html.contains(
            "id=\"body-error\" role=\"alert\">The body is not valid JSON (line 1, column 10)"
        ),
        "the reason is next to the body: {html}"
    );
    let normalized = html
        .replace("&#34;", "&quot;")
        .replace("&#60;", "&lt;")
        .replace("&#62;", "&gt;");
    assert!(
        normalized.contains("{&quot;half&quot;: &lt;b&gt;</textarea>"),
        "the typed body is kept (escaped): {html}"
    );
    assert!(
        html.contains("value=\"http://127.0.0.1:9/hook\""),
        "the target is kept"
    );
    assert_eq!(app.stored_requests().await, before, "nothing is stored");

    // A header line without a colon is refused next to the headers.
    let r = browser
        .post_form(
            &page,
            &page,
            &[
                ("headers", "Content-Type application/json"),
                ("body", "{}"),
                ("mode", "url"),
                ("target_url", "http://127.0.0.1:9/hook"),
                ("scheme", "none"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.expect("page");
    assert!(
        html.contains("id=\"headers-error\" role=\"alert\">Header line"),
        "{html}"
    );
    assert_eq!(app.stored_requests().await, before, "nothing is stored");
}

#[tokio::test]
async fn while_hookvault_listen_is_connected_one_click_replays_to_the_dev_server_and_the_official_stripe_verifier_accepts_it(
) {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let Some(rx) = OfficialReceiver::start().await else {
        return;
    };
    const SENDER_SECRET: &str = "whsec_stripes_own_for_this_endpoint";
    let app = TestApp::spawn().await;
    let (b, token) = app.account("devserver@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "Stripe dev").await;
    // The endpoint checks Stripe's signature, so `listen --sign` re-signs what was valid.
    let r = app
        .api(
            reqwest::Method::PATCH,
            &token,
            &format!("/api/v1/endpoints/{endpoint}"),
        )
        .json(&serde_json::json!({"signing": {"scheme": "stripe", "secret": SENDER_SECRET}}))
        .send()
        .await
        .expect("set the signature check");
    assert_eq!(r.status(), 200);
    let event_id = format!("evt_dev_{}", uuid::Uuid::new_v4().simple());
    let body = format!(
        "{{\"id\":\"{event_id}\",\"object\":\"event\",\"type\":\"invoice.paid\",\"data\":{{\"object\":{{\"id\":\"in_1\",\"object\":\"invoice\"}}}}}}"
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let sig = hookvault_core::signing::stripe_header(SENDER_SECRET, now, body.as_bytes());
    let id = crate::inspector::send(
        &url,
        &[
            ("Content-Type", "application/json"),
            ("Stripe-Signature", &sig),
        ],
        &body,
    )
    .await;

    // Nothing connected: no dev-server button.
    assert!(!b
        .get_html(&format!("/requests/{id}/pane"))
        .await
        .contains("replay-dev-server"));

    // `hookvault listen --sign stripe` with the dev server's own secret, connected now (after
    // the capture, so only the replay reaches the dev server).
    let dev_server = format!("{}/webhooks/stripe", rx.base);
    let config = crate::common::tempdir::TempDir::new();
    let cli = crate::listen_surface::Run::listen(
        &app,
        &token,
        &config.0,
        &dev_server,
        Some("Stripe dev"),
        &["--sign", "stripe", "--secret", STRIPE_SECRET],
    )
    .await;
    let label = format!("Replay to my dev server (hookvault listen → {dev_server})");
    assert!(
        b.get_html(&format!("/requests/{id}"))
            .await
            .contains(&label),
        "the capture's own page offers it too"
    );

    let mut driver = ChromeDriver::start(&tools).await;
    let c = driver.connect(&tools).await;
    log_in(&c, &app, "devserver@example.com").await;
    c.goto(&app.at(&format!("/endpoints/{endpoint}?r={id}")))
        .await
        .expect("open the endpoint");
    let shown = eventually!(
        "the dev-server button in the pane",
        text_of(&c, "#detail button.replay-dev-server").await
    );
    assert_eq!(shown, label);
    c.find(Locator::Css("#detail button.replay-dev-server"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click Replay to my dev server");
    eventually!(
        "the replay page",
        at_path(&c, |p| p == format!("/requests/{id}/replay")).await
    );
    let what = "the delivery reported by hookvault listen";
    let history = eventually!(within std::time::Duration::from_secs(40); what, {
        match text_of(&c, "#replay-history td.replay-succeeded").await {
            Ok(_) => text_of(&c, "#replay-history").await,
            Err(e) => Err(e),
        }
    });
    assert!(
        history.contains(&format!("hookvault listen → {dev_server}")),
        "sent through the CLI: {history}"
    );
    // The official verifier (stripe.Webhook.construct_event with the dev server's secret)
    // accepted the delivery the CLI re-signed.
    let line = cli
        .wait_line("the delivery", |l| l.contains(&event_id) && l.contains("→"))
        .await;
    assert!(
        line.contains("→  200"),
        "construct_event accepted it: {line}"
    );
    let received = rx.received().await;
    assert!(
        received.iter().any(|b| b == body.as_bytes()),
        "the dev server got the captured bytes"
    );
    let v = app
        .api_json(&token, &format!("/api/v1/requests/{id}/replays"))
        .await;
    let replay = &v["replays"][0];
    assert_eq!(replay["status"], "succeeded", "{v}");
    assert_eq!(replay["to_cli"], true, "{v}");
    driver.close(c).await;
    cli.stop().await;
}

#[tokio::test]
async fn every_page_about_a_capture_is_titled_by_its_event() {
    let app = TestApp::spawn().await;
    let (b, token) = app.account("titles@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "Titles").await;
    let (a, _) = capture_stale_stripe_event(&url, 1).await;
    let plain = crate::inspector::send(&format!("{url}/hooks/plain"), &[], "plain").await;
    let r = app
        .api(
            reqwest::Method::POST,
            &token,
            &format!("/api/v1/requests/{a}/audits"),
        )
        .json(&serde_json::json!({"target_url": "http://127.0.0.1:9/hook", "signing": {"scheme": "stripe", "secret": "whsec_x"}}))
        .send()
        .await
        .expect("audit");
    assert_eq!(r.status(), 202);
    let audit = r.json::<serde_json::Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let event = "checkout.session.completed · Stripe";
    for (path, title) in [
        (format!("/requests/{a}"), event.to_string()),
        (format!("/requests/{a}/replay"), format!("Replay · {event}")),
        (format!("/requests/{a}/edit"), format!("Edit · {event}")),
        (format!("/requests/{a}/audit"), format!("Audit · {event}")),
        (
            format!("/audits/{audit}"),
            format!("Audit result · {event}"),
        ),
        (
            format!("/requests/{a}/diff/{plain}"),
            format!("Compare · {event} with POST /hooks/plain"),
        ),
        (
            format!("/endpoints/{endpoint}/bulk-replay?request_id={a}"),
            format!("Replay · {event}"),
        ),
        (
            format!("/endpoints/{endpoint}/bulk-replay?request_id={a}&request_id={plain}"),
            format!("Replay 2 captures · {event}, POST /hooks/plain"),
        ),
    ] {
        let html = b.get_html(&path).await;
        let shown = html
            .split("<title>")
            .nth(1)
            .and_then(|t| t.split("</title>").next())
            .unwrap_or_default();
        assert_eq!(shown, format!("{title} · Hookvault"), "the title of {path}");
    }
}
