//! Issue 13 with a real SMTP server (`common::mail::SmtpSink`): email verification (and
//! `--require-verified-email`), password reset (single use, expiring, no account enumeration),
//! change of email, export, and account deletion checked row by row in the database.

use std::time::{Duration, Instant};

use sqlx::Row;

use crate::common::browser::{Browser, PASSWORD};
use crate::common::mail::{Mail, SmtpSink};
use crate::common::TestApp;

async fn app_with_mail(sink: &SmtpSink, require_verified: bool) -> TestApp {
    let url = sink.url();
    TestApp::spawn_with(|c| {
        c.accounts.smtp_url = Some(url);
        c.accounts.require_verified_email = require_verified;
    })
    .await
}

/// Opens a mailed link and submits its form (the token is used by the POST).
async fn follow(
    b: &Browser,
    mail: &Mail,
    base: &str,
    path: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let link = mail
        .link(&format!("{base}{path}?token="))
        .unwrap_or_else(|| panic!("a {path} link in {mail:?}"));
    let token = link.rsplit_once("token=").expect("token").1.to_string();
    let page = b.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csrf = crate::common::extract_csrf(&page.text().await.unwrap());
    let mut form = vec![("csrf", csrf.as_str()), ("token", token.as_str())];
    form.extend_from_slice(extra);
    b.client.post(b.at(path)).form(&form).send().await.unwrap()
}

async fn capture_status(url: &str) -> u16 {
    reqwest::Client::new()
        .post(url)
        .body("{}")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn sign_up_mails_a_single_use_link_and_captures_wait_for_it_when_required() {
    let sink = SmtpSink::start();
    let app = app_with_mail(&sink, true).await;
    let (b, token) = app.account("new@example.com").await;
    let (_, capture_url) = app.create_endpoint(&token, "hooks").await;

    let mail = sink.nth("new@example.com", 1).await;
    assert!(mail.subject.contains("Verify"), "{mail:?}");
    let home = b.get_html("/").await;
    assert!(
        home.contains("unverified-banner"),
        "unverified accounts work, with a banner"
    );
    let r = reqwest::Client::new()
        .post(&capture_url)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "captures wait for the verification");
    assert!(r.text().await.unwrap().contains("not verified"));

    // Resending is throttled: one a minute.
    let r = b
        .post_form("/settings/email/resend", "/settings", &[])
        .await;
    assert_eq!(r.status(), 429);

    let r = follow(&b, &mail, &app.url, "/verify-email", &[]).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("is verified"));
    assert!(!b.get_html("/").await.contains("unverified-banner"));
    // The route caches hear of it: captures go through.
    let deadline = Instant::now() + Duration::from_secs(10);
    while capture_status(&capture_url).await != 200 {
        assert!(
            Instant::now() < deadline,
            "captures go through once verified"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = follow(&b, &mail, &app.url, "/verify-email", &[]).await;
    assert_eq!(r.status(), 400, "a link works once");
    app.server.stop().await;
}

#[tokio::test]
async fn password_reset_is_single_use_expires_ends_every_session_and_tells_no_one_who_has_an_account(
) {
    let sink = SmtpSink::start();
    let app = app_with_mail(&sink, false).await;
    let (signed_in, _) = app.account("reset@example.com").await;
    app.account("late@example.com").await;

    let anon = app.browser();
    let known = anon
        .post_form(
            "/password/forgot",
            "/password/forgot",
            &[("email", "reset@example.com")],
        )
        .await;
    let unknown = anon
        .post_form(
            "/password/forgot",
            "/password/forgot",
            &[("email", "nobody@example.com")],
        )
        .await;
    assert_eq!(known.status(), unknown.status());
    assert_eq!(
        known.text().await.unwrap(),
        unknown.text().await.unwrap(),
        "the same answer whether or not the address has an account"
    );
    // Sign-up mailed a verification; the reset is the second mail.
    let mail = sink.nth("reset@example.com", 2).await;
    assert!(mail.subject.contains("Reset"), "{mail:?}");

    let r = follow(
        &anon,
        &mail,
        &app.url,
        "/password/reset",
        &[("new_password", "a fresh new password")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Every session of your account has been signed out"));
    let r = signed_in.get("/").await;
    assert_eq!(r.status(), 303, "the other sessions ended");
    let r = follow(
        &anon,
        &mail,
        &app.url,
        "/password/reset",
        &[("new_password", "yet another password")],
    )
    .await;
    assert_eq!(r.status(), 400, "the link works once");
    assert_eq!(
        app.browser()
            .login("reset@example.com", "a fresh new password")
            .await
            .status(),
        303
    );
    assert_eq!(
        app.browser()
            .login("reset@example.com", PASSWORD)
            .await
            .status(),
        401
    );

    // An expired link is refused (and its password not set).
    anon.post_form(
        "/password/forgot",
        "/password/forgot",
        &[("email", "late@example.com")],
    )
    .await;
    let mail = sink.nth("late@example.com", 2).await;
    sqlx::query("UPDATE account_tokens SET expires_at = now() - interval '1 second'")
        .execute(&app.server.pool)
        .await
        .unwrap();
    let r = follow(
        &anon,
        &mail,
        &app.url,
        "/password/reset",
        &[("new_password", "too late password")],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        app.browser()
            .login("late@example.com", PASSWORD)
            .await
            .status(),
        303
    );

    // Nothing was ever mailed to an address without an account.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.to("nobody@example.com").is_empty());
    app.server.stop().await;
}

#[tokio::test]
async fn changing_the_email_takes_effect_when_the_new_address_is_verified() {
    let sink = SmtpSink::start();
    let app = app_with_mail(&sink, false).await;
    let (b, _) = app.account("old@example.com").await;
    let r = b
        .post_form(
            "/settings/email",
            "/settings",
            &[
                ("new_email", "new@example.org"),
                ("current_password", "wrong password"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422, "the password is needed");
    let r = b
        .post_form(
            "/settings/email",
            "/settings",
            &[
                ("new_email", "new@example.org"),
                ("current_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        b.get_html("/settings").await.contains("old@example.com"),
        "unchanged until verified"
    );
    let mail = sink.nth("new@example.org", 1).await;
    let r = follow(&b, &mail, &app.url, "/verify-email", &[]).await;
    assert_eq!(r.status(), 200);
    let html = b.get_html("/settings").await;
    assert!(
        html.contains("new@example.org") && html.contains("(verified)"),
        "{html}"
    );
    assert_eq!(
        app.browser()
            .login("new@example.org", PASSWORD)
            .await
            .status(),
        303
    );
    app.server.stop().await;
}

/// Rows of one account, table by table.
async fn rows_of(pool: &sqlx::PgPool, user_id: uuid::Uuid) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for (table, sql) in [
        ("users", "SELECT count(*) FROM users WHERE id = $1"),
        ("endpoints", "SELECT count(*) FROM endpoints WHERE user_id = $1"),
        ("requests", "SELECT count(*) FROM requests r WHERE r.endpoint_id IN (SELECT id FROM endpoints WHERE user_id = $1) OR r.endpoint_id NOT IN (SELECT id FROM endpoints)"),
        ("api_tokens", "SELECT count(*) FROM api_tokens WHERE user_id = $1"),
        ("replays", "SELECT count(*) FROM replays WHERE user_id = $1"),
        ("replay_targets", "SELECT count(*) FROM replay_targets WHERE user_id = $1"),
        ("account_tokens", "SELECT count(*) FROM account_tokens WHERE user_id = $1"),
        ("sessions", "SELECT count(*) FROM tower_sessions.session WHERE position(convert_to($1::text, 'UTF8') in data) > 0"),
    ] {
        let n: i64 = sqlx::query(sql)
            .bind(user_id)
            .fetch_one(pool)
            .await
            .unwrap()
            .get(0);
        out.push((table, n));
    }
    out
}

async fn user_id(pool: &sqlx::PgPool, email: &str) -> uuid::Uuid {
    sqlx::query("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn deleting_an_account_removes_every_row_of_it_and_nothing_of_another() {
    let sink = SmtpSink::start();
    let app = app_with_mail(&sink, false).await;
    let (gone, gone_token) = app.account("gone@example.com").await;
    let (_, kept_token) = app.account("kept@example.com").await;
    for token in [&gone_token, &kept_token] {
        for name in ["a", "b"] {
            let (_, url) = app.create_endpoint(token, name).await;
            for _ in 0..3 {
                assert_eq!(capture_status(&url).await, 200);
            }
        }
    }
    let pool = &app.server.pool;
    let (gone_id, kept_id) = (
        user_id(pool, "gone@example.com").await,
        user_id(pool, "kept@example.com").await,
    );
    let kept_before = rows_of(pool, kept_id).await;

    // Export first: endpoints and captures as NDJSON.
    let export = gone.get("/settings/export.ndjson").await;
    assert_eq!(export.status(), 200);
    let text = export.text().await.unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.iter().filter(|l| l["type"] == "endpoint").count(), 2);
    assert_eq!(
        lines.len(),
        2 + 6,
        "two endpoints and their six captures: {text}"
    );

    let r = gone
        .post_form(
            "/settings/delete",
            "/settings",
            &[("confirm", "yes"), ("current_password", "wrong password")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        rows_of(pool, gone_id).await[0],
        ("users", 1),
        "a wrong password deletes nothing"
    );

    let r = gone
        .post_form(
            "/settings/delete",
            "/settings",
            &[("confirm", "yes"), ("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 200);
    for (table, n) in rows_of(pool, gone_id).await {
        assert_eq!(n, 0, "no {table} row of the deleted account is left");
    }
    assert_eq!(
        rows_of(pool, kept_id).await,
        kept_before,
        "the other account is untouched"
    );
    let mail = sink.nth("gone@example.com", 2).await;
    assert!(mail.subject.contains("deleted"), "{mail:?}");
    assert_eq!(gone.get("/").await.status(), 303, "signed out");
    assert_eq!(
        app.browser()
            .login("gone@example.com", PASSWORD)
            .await
            .status(),
        401
    );
    app.server.stop().await;
}
