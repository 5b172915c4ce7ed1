//! The replay history has one renderer: rows the page's script refreshes while a replay is
//! pending are the server's rows (`/requests/{id}/replays/rows`), identical to the rows the
//! page renders after a reload.

use std::sync::Arc;

use fantoccini::Locator;
use tokio::sync::Notify;

use crate::browser::{text_of, BrowserTools, ChromeDriver};
use crate::common::wait::{eventually, wait_for, STEP};
use crate::common::TestApp;
use crate::inspector::{log_in, send};

/// An answer whose text would be markup if it were ever inserted as HTML.
const ANSWER: &str = "<b id=\"injected\">held</b> & answered";

/// A dev server that holds every request until `gate` is notified, then answers [`ANSWER`].
async fn held_target(gate: Arc<Notify>) -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let gate = gate.clone();
            async move {
                gate.notified().await;
                ANSWER
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// The first history row's HTML.
const FIRST_ROW: &str = "return document.querySelector('#replay-history tbody tr').outerHTML;";

#[tokio::test]
async fn a_history_row_refreshed_while_pending_is_the_row_the_page_renders() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::spawn().await;
    let (_, token) = app.account("history@example.com").await;
    let (_, url) = app.create_endpoint(&token, "history").await;
    let id = send(&url, &[], "{\"type\":\"invoice.paid\"}").await;
    let gate = Arc::new(Notify::new());
    let target = held_target(gate.clone()).await;
    let r = app
        .api(
            reqwest::Method::POST,
            &token,
            &format!("/api/v1/requests/{id}/replays"),
        )
        .json(&serde_json::json!({"target_url": target}))
        .send()
        .await
        .expect("queue a replay");
    assert_eq!(r.status(), 202);

    let mut driver = ChromeDriver::start(&tools).await;
    let c = driver.connect(&tools).await;
    log_in(&c, &app, "history@example.com").await;
    c.goto(&app.at(&format!("/requests/{id}/replay")))
        .await
        .expect("open the replay page");
    let pending = eventually!(
        "the pending replay in the history",
        text_of(
            &c,
            "#replay-history td.replay-queued, #replay-history td.replay-running"
        )
        .await
    );
    assert!(pending == "queued" || pending == "running", "{pending}");
    // Rows the page rendered are marked; the refreshed ones are new elements.
    c.execute(
        "document.querySelectorAll('#replay-history tbody tr').forEach((tr) => { tr.__fromPage = true; });",
        vec![],
    )
    .await
    .expect("mark the page's rows");

    gate.notify_one();
    eventually!(
        "the finished replay in the history",
        text_of(&c, "#replay-history td.replay-succeeded").await
    );
    let refreshed = c
        .execute(
            "return document.querySelector('#replay-history tbody tr').__fromPage === undefined;",
            vec![],
        )
        .await
        .expect("check the row");
    assert_eq!(
        refreshed,
        serde_json::json!(true),
        "the row was refreshed by the page's script"
    );
    let polled = c.execute(FIRST_ROW, vec![]).await.expect("the row's HTML");
    let polled = polled.as_str().expect("HTML").to_string();
    assert!(
        polled.contains("&lt;b id=\"injected\"&gt;held&lt;/b&gt; &amp; answered"),
        "the answer is shown as text: {polled}"
    );
    assert!(
        c.find_all(Locator::Id("injected"))
            .await
            .expect("find")
            .is_empty(),
        "no markup from the answer"
    );

    c.refresh().await.expect("reload");
    let loaded = eventually!("the history after a reload", {
        match c.execute(FIRST_ROW, vec![]).await {
            Ok(serde_json::Value::String(html)) => Ok(html),
            Ok(v) => Err(v.to_string()),
            Err(e) => Err(e.to_string()),
        }
    });
    assert_eq!(
        polled, loaded,
        "a refreshed row is identical to the same row rendered with the page"
    );
    driver.close(c).await;
}

#[tokio::test]
async fn the_history_rows_are_the_page_s_rows_and_only_the_owner_s() {
    let app = TestApp::spawn().await;
    let (browser, token) = app.account("rows@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "rows").await;
    let id = send(&url, &[], "{}").await;
    let (target, _) = crate::common::target::recording_target().await;
    let r = app
        .api(
            reqwest::Method::POST,
            &token,
            &format!("/api/v1/requests/{id}/replays"),
        )
        .json(&serde_json::json!({"target_url": target}))
        .send()
        .await
        .expect("queue a replay");
    assert_eq!(r.status(), 202);
    let replay: serde_json::Value = r.json().await.expect("json");
    let replay = replay["id"].as_str().expect("id").to_string();
    wait_for("the replay to succeed", STEP, async || {
        let v = app
            .api_json(&token, &format!("/api/v1/replays/{replay}"))
            .await;
        match v["status"] == "succeeded" {
            true => Ok(()),
            false => Err(v),
        }
    })
    .await;

    for (page, rows) in [
        (
            format!("/requests/{id}/replay"),
            format!("/requests/{id}/replays/rows"),
        ),
        (
            format!("/endpoints/{endpoint}/replays"),
            format!("/endpoints/{endpoint}/replays/rows"),
        ),
    ] {
        let html = browser.get_html(&page).await;
        assert!(
            html.contains(&format!("data-source=\"{rows}\"")),
            "{page} refreshes its history from {rows}"
        );
        let r = browser.get(&rows).await;
        assert_eq!(r.status(), 200, "{rows}");
        let fragment = r.text().await.expect("rows");
        assert!(fragment.contains("<tr>"), "{rows}: {fragment}");
        let tbody = html
            .split_once("<tbody>")
            .and_then(|(_, rest)| rest.split_once("</tbody>"))
            .map(|(rows, _)| rows)
            .expect("the history's rows");
        assert_eq!(tbody.trim(), fragment.trim(), "{rows} are the page's rows");
    }

    let (stranger, _) = app.account("stranger@example.com").await;
    for rows in [
        format!("/requests/{id}/replays/rows"),
        format!("/endpoints/{endpoint}/replays/rows"),
    ] {
        assert_eq!(stranger.get(&rows).await.status(), 404, "{rows}");
    }
}
