//! The endpoint page's two-pane inspector in a real browser (headless Chromium, see
//! `browser.rs`): a row opens in the pane with a click anywhere on it or with the arrow keys, a
//! capture that arrives live opens without a reload (its time shown as a loaded row's), copy
//! buttons copy what they say, and titles name the event.

use std::time::Duration;

use crate::browser::{at_path, button, eventually, input_labelled, BrowserTools, ChromeDriver};
use crate::common::browser::PASSWORD;
use crate::common::TestApp;
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::json;

/// Logs `email` in through the login form and waits for the endpoint list.
pub(crate) async fn log_in(c: &Client, app: &TestApp, email: &str) {
    c.goto(&app.at("/login")).await.expect("open /login");
    let field = eventually!("the login form", input_labelled(c, "Email", "email").await);
    field.send_keys(email).await.expect("type email");
    input_labelled(c, "Password", "password")
        .await
        .expect("Password field")
        .send_keys(PASSWORD)
        .await
        .expect("type password");
    button(c, "Log in").await.click().await.expect("log in");
    eventually!("the endpoint list", at_path(c, |p| p == "/").await);
}

/// Sends a capture; returns its id.
pub(crate) async fn send(url: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut req = reqwest::Client::new().post(url).body(body.to_string());
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let r = req.send().await.expect("capture");
    assert_eq!(r.status(), 200, "capture accepted");
    r.headers()["x-hookvault-request-id"]
        .to_str()
        .expect("id")
        .to_string()
}

/// The id of the capture shown in the pane, once it is `want`.
async fn pane_shows(c: &Client, want: &str) -> Result<(), String> {
    let shown = c
        .execute(
            "const a = document.querySelector('#detail article.capture'); return a ? a.dataset.id : null;",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    let selected = c
        .execute(
            "return Array.from(document.querySelectorAll('#requests tr.selected')).map(tr => tr.dataset.id);",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    if shown == json!(want) && selected == json!([want]) {
        Ok(())
    } else {
        Err(format!("pane {shown}, selected rows {selected}"))
    }
}

/// The Stripe capture the inspector test opens.
const STRIPE_BODY: &str = r#"{"id":"evt_1","object":"event","type":"checkout.session.completed","data":{"object":{"id":"cs_1","object":"checkout.session"}}}"#;

/// Clicks the pane's copy button labelled `label`; what it put on the clipboard (the page's
/// clipboard is replaced by a recorder first: a headless browser has no clipboard to read).
async fn copied(c: &Client, label: &str) -> String {
    c.execute(
        "const rec = { writeText: (t) => { window.__copied = t; return Promise.resolve(); } }; \
         Object.defineProperty(navigator, 'clipboard', { value: rec, configurable: true }); \
         window.__copied = null; \
         const b = Array.from(document.querySelectorAll('#detail button.copy')) \
           .find(b => b.textContent.trim() === arguments[0]); \
         if (!b) throw new Error('no copy button ' + arguments[0]); \
         b.click();",
        vec![json!(label)],
    )
    .await
    .unwrap_or_else(|e| panic!("click {label}: {e}"));
    eventually!(format!("{label} to copy"), {
        match c.execute("return window.__copied", vec![]).await {
            Ok(serde_json::Value::String(t)) => Ok(t),
            Ok(v) => Err(v.to_string()),
            Err(e) => Err(e.to_string()),
        }
    })
}

/// The `datetime`, text and hover title of a capture row's time.
async fn row_time(c: &Client, id: &str) -> Result<(String, String, String), String> {
    let v = c
        .execute(
            "const t = document.querySelector(`#requests tr[data-id='${arguments[0]}'] time`); \
             return t ? [t.getAttribute('datetime'), t.textContent, t.title] : null;",
            vec![json!(id)],
        )
        .await
        .map_err(|e| e.to_string())?;
    let part = |i: usize| v[i].as_str().unwrap_or_default().to_string();
    let (datetime, text, hover) = (part(0), part(1), part(2));
    if text.is_empty() || hover.is_empty() || text == datetime {
        return Err(format!("not rendered yet: {v}"));
    }
    Ok((datetime, text, hover))
}

async fn title(c: &Client) -> String {
    c.title().await.expect("title")
}

#[tokio::test]
async fn a_row_opens_in_the_pane_by_click_or_arrow_key_and_a_live_capture_opens_without_reload() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::spawn().await;
    let (_, token) = app.account("inspector@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "Inspector").await;
    let stripe = send(
        &url,
        &[
            ("Content-Type", "application/json"),
            ("Stripe-Signature", "t=1,v1=00"),
        ],
        STRIPE_BODY,
    )
    .await;
    let plain = send(&url, &[("Content-Type", "text/plain")], "hello there").await;

    let mut driver = ChromeDriver::start(&tools).await;
    let c = driver.connect(&tools).await;
    log_in(&c, &app, "inspector@example.com").await;
    c.goto(&app.at(&format!("/endpoints/{endpoint}")))
        .await
        .expect("open the endpoint");
    eventually!("the pane's empty state", {
        crate::browser::text_of(&c, "#detail-empty").await
    });
    c.execute("window.__hvSameDocument = true", vec![])
        .await
        .expect("mark document");

    // Times are relative, with the full local time on hover (UTC stays in `datetime`).
    let time = c
        .find(Locator::Css(&format!(
            "#requests tr[data-id='{stripe}'] time"
        )))
        .await
        .expect("the row's time");
    let shown = eventually!("the relative time", {
        match time.text().await {
            Ok(t) if t == "just now" || t.ends_with(" min ago") => Ok(t),
            Ok(t) => Err(t),
            Err(e) => Err(e.to_string()),
        }
    });
    let hover = time.attr("title").await.expect("title").unwrap_or_default();
    let utc = time
        .attr("datetime")
        .await
        .expect("datetime")
        .unwrap_or_default();
    let year = time::OffsetDateTime::now_utc().year().to_string();
    assert!(
        hover.contains(&year) && hover != utc,
        "the full local time on hover: {hover:?} ({shown}, {utc})"
    );
    assert!(utc.ends_with('Z'), "UTC in the datetime attribute: {utc}");

    // A click on the row's path cell (not a link) opens the Stripe capture (the older, second row).
    c.find(Locator::Css(&format!(
        "#requests tr[data-id='{stripe}'] td:nth-child(3)"
    )))
    .await
    .expect("the Stripe row's path cell")
    .click()
    .await
    .expect("click the row");
    eventually!(
        "the Stripe capture in the pane",
        pane_shows(&c, &stripe).await
    );
    eventually!("the title to name the event", {
        match title(&c).await {
            t if t == "checkout.session.completed · Stripe · Hookvault" => Ok(()),
            t => Err(t),
        }
    });
    assert_eq!(
        c.current_url().await.expect("url").path(),
        format!("/endpoints/{endpoint}"),
        "the pane opens on the endpoint page"
    );
    let headers = crate::browser::text_of(&c, "#detail #headers")
        .await
        .expect("headers table");
    assert!(
        headers.to_lowercase().contains("stripe-signature"),
        "{headers}"
    );

    // Up moves to the newer row (the plain capture), down back to the Stripe one.
    c.active_element()
        .await
        .expect("active element")
        .send_keys(&Key::Up.to_string())
        .await
        .expect("press Up");
    eventually!("the newer capture after ↑", pane_shows(&c, &plain).await);
    eventually!("the title to fall back to method and path", {
        match title(&c).await {
            t if t == "POST / · Hookvault" => Ok(()),
            t => Err(t),
        }
    });
    c.active_element()
        .await
        .expect("active element")
        .send_keys(&Key::Down.to_string())
        .await
        .expect("press Down");
    eventually!("the Stripe capture after ↓", pane_shows(&c, &stripe).await);

    // After a click outside the list, ↑ scrolls the page as usual; k still moves.
    c.find(Locator::Css("#detail #headers"))
        .await
        .expect("the headers table")
        .click()
        .await
        .expect("click in the pane");
    c.active_element()
        .await
        .expect("active element")
        .send_keys(&Key::Up.to_string())
        .await
        .expect("press Up");
    tokio::time::sleep(Duration::from_millis(300)).await;
    pane_shows(&c, &stripe)
        .await
        .expect("↑ outside the list leaves the pane alone");
    c.active_element()
        .await
        .expect("active element")
        .send_keys("k")
        .await
        .expect("press k");
    eventually!("the newer capture after k", pane_shows(&c, &plain).await);
    c.active_element()
        .await
        .expect("active element")
        .send_keys("j")
        .await
        .expect("press j");
    eventually!("the Stripe capture after j", pane_shows(&c, &stripe).await);

    // Each copy button copies what it says: clicked, what reaches the clipboard.
    assert_eq!(copied(&c, "Copy URL").await, url, "Copy URL");
    let headers_copied = copied(&c, "Copy headers").await;
    let lines: Vec<String> = headers_copied.lines().map(str::to_lowercase).collect();
    for line in [
        "content-type: application/json",
        "stripe-signature: t=1,v1=00",
    ] {
        assert!(
            lines.iter().any(|l| l == line),
            "Copy headers gives `Name: value` lines, {line:?} among them: {headers_copied:?}"
        );
    }
    assert_eq!(copied(&c, "Copy body").await, STRIPE_BODY, "Copy body");
    let curl = copied(&c, "Copy curl").await;
    assert!(
        curl.starts_with(&format!("curl -X POST '{url}'"))
            && curl
                .to_lowercase()
                .contains("'stripe-signature: t=1,v1=00'")
            && curl.contains(STRIPE_BODY),
        "Copy curl gives the command re-sending the capture: {curl}"
    );

    // "Select all" ticks every capture on the page for a bulk replay.
    c.find(Locator::Id("select-all"))
        .await
        .expect("select all")
        .click()
        .await
        .expect("tick select all");
    let ticked = c
        .execute(
            "return Array.from(document.querySelectorAll('#requests tbody input[name=request_id]')).map(b => b.checked);",
            vec![],
        )
        .await
        .expect("checkboxes");
    assert_eq!(ticked, json!([true, true]), "both captures ticked");
    pane_shows(&c, &stripe)
        .await
        .expect("ticking does not change the pane");

    // A capture arriving live appears at the top and opens with a click, without a reload.
    eventually!("the live stream to connect", {
        match c.execute("return window.__hvLiveOpens", vec![]).await {
            Ok(v) if v.as_u64().unwrap_or(0) >= 1 => Ok(()),
            Ok(v) => Err(format!("EventSource opens: {v}")),
            Err(e) => Err(e.to_string()),
        }
    });
    let live = send(
        &url,
        &[("Content-Type", "application/json")],
        r#"{"live":true}"#,
    )
    .await;
    // A loaded CI machine (several browsers at once) may take longer than one step here.
    let row = eventually!(within Duration::from_secs(60); "the live row", {
        c.find(Locator::Css(&format!(
            "#requests tr[data-id='{live}'] td:nth-child(4)"
        )))
        .await
        .map_err(|e| e.to_string())
    });
    row.click().await.expect("click the live row");
    eventually!("the live capture in the pane", pane_shows(&c, &live).await);
    let body = crate::browser::text_of(&c, "#detail #body-json")
        .await
        .expect("the live capture's body");
    assert!(body.contains("live"), "{body}");
    assert_eq!(
        c.execute("return window.__hvSameDocument === true", vec![])
            .await
            .expect("check document"),
        json!(true),
        "the page was reloaded"
    );

    // The live row's time has the precision and format of a row rendered with the page.
    let live_time = eventually!("the live row's time", row_time(&c, &live).await);

    // The selection is in the address: a reload shows the same capture in the pane, and the
    // pane links to the capture's own page (the permalink), titled by the event.
    c.refresh().await.expect("reload");
    eventually!(
        "the live capture after a reload",
        pane_shows(&c, &live).await
    );
    let loaded_time = eventually!("the reloaded row's time", row_time(&c, &live).await);
    assert_eq!(
        live_time, loaded_time,
        "the same datetime (precision), relative text and hover time, live and reloaded"
    );
    let plain_time = eventually!("a loaded row's time", row_time(&c, &plain).await);
    assert_eq!(
        plain_time.0.len(),
        live_time.0.len(),
        "one precision for every row: {plain_time:?} {live_time:?}"
    );
    c.goto(&app.at(&format!("/endpoints/{endpoint}?r={stripe}")))
        .await
        .expect("open with ?r=");
    eventually!("the Stripe capture from ?r=", pane_shows(&c, &stripe).await);
    c.find(Locator::Id("permalink"))
        .await
        .expect("the permalink")
        .click()
        .await
        .expect("follow the permalink");
    eventually!(
        "the request page",
        at_path(&c, |p| p == format!("/requests/{stripe}")).await
    );
    assert_eq!(
        title(&c).await,
        "checkout.session.completed · Stripe · Hookvault"
    );
    driver.close(c).await;
}

#[tokio::test]
async fn the_pane_refuses_another_accounts_capture() {
    let app = TestApp::spawn().await;
    let (_, owner) = app.account("pane-owner@example.com").await;
    let (_, url) = app.create_endpoint(&owner, "mine").await;
    let id = send(&url, &[], "secret stuff").await;
    let (other, _) = app.account("pane-other@example.com").await;
    let r = other.get(&format!("/requests/{id}/pane")).await;
    assert_eq!(r.status(), 404);
    let r = app.browser().get(&format!("/requests/{id}/pane")).await;
    assert!(
        r.status().is_redirection(),
        "logged out: sent to log in, got {}",
        r.status()
    );
}
