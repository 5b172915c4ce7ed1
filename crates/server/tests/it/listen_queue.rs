//! Replays handed to `hookvault listen` while none is connected wait for one (up to a day)
//! instead of being refused, and the dashboard sends to a connected listener by default.

use std::time::Duration;

use crate::common::wait::wait_for;
use crate::common::wait::wait_until;
use crate::common::TestApp;
use crate::listen_surface::{capture, Run, Scripted};

async fn replay(app: &TestApp, token: &str, id: &str) -> serde_json::Value {
    app.api_get(token, &format!("/api/v1/replays/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

async fn to_cli(app: &TestApp, token: &str, request_id: &str) -> String {
    let r = reqwest::Client::new()
        .post(app.at(&format!("/api/v1/requests/{request_id}/replays")))
        .bearer_auth(token)
        .json(&serde_json::json!({"to_cli": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "queued, not refused");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "queued");
    v["id"].as_str().unwrap().to_string()
}

async fn wait_status(app: &TestApp, token: &str, id: &str, want: &str) -> serde_json::Value {
    wait_for(
        &format!("replay {want}"),
        Duration::from_secs(40),
        async || {
            let v = replay(app, token, id).await;
            if v["status"] == want {
                Ok(v)
            } else {
                Err(v)
            }
        },
    )
    .await
}

#[tokio::test]
async fn a_replay_to_the_cli_asked_while_none_is_connected_waits_and_is_delivered_when_one_connects(
) {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("waiting@example.com").await;
    let (endpoint_id, url) = app.create_endpoint(&token, "waiting").await;
    let request_id = capture(&url, "evt_later").await;

    // No listener: the replay is queued and shown as waiting.
    let first = to_cli(&app, &token, &request_id).await;
    let v = replay(&app, &token, &first).await;
    assert_eq!(v["status"], "queued", "{v}");
    let page = app
        .get_html(&format!("/endpoints/{endpoint_id}/replays"))
        .await;
    assert!(
        page.contains(
            "hookvault listen (waiting for one to connect; expires a day after it was asked)"
        ),
        "the history shows it waiting"
    );
    // The replay form offers the dev server, says none is connected, and does not pick it.
    let form = app
        .get_html(&format!("/requests/{request_id}/replay"))
        .await;
    assert!(
        form.contains(r#"value="cli"> My dev server (hookvault listen — none connected: the replay waits up to a day for one)"#),
        "{form}"
    );
    assert!(form.contains(r#"value="url" checked"#));
    assert!(!app
        .get_html(&format!("/endpoints/{endpoint_id}"))
        .await
        .contains(r#"id="listener""#));

    // `hookvault resend` says it is waiting, and gives up waiting after --wait-secs.
    let dir = crate::common::tempdir::TempDir::new();
    let run = Run::start(
        &dir.0,
        &[
            "resend",
            &request_id,
            "--wait-secs",
            "3",
            "--server",
            &app.url,
            "--token",
            &token,
        ],
    );
    let (status, lines) = run.finish().await;
    assert!(!status.success(), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Waiting for a hookvault listen on this endpoint")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("no answer within 3 s") && l.contains("still queued")),
        "{lines:#?}"
    );

    // A listener connects: both waiting replays reach the dev server and are reported.
    let target = Scripted::start(&[]).await;
    let config_dir = crate::common::tempdir::TempDir::new();
    let cli = Run::listen(
        &app,
        &token,
        &config_dir.0,
        &target.url,
        Some("waiting"),
        &[],
    )
    .await;
    let v = wait_status(&app, &token, &first, "succeeded").await;
    assert_eq!(v["target_url"], target.url.as_str(), "{v}");
    assert_eq!(v["attempts"][0]["status_code"], 200);
    wait_until(
        "both waiting replays delivered",
        Duration::from_secs(30),
        async || target.answers_to("evt_later").len() >= 2,
    )
    .await;
    let line = cli
        .wait_line("the waiting replay", |l| {
            l.contains("evt_later") && l.contains(&format!("[replay {first}]"))
        })
        .await;
    assert!(line.contains("→  200 ("), "{line}");

    // While it is connected, the dashboard sends to it by default.
    let form = app
        .get_html(&format!("/requests/{request_id}/replay"))
        .await;
    assert!(
        form.contains(&format!(
            r#"value="cli" checked> My dev server (hookvault listen, forwarding to {})"#,
            target.url
        )),
        "{form}"
    );
    assert!(!form.contains(r#"value="url" checked"#));
    assert!(app
        .get_html(&format!("/endpoints/{endpoint_id}"))
        .await
        .contains(r#"id="listener""#));
    cli.stop().await;
}

#[tokio::test]
async fn a_replay_waiting_for_the_cli_fails_as_expired_after_a_day() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("expired@example.com").await;
    let (_, url) = app.create_endpoint(&token, "expired").await;
    let request_id = capture(&url, "evt_too_late").await;
    let id = to_cli(&app, &token, &request_id).await;
    let fresh = to_cli(&app, &token, &request_id).await;
    // A day and an hour pass for the first one.
    sqlx::query("UPDATE replays SET created_at = now() - interval '25 hours' WHERE id = $1::uuid")
        .bind(&id)
        .execute(&app.server.pool)
        .await
        .unwrap();
    // The server's own sweep fails it, with the reason in words.
    let v = wait_status(&app, &token, &id, "failed").await;
    assert_eq!(
        v["attempts"][0]["error"],
        "expired: no hookvault listen connected to this endpoint within a day"
    );
    // The one asked now still waits.
    assert_eq!(replay(&app, &token, &fresh).await["status"], "queued");

    // A listener that connects now gets only the one still waiting.
    let target = Scripted::start(&[]).await;
    let dir = crate::common::tempdir::TempDir::new();
    let cli = Run::listen(&app, &token, &dir.0, &target.url, Some("expired"), &[]).await;
    wait_status(&app, &token, &fresh, "succeeded").await;
    assert_eq!(target.answers_to("evt_too_late"), vec![200]);
    assert_eq!(replay(&app, &token, &id).await["status"], "failed");
    cli.stop().await;
}
