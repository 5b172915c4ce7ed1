//! The replay pages: a Replay button and form on the request view, refusals in words, bulk
//! replay of selected captures in the chosen order, saved targets, and the history.

use std::time::Duration;

use crate::common::target::recording_target as target;
use crate::common::wait::{wait_for, wait_until};
use crate::common::TestApp;

async fn capture(url: &str, body: &str) -> String {
    let r = reqwest::Client::new()
        .post(url)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    r.headers()["x-hookvault-request-id"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_user_replays_a_capture_from_its_page_and_sees_the_answer_in_the_history() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("pages@example.com").await;
    let (_, url) = app.create_endpoint(&token, "pages").await;
    let id = capture(&url, "{\"type\":\"invoice.paid\"}").await;
    let (target_url, seen) = target().await;

    let view = app.get_html(&format!("/requests/{id}")).await;
    assert!(
        view.contains(&format!("href=\"/requests/{id}/replay\"")),
        "the request view has a Replay button"
    );

    let r = app
        .post_form(
            &format!("/requests/{id}/replay"),
            &format!("/requests/{id}/replay"),
            &[
                ("mode", "url"),
                ("target_url", &target_url),
                ("scheme", "original"),
                ("secret", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    wait_until(
        "the replay to arrive",
        Duration::from_secs(30),
        async || seen.lock().unwrap().len() == 1,
    )
    .await;
    assert_eq!(seen.lock().unwrap()[0], b"{\"type\":\"invoice.paid\"}");

    let page = wait_for(
        "the history to show the result",
        Duration::from_secs(30),
        async || {
            let page = app.get_html(&format!("/requests/{id}/replay")).await;
            match page.contains("replay-succeeded") {
                true => Ok(page),
                false => Err("no succeeded replay yet"),
            }
        },
    )
    .await;
    assert!(
        page.contains("thanks from the dev server"),
        "the response excerpt is shown"
    );
    assert!(page.contains(&target_url));
    assert!(page.contains("<td>200</td>"), "the status code is shown");
}

#[tokio::test]
async fn a_refused_target_is_explained_in_words_on_the_form() {
    let app = TestApp::spawn_with(|cfg| {
        cfg.private_targets = Some(hookvault_replay::guard::PrivateTargets::Deny)
    })
    .await;
    let token = app.signup_with_token("refused@example.com").await;
    let (_, url) = app.create_endpoint(&token, "refused").await;
    let id = capture(&url, "x").await;
    let r = app
        .post_form(
            &format!("/requests/{id}/replay"),
            &format!("/requests/{id}/replay"),
            &[
                ("mode", "url"),
                ("target_url", "http://127.0.0.1:9/hook"),
                ("scheme", "stripe"),
                ("secret", "whsec_x"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("refused: private address 127.0.0.1"),
        "{html}"
    );
    let r = app
        .post_form(
            &format!("/requests/{id}/replay"),
            &format!("/requests/{id}/replay"),
            &[
                ("mode", "url"),
                ("target_url", "https://example.com/hook"),
                ("scheme", "stripe"),
                ("secret", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("signing with Stripe needs a secret"),
        "a signing scheme needs a secret"
    );
}

#[tokio::test]
async fn selected_captures_are_replayed_in_bulk_in_reverse_order_to_a_saved_target() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("bulk-pages@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "bulk").await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(capture(&url, &format!("event {n}")).await);
    }
    let (target_url, seen) = target().await;

    // Save the target on the endpoint's replay page.
    let r = app
        .post_form(
            &format!("/endpoints/{endpoint}/targets"),
            &format!("/endpoints/{endpoint}/replays"),
            &[
                ("name", "my laptop"),
                ("target_url", &target_url),
                ("scheme", "none"),
                ("secret", ""),
                ("max_attempts", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = app
        .get_html(&format!("/endpoints/{endpoint}/replays"))
        .await;
    assert!(page.contains("my laptop"));

    // Tick the captures on the list and ask to replay them.
    let list = app.get_html(&format!("/endpoints/{endpoint}")).await;
    for id in &ids {
        assert!(
            list.contains(&format!("name=\"request_id\" value=\"{id}\"")),
            "each row has a checkbox"
        );
    }
    let query: Vec<(&str, &str)> = ids.iter().map(|id| ("request_id", id.as_str())).collect();
    let bulk = app
        .client
        .get(app.at(&format!("/endpoints/{endpoint}/bulk-replay")))
        .query(&query)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(bulk.contains("Replay 3 selected captures"));
    let saved = bulk
        .split("<option value=\"")
        .find_map(|s| {
            let (value, rest) = s.split_once('"')?;
            rest.contains("my laptop").then(|| value.to_string())
        })
        .expect("the saved target is offered");
    let csrf = crate::common::extract_csrf(&bulk);
    let mut form: Vec<(&str, &str)> = vec![
        ("csrf", &csrf),
        ("order", "reversed"),
        ("mode", "saved"),
        ("target_id", &saved),
    ];
    form.extend(query.iter().copied());
    let r = app
        .client
        .post(app.at(&format!("/endpoints/{endpoint}/bulk-replay")))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    wait_until("three replays", Duration::from_secs(30), async || {
        seen.lock().unwrap().len() == 3
    })
    .await;
    let bodies: Vec<Vec<u8>> = seen.lock().unwrap().clone();
    assert_eq!(
        bodies,
        vec![
            b"event 3".to_vec(),
            b"event 2".to_vec(),
            b"event 1".to_vec()
        ]
    );
}
