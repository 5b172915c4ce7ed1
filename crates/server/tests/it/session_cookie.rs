//! A dashboard session never lands in a capture: a logged-in user who opens someone else's
//! capture URL sends the session cookie, and capture replaces its value before storage.

use crate::common::browser::{set_cookie, PASSWORD};
use crate::common::raw_http;
use crate::common::TestApp;

const MARKER: &str = "hookvault=[removed by Hookvault: dashboard session]";

/// The value of the `hookvault` cookie the browser got at sign-up.
async fn session_id(app: &TestApp, email: &str) -> (crate::common::browser::Browser, String) {
    let b = app.browser();
    let r = b.signup(email, PASSWORD).await;
    assert_eq!(r.status(), 303);
    let cookie = set_cookie(&r, "hookvault").expect("a session cookie at sign-up");
    let value = cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .expect("cookie value");
    assert!(value.len() > 10, "a real session id: {value}");
    (b, value)
}

#[tokio::test]
async fn a_logged_in_visitor_of_another_tenants_capture_url_leaves_no_session_in_its_captures() {
    let app = TestApp::spawn().await;
    let (attacker_browser, attacker) = app.account("attacker@example.com").await;
    let (_, url) = app.create_endpoint(&attacker, "trap").await;
    let (victim, session) = session_id(&app, "victim@example.com").await;

    // The victim's browser follows the link: same origin, so its cookie jar sends the session.
    let r = victim
        .client
        .get(&url)
        .send()
        .await
        .expect("GET capture URL");
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-hookvault-request-id"]
        .to_str()
        .unwrap()
        .to_string();

    let stored = app
        .api_json(&attacker, &format!("/api/v1/requests/{id}"))
        .await;
    let text = stored.to_string();
    assert!(
        !text.contains(&session),
        "the victim's session id is in the attacker's capture: {text}"
    );
    let cookies: Vec<&str> = stored["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0].as_str().unwrap().eq_ignore_ascii_case("cookie"))
        .map(|h| h[1].as_str().unwrap())
        .collect();
    assert_eq!(cookies, [MARKER], "the cookie header says what was removed");

    // Nor on the request page, which explains the marker.
    let page = attacker_browser.get_html(&format!("/requests/{id}")).await;
    assert!(!page.contains(&session));
    assert!(
        page.contains("id=\"session-removed\""),
        "the request page explains the marker"
    );
}

#[tokio::test]
async fn a_session_cookie_among_others_is_replaced_and_every_other_byte_is_stored_as_sent() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("cookies@example.com").await;
    let (_, url) = app.create_endpoint(&token, "cookies").await;
    let headers = vec![
        (
            "Cookie".to_string(),
            "theme=dark;  hookvault=abcDEF123 ;__Host-hookvault=zzz; hookvault_other=1".to_string(),
        ),
        ("X-Note".to_string(), "hookvault=abcDEF123".to_string()),
        ("cookie".to_string(), "second=crumb".to_string()),
    ];
    let bytes = raw_http::request_bytes(
        "POST",
        &app.capture_path(&url),
        &app.host(),
        &headers,
        b"{}",
    );
    let r = raw_http::send(app.server.addr, &bytes).await.expect("send");
    assert_eq!(r.status, 200);
    let id = r.header("x-hookvault-request-id").expect("id").to_string();
    let stored = app
        .api_json(&token, &format!("/api/v1/requests/{id}"))
        .await;
    let got: Vec<(String, String)> = stored["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_string(),
                h[1].as_str().unwrap().to_string(),
            )
        })
        .filter(|(n, _)| n != "Host" && n != "Content-Length")
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "Cookie".to_string(),
                "theme=dark;  hookvault=[removed by Hookvault: dashboard session];\
                 __Host-hookvault=[removed by Hookvault: dashboard session]; hookvault_other=1"
                    .to_string()
            ),
            ("X-Note".to_string(), "hookvault=abcDEF123".to_string()),
            ("cookie".to_string(), "second=crumb".to_string()),
        ],
        "only the session cookies' values changed"
    );
}
