//! The everyday replay loop in a real browser (headless Chromium, see `browser.rs`) against the
//! official Stripe verifier (`stripe.Webhook.construct_event`, see `common/official.rs`): the
//! replay form defaults to the detected provider's scheme, the last target is remembered per
//! endpoint, "Replay to …" sends there in one click, and "Copy as curl" gives a command signed
//! now that the verifier accepts.

use std::time::{Duration, Instant};

use crate::browser::{at_path, button, eventually, text_of, BrowserTools, ChromeDriver};
use crate::common::official::{OfficialReceiver, STRIPE_SECRET};
use crate::common::TestApp;
use crate::inspector::log_in;
use fantoccini::{Client, Locator};

/// How long one browser step may take (the same bound `eventually!` uses).
const STEP: Duration = Duration::from_secs(20);

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
        match text_of(c, "#replay-history td.replay-succeeded, #replay-history td.replay-failed")
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
    assert_eq!(value_of(&c, "scheme").await, "stripe", "the detected scheme");
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
    let label = eventually!("the one-click button", text_of(&c, "#detail button.replay-last").await);
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

    // "Copy as curl" with the pre-filled form: a command signed now, which the verifier accepts.
    button(&c, "Copy as curl")
        .await
        .click()
        .await
        .expect("Copy as curl");
    let curl = eventually!("the signed command", text_of(&c, "#signed-curl-command").await);
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
