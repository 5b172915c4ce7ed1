//! Issue 13 with a real SMTP server (`common::mail::SmtpSink`): email verification (and
//! `--require-verified-email`), links stored hashed with their lifetimes, password reset
//! (single use, expiring, no account enumeration), change of password and of email. Account
//! deletion is in `account_deletion.rs`.

use std::time::{Duration, Instant};

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

#[tokio::test]
async fn sign_up_mails_a_single_use_link_and_captures_wait_for_it_when_required() {
    let sink = SmtpSink::start();
    let app = app_with_mail(&sink, true).await;
    let (b, token) = app.account("new@example.com").await;
    let (endpoint, capture_url) = app.create_endpoint(&token, "hooks").await;

    let mail = sink.nth("new@example.com", 1).await;
    assert!(mail.subject.contains("Verify"), "{mail:?}");
    let home = b.get_html("/").await;
    assert!(
        home.contains("unverified-banner"),
        "unverified accounts work, with a banner"
    );
    let send = || {
        reqwest::Client::new()
            .post(&capture_url)
            .body(r#"{"id":"evt_waiting"}"#)
            .send()
    };
    let r = send().await.unwrap();
    assert_eq!(r.status(), 503, "captures wait for the verification");
    assert_eq!(
        r.headers()["retry-after"],
        "300",
        "the sender is asked to retry"
    );
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
    // The route caches hear of it: the sender's retry of the waiting capture goes through.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = send().await.unwrap().status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(
            Instant::now() < deadline,
            "captures go through once verified"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let list = app
        .api_json(&token, &format!("/api/v1/endpoints/{endpoint}/requests"))
        .await;
    let requests = list["requests"].as_array().unwrap();
    assert_eq!(
        requests.len(),
        1,
        "the retried capture shows up, once (nothing was kept of the waiting ones): {list}"
    );
    let body = app
        .api_get(
            &token,
            &format!(
                "/api/v1/requests/{}/body",
                requests[0]["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(body.text().await.unwrap(), r#"{"id":"evt_waiting"}"#);
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

/// The stored rows of the account's mailed links, as JSON text.
async fn link_rows(pool: &sqlx::PgPool, email: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT row_to_json(t)::text FROM account_tokens t
         JOIN users u ON u.id = t.user_id WHERE u.email = $1",
    )
    .bind(email)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Checks that the link's token is stored only as its SHA-256 and lives `secs` seconds.
async fn assert_stored_hashed(pool: &sqlx::PgPool, mail: &Mail, path: &str, secs: f64) {
    use base64::Engine;
    let link = mail
        .link(path)
        .unwrap_or_else(|| panic!("{path} in {mail:?}"));
    let token = link.rsplit_once("token=").unwrap().1.to_string();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&token)
        .expect("the token is base64url");
    assert_eq!(raw.len(), 32, "256 random bits");
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let rows: Vec<String> = sqlx::query_scalar("SELECT row_to_json(t)::text FROM account_tokens t")
        .fetch_all(pool)
        .await
        .unwrap();
    for row in &rows {
        assert!(!row.contains(&token), "the token is stored: {row}");
        assert!(!row.contains(&hex), "the token is stored as hex: {row}");
    }
    let lifetime: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM expires_at - created_at)::float8 FROM account_tokens
         WHERE token_hash = sha256(convert_to($1, 'UTF8'))",
    )
    .bind(&token)
    .fetch_optional(pool)
    .await
    .unwrap();
    assert_eq!(
        lifetime,
        Some(secs),
        "{path}: stored under the SHA-256 of the token, for {secs} s"
    );
}

#[tokio::test]
async fn mailed_links_are_stored_only_as_hashes_for_24_hours_to_verify_and_1_hour_to_reset() {
    let sink = SmtpSink::start();
    let app = app_with_mail(&sink, false).await;
    let pool = &app.server.pool;
    let (b, _) = app.account("hashed@example.com").await;
    let verify = sink.nth("hashed@example.com", 1).await;
    assert_stored_hashed(
        pool,
        &verify,
        &format!("{}/verify-email?token=", app.url),
        86400.0,
    )
    .await;

    app.browser()
        .post_form(
            "/password/forgot",
            "/password/forgot",
            &[("email", "hashed@example.com")],
        )
        .await;
    let reset = sink.nth("hashed@example.com", 2).await;
    assert_stored_hashed(
        pool,
        &reset,
        &format!("{}/password/reset?token=", app.url),
        3600.0,
    )
    .await;
    assert_eq!(link_rows(pool, "hashed@example.com").await.len(), 2);

    // An expired verification link is refused, and the address stays unverified.
    sqlx::query(
        "UPDATE account_tokens SET expires_at = now() - interval '1 second'
         WHERE purpose = 'verify_email'",
    )
    .execute(pool)
    .await
    .unwrap();
    let r = follow(&b, &verify, &app.url, "/verify-email", &[]).await;
    assert_eq!(r.status(), 400);
    assert!(b.get_html("/").await.contains("unverified-banner"));
    app.server.stop().await;
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_is_mailed_and_a_reset_ends_every_session_and_stream(
) {
    use crate::account_hygiene::{ends_within, open_live, STREAM_END};
    let sink = SmtpSink::start();
    let app = app_with_mail(&sink, false).await;
    let email = "sessions@example.com";
    let (here, token) = app.account(email).await;
    let (endpoint, _) = app.create_endpoint(&token, "watched").await;
    let elsewhere = app.browser();
    assert_eq!(elsewhere.login(email, PASSWORD).await.status(), 303);
    let watching = open_live(&elsewhere, &endpoint).await;

    let r = here
        .post_form(
            "/settings/password",
            "/settings",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Every other session of your account has been signed out"),
        "the user is told: {html}"
    );
    let mail = sink.nth(email, 2).await;
    assert_eq!(mail.subject, "Your Hookvault password was changed");
    assert!(
        mail.body.contains(&format!("{}/password/forgot", app.url)),
        "{}",
        mail.body
    );
    assert_eq!(here.get("/").await.status(), 200, "this session stays");
    assert_eq!(
        elsewhere.get("/").await.status(),
        303,
        "the other one ended"
    );
    assert!(ends_within(watching, STREAM_END).await.is_some());

    // A reset ends every session, the live stream of one too.
    let other = app.browser();
    assert_eq!(
        other.login(email, "a brand new password").await.status(),
        303
    );
    let watching = open_live(&other, &endpoint).await;
    let anon = app.browser();
    anon.post_form("/password/forgot", "/password/forgot", &[("email", email)])
        .await;
    let mail = sink.nth(email, 3).await;
    let r = follow(
        &anon,
        &mail,
        &app.url,
        "/password/reset",
        &[("new_password", "a third new password")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Every session of your account has been signed out"));
    assert_eq!(here.get("/").await.status(), 303);
    assert_eq!(other.get("/").await.status(), 303);
    assert!(ends_within(watching, STREAM_END).await.is_some());
    assert_eq!(
        app.api_get(&token, "/api/v1/endpoints").await.status(),
        200,
        "API tokens are not sessions: they keep working (the README says so)"
    );
    app.server.stop().await;
}

#[tokio::test]
async fn without_an_smtp_url_the_start_log_says_so_once_and_mails_go_to_the_log() {
    let (server, log) =
        crate::common::process::ServerProcess::start_with(&[], &[], Some("info")).await;
    server.account("logged@example.com").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log.lock().unwrap().contains("/verify-email?token=") {
        assert!(
            Instant::now() < deadline,
            "the verification link is in the log:\n{}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log.matches("no --smtp-url: mails").count(),
        1,
        "said once at start:\n{log}"
    );
    assert!(log.contains("logged@example.com"), "{log}");
    drop(server);
}
