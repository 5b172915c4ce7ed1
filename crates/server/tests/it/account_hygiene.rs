//! Account hygiene: changing the password ends the other sessions, sessions have an absolute
//! lifetime, HSTS on an https dashboard, and live streams end soon after logout or token
//! revocation.

use std::time::{Duration, Instant};

use tower_sessions::session::Id;
use tower_sessions::SessionStore;

use crate::common::browser::{location, set_cookie, Browser, PASSWORD};
use crate::common::sse::SseReader;
use crate::common::TestApp;

/// How soon a stream must end after its access was withdrawn.
pub(crate) const STREAM_END: Duration = Duration::from_secs(30);

/// Opens the endpoint's live list in `b` (the dashboard's stream).
pub(crate) async fn open_live(b: &Browser, endpoint: &str) -> SseReader {
    let r = b
        .client
        .get(b.at(&format!("/endpoints/{endpoint}/live")))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the live list opens");
    SseReader::new(r)
}

/// Reads until the stream ends; how long that took (or `None` if it outlived `limit`).
pub(crate) async fn ends_within(mut stream: SseReader, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + limit + Duration::from_secs(5);
    while stream.next_event(deadline).await.is_some() {}
    let took = start.elapsed();
    (took < limit).then_some(took)
}

async fn change_password(b: &Browser, current: &str, new: &str) -> reqwest::Response {
    b.post_form(
        "/settings/password",
        "/settings",
        &[("current_password", current), ("new_password", new)],
    )
    .await
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_signs_out_every_other_session_but_this_one(
) {
    let app = TestApp::spawn().await;
    let (here, token) = app.account("pw@example.com").await;
    let (endpoint, _) = app.create_endpoint(&token, "watched").await;
    let elsewhere = app.browser();
    assert_eq!(
        elsewhere.login("pw@example.com", PASSWORD).await.status(),
        303
    );
    let watching = open_live(&elsewhere, &endpoint).await;

    let r = change_password(&here, "not my password", "a brand new password").await;
    assert_eq!(r.status(), 422, "a wrong current password is refused");
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("The current password is incorrect."));
    assert_eq!(elsewhere.get("/").await.status(), 200, "nothing changed");

    let r = change_password(&here, PASSWORD, "a brand new password").await;
    assert_eq!(r.status(), 200);
    assert!(
        set_cookie(&r, "hookvault").is_some(),
        "this session gets a new id"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("Your password was changed."), "{html}");

    assert_eq!(here.get("/").await.status(), 200, "this session stays");
    let r = elsewhere.get("/").await;
    assert_eq!(r.status(), 303, "the other session is signed out");
    assert_eq!(location(&r), "/login");
    assert!(
        ends_within(watching, STREAM_END).await.is_some(),
        "the other session's live list ends within 30 s"
    );

    let fresh = app.browser();
    assert_eq!(
        fresh.login("pw@example.com", PASSWORD).await.status(),
        401,
        "the old password no longer works"
    );
    assert_eq!(
        fresh
            .login("pw@example.com", "a brand new password")
            .await
            .status(),
        303,
        "the new one does"
    );
    assert_eq!(
        app.api_get(&token, "/api/v1/endpoints").await.status(),
        200,
        "API tokens keep working (the page says so)"
    );
}

#[tokio::test]
async fn a_too_short_new_password_is_refused_with_the_reason() {
    let app = TestApp::spawn().await;
    let (b, _) = app.account("short@example.com").await;
    let r = change_password(&b, PASSWORD, "short").await;
    assert_eq!(r.status(), 422);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Choose a password of at least 8 characters."));
    let fresh = app.browser();
    assert_eq!(
        fresh.login("short@example.com", PASSWORD).await.status(),
        303
    );
}

/// Moves the sign-in time of the session with this id `age` into the past.
async fn age_session(app: &TestApp, id: &str, age: time::Duration) {
    let store = tower_sessions_sqlx_store::PostgresStore::new(app.server.pool.clone());
    let id: Id = id.parse().expect("a session id");
    let mut record = store
        .load(&id)
        .await
        .unwrap()
        .expect("the session is stored");
    let auth = record.data.get_mut("auth").expect("a signed-in session");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    auth["at"] = serde_json::json!(now - age.whole_seconds());
    store.save(&record).await.unwrap();
}

#[tokio::test]
async fn a_session_ends_thirty_days_after_sign_in_however_active_it_is() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let r = b.signup("old@example.com", PASSWORD).await;
    assert_eq!(r.status(), 303);
    let cookie = set_cookie(&r, "hookvault").expect("a session cookie");
    let id = cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap();

    age_session(&app, &id, time::Duration::days(29)).await;
    assert_eq!(b.get("/").await.status(), 200, "29 days: still signed in");

    age_session(
        &app,
        &id,
        time::Duration::days(30) + time::Duration::minutes(1),
    )
    .await;
    let r = b.get("/").await;
    assert_eq!(r.status(), 303, "30 days: signed out");
    assert_eq!(location(&r), "/login");
    assert_eq!(
        b.client
            .get(b.at("/api/v1/endpoints"))
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "the API does not take it either"
    );
}

const HSTS: &str = "max-age=31536000; includeSubDomains";

#[tokio::test]
async fn dashboard_responses_carry_hsts_when_the_public_url_is_https_and_not_otherwise() {
    let https = TestApp::spawn_with(|c| {
        c.public_url = Some("https://hookvault.example.test".into());
        c.capture_url = Some("https://hooks.example.net".into());
    })
    .await;
    let plain = TestApp::spawn().await;
    for path in ["/login", "/api/v1/endpoints", "/static/app.css"] {
        let r = reqwest::get(format!("http://{}{path}", https.server.addr))
            .await
            .unwrap();
        assert_eq!(
            r.headers()
                .get("strict-transport-security")
                .and_then(|v| v.to_str().ok()),
            Some(HSTS),
            "https dashboard: {path}"
        );
        let r = reqwest::get(plain.at(path)).await.unwrap();
        assert!(
            r.headers().get("strict-transport-security").is_none(),
            "plain http dashboard: {path}"
        );
    }
}

#[tokio::test]
async fn the_dashboard_live_list_ends_within_30_s_of_logging_out() {
    let app = TestApp::spawn().await;
    let (b, token) = app.account("live-out@example.com").await;
    let (endpoint, _) = app.create_endpoint(&token, "live").await;
    let stream = open_live(&b, &endpoint).await;
    let r = b.post_form("/logout", "/", &[]).await;
    assert_eq!(r.status(), 303);
    let took = ends_within(stream, STREAM_END).await;
    assert!(took.is_some(), "the live list outlived the logout by 30 s");
}

#[tokio::test]
async fn a_cli_stream_ends_within_30_s_of_its_token_being_revoked_and_listen_stops_asking_for_a_new_login(
) {
    let app = TestApp::spawn().await;
    let (_, token) = app.account("cli-revoked@example.com").await;
    let (endpoint, _) = app.create_endpoint(&token, "revoked").await;
    let r = app
        .api(
            reqwest::Method::GET,
            &token,
            &format!("/api/v1/endpoints/{endpoint}/stream"),
        )
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let stream = SseReader::new(r);
    let dir = crate::common::tempdir::TempDir::new();
    let mut cli = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookvault"))
        .args([
            "listen",
            "--forward-to",
            "http://127.0.0.1:9/hook",
            "--endpoint",
            "revoked",
            "--server",
            &app.url,
            "--token",
            &token,
        ])
        .env("HOOKVAULT_CONFIG_DIR", &dir.0)
        .env("HOOKVAULT_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    crate::listen::wait_connected(&dir.0).await;

    let r = app
        .api(reqwest::Method::DELETE, &token, "/api/v1/tokens/current")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "the token revokes itself");
    let revoked = Instant::now();
    assert_eq!(app.api_get(&token, "/api/v1/endpoints").await.status(), 401);

    assert!(
        ends_within(stream, STREAM_END).await.is_some(),
        "the token's stream outlived its revocation by 30 s"
    );
    let status = tokio::time::timeout(STREAM_END + Duration::from_secs(10), cli.wait())
        .await
        .expect("hookvault listen stops after its token is revoked")
        .unwrap();
    assert!(
        revoked.elapsed() < STREAM_END + Duration::from_secs(10),
        "soon after the revocation"
    );
    assert!(!status.success());
    let mut stderr = String::new();
    use tokio::io::AsyncReadExt;
    cli.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(
        stderr.contains("the server refused the token") && stderr.contains("hookvault login"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_browser_session_cannot_revoke_a_token_through_tokens_current() {
    let app = TestApp::spawn().await;
    let (b, token) = app.account("not-a-token@example.com").await;
    let csrf = b.csrf("/").await;
    let r = b
        .client
        .delete(b.at("/api/v1/tokens/current"))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(app.api_get(&token, "/api/v1/endpoints").await.status(), 200);
}
