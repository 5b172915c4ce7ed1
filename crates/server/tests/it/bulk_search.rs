//! Bulk replay by search from the dashboard: every capture matching the search, a preview of
//! the count and the sending order before anything is sent, and "Retry failed" for a finished
//! bulk replay, which sends the failures again in their order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::browser::location;
use crate::common::wait::{wait_for, wait_until};
use crate::common::TestApp;
use crate::inspector::send;

/// A dev server that answers 500 to its first `failures` requests, then 200; it records the
/// bodies it answered 200 to.
async fn flaky_target(failures: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let ok = Arc::new(Mutex::new(Vec::new()));
    let sink = ok.clone();
    let seen = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let (sink, seen) = (sink.clone(), seen.clone());
            async move {
                if seen.fetch_add(1, Ordering::SeqCst) < failures {
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "not yet")
                } else {
                    sink.lock().expect("lock").push(body);
                    (axum::http::StatusCode::OK, "ok")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, ok)
}

fn event(n: u32, event_type: &str) -> String {
    format!(
        r#"{{"id":"evt_bulk_{n}","object":"event","type":"{event_type}","data":{{"object":{{"id":"in_{n}"}}}}}}"#
    )
}

/// The capture ids in the preview table, in sending order.
fn preview_ids(html: &str) -> Vec<String> {
    let table = &html[html.find("id=\"preview-order\"").expect("the preview")..];
    let table = &table[..table.find("</table>").expect("table end")];
    table
        .match_indices("href=\"/requests/")
        .map(|(i, m)| table[i + m.len()..i + m.len() + 36].to_string())
        .collect()
}

#[tokio::test]
async fn all_captures_matching_a_search_are_previewed_in_order_then_sent_and_failures_retried() {
    let app = TestApp::spawn().await;
    let (b, token) = app.account("bulk-search@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "bulk").await;
    let json = [("Content-Type", "application/json")];
    let first = send(&url, &json, &event(1, "invoice.paid")).await;
    send(&url, &json, &event(2, "customer.created")).await;
    let second = send(&url, &json, &event(3, "invoice.paid")).await;

    // The endpoint page offers it; the bulk page lists what matches, oldest first.
    let q = "type:invoice.paid";
    let page = b.get_html(&format!("/endpoints/{endpoint}?q={q}")).await;
    assert!(page.contains("id=\"replay-all\""), "Replay all matching…");
    let bulk = format!("/endpoints/{endpoint}/bulk-replay?all=1&q=type%3Ainvoice.paid");
    let html = b.get_html(&bulk).await;
    assert!(
        html.contains("Replay 2 matching captures"),
        "the count: {html}"
    );
    assert!(html.contains("Preview: 2 captures"), "{html}");
    assert_eq!(preview_ids(&html), [first.clone(), second.clone()]);

    // Another order is previewed without sending anything.
    let (target, ok) = flaky_target(2).await;
    let csrf = crate::common::extract_csrf(&html);
    let form = |action: &str, order: &str| {
        vec![
            ("csrf".to_string(), csrf.clone()),
            ("q".to_string(), q.to_string()),
            ("request_id".to_string(), first.clone()),
            ("request_id".to_string(), second.clone()),
            ("order".to_string(), order.to_string()),
            ("mode".to_string(), "url".to_string()),
            ("target_url".to_string(), target.clone()),
            ("scheme".to_string(), "original".to_string()),
            ("action".to_string(), action.to_string()),
        ]
    };
    let r = b
        .client
        .post(b.at(&format!("/endpoints/{endpoint}/bulk-replay")))
        .form(&form("preview", "reversed"))
        .send()
        .await
        .expect("preview");
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("page");
    assert_eq!(preview_ids(&html), [second.clone(), first.clone()]);
    let replays = app
        .api_json(&token, &format!("/api/v1/endpoints/{endpoint}/replays"))
        .await;
    assert_eq!(
        replays["replays"].as_array().expect("replays").len(),
        0,
        "nothing sent"
    );

    // Sent as received; the dev server fails both.
    let r = b
        .client
        .post(b.at(&format!("/endpoints/{endpoint}/bulk-replay")))
        .form(&form("send", "received"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 303);
    let replays_page = format!("/endpoints/{endpoint}/replays");
    assert_eq!(location(&r), replays_page);
    let html = wait_for("the batch to finish", Duration::from_secs(30), async || {
        let html = b.get_html(&replays_page).await;
        match html.contains("Retry 2 failed") {
            true => Ok(html),
            false => Err(html),
        }
    })
    .await;
    let at = html.find("/batches/").expect("the retry form");
    let action = &html[html[..at].rfind("action=\"").expect("action") + 8..];
    let action = action[..action.find('"').expect("end")].to_string();

    // Retry failed, clicked twice at once: both again, in their order, now accepted — once.
    let (r1, r2) = tokio::join!(
        b.post_form(&action, &replays_page, &[]),
        b.post_form(&action, &replays_page, &[])
    );
    assert_eq!((r1.status().as_u16(), r2.status().as_u16()), (303, 303));
    let what = "the retried replays to arrive";
    wait_until(what, Duration::from_secs(30), async || {
        ok.lock().expect("lock").len() == 2
    })
    .await;
    let got = ok.lock().expect("lock").clone();
    assert_eq!(got, [event(1, "invoice.paid"), event(3, "invoice.paid")]);
    let replays = app
        .api_json(&token, &format!("/api/v1/endpoints/{endpoint}/replays"))
        .await;
    assert_eq!(
        replays["replays"].as_array().expect("replays").len(),
        4,
        "two failed and two retries, not four: {replays}"
    );

    // The failed batch offers no second retry; asking anyway says it was retried.
    let html = b.get_html(&replays_page).await;
    assert!(!html.contains("Retry 2 failed"), "{html}");
    assert!(html.contains("Failures retried"), "{html}");
    let r = b.post_form(&action, &replays_page, &[]).await;
    assert_eq!(r.status(), 303);
    let html = b.get_html(&replays_page).await;
    assert!(
        html.contains("failed replays were already retried: see the newer bulk replay above."),
        "{html}"
    );
    assert_eq!(ok.lock().expect("lock").len(), 2, "nothing sent again");

    // The retry is a bulk replay of its own (newest first); having no failures, it offers no
    // retry, and asking anyway says why.
    let what = "the retry batch to finish";
    let html = wait_for(what, Duration::from_secs(30), async || {
        let html = b.get_html(&replays_page).await;
        let newest = &html[html.find("data-batch=\"").expect("a batch row")..];
        let newest = &newest[..newest.find("</tr>").expect("row end")];
        match newest.contains("<td class=\"replay-succeeded\">2</td>") {
            true => Ok(html),
            false => Err(html),
        }
    })
    .await;
    let at = html.find("data-batch=\"").expect("a batch row") + "data-batch=\"".len();
    let retry_batch = &html[at..at + 36];
    let r = b
        .post_form(
            &format!("/endpoints/{endpoint}/batches/{retry_batch}/retry"),
            &replays_page,
            &[],
        )
        .await;
    assert_eq!(r.status(), 303);
    let html = b.get_html(&replays_page).await;
    assert!(
        html.contains("This bulk replay has no failed replays to retry."),
        "{html}"
    );
}
