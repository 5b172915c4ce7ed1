//! Login and sign-up abuse: concurrent guesses are counted before they are checked, sign-ups
//! are limited per client address (as seen through `--trusted-proxies`), and a stranger's
//! guesses never lock the owner out of a browser they signed in with before.

use std::net::IpAddr;
use std::time::Duration;

use crate::common::browser::{api_client, location, Browser, PASSWORD};
use crate::common::{extract_csrf, TestApp};

/// A browser whose connections come from `local` (another loopback address).
fn browser_from(app: &TestApp, local: [u8; 4]) -> Browser {
    Browser {
        client: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .local_address(IpAddr::from(local))
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        base: app.url.clone(),
    }
}

/// Submits the sign-up form, with `X-Forwarded-For: forwarded` when given.
async fn signup_via(b: &Browser, email: &str, forwarded: Option<&str>) -> reqwest::Response {
    let csrf = extract_csrf(&b.get_html("/signup").await);
    let mut req = b.client.post(b.at("/signup")).form(&[
        ("csrf", csrf.as_str()),
        ("email", email),
        ("password", PASSWORD),
    ]);
    if let Some(f) = forwarded {
        req = req.header("X-Forwarded-For", f);
    }
    req.send().await.unwrap()
}

/// The error message a page shows.
fn error_message(html: &str) -> String {
    let start = html.find("class=\"error\"").expect("an error message");
    let open = html[start..].find('>').unwrap() + start + 1;
    let close = html[open..].find("</p>").unwrap() + open;
    html[open..close].to_string()
}

#[tokio::test]
async fn a_hundred_concurrent_wrong_passwords_for_one_email_get_at_most_ten_password_checks_and_429_for_the_rest(
) {
    let app = TestApp::spawn().await;
    app.account("crowded@example.com").await;
    let client = api_client();
    let guesses = (0..100).map(|i| {
        client
            .post(app.at("/api/v1/tokens"))
            .basic_auth("crowded@example.com", Some(format!("guess {i}")))
            .json(&serde_json::json!({"name": "x"}))
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.expect("answered").status().as_u16())
        .collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        checked + refused,
        100,
        "every guess is 401 or 429: {statuses:?}"
    );
    assert!(
        (1..=10).contains(&checked),
        "at most ten guesses had their password checked, {checked} did"
    );
}

#[tokio::test]
async fn the_eleventh_sign_up_from_one_address_within_an_hour_is_refused_while_other_addresses_still_sign_up(
) {
    let app = TestApp::spawn().await;
    let b = browser_from(&app, [127, 0, 0, 3]);
    for i in 1..=10 {
        let r = signup_via(&b, &format!("bulk{i}@example.com"), None).await;
        assert_eq!(r.status(), 303, "sign-up {i}");
    }
    // Without a trusted proxy, a made-up X-Forwarded-For changes nothing.
    let r = signup_via(&b, "bulk11@example.com", Some("198.51.100.99")).await;
    assert_eq!(r.status(), 429, "the 11th sign-up from the address");
    let html = r.text().await.unwrap();
    assert!(
        error_message(&html).starts_with("Too many sign-ups from your address. Try again in "),
        "the form says why: {html}"
    );
    let r = api_client()
        .post(app.at("/api/v1/tokens"))
        .basic_auth("bulk11@example.com", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no account was created");

    let other = browser_from(&app, [127, 0, 0, 4]);
    let r = signup_via(&other, "elsewhere@example.com", None).await;
    assert_eq!(r.status(), 303, "another address still signs up");
}

#[tokio::test]
async fn behind_a_trusted_proxy_sign_ups_are_counted_per_forwarded_client_address() {
    let app =
        TestApp::spawn_with(|c| c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let proxy = app.browser();
    for i in 1..=10 {
        // The client sent its own X-Forwarded-For; the proxy appended the real address.
        let r = signup_via(
            &proxy,
            &format!("proxied{i}@example.com"),
            Some(&format!("192.0.2.{i}, 203.0.113.7")),
        )
        .await;
        assert_eq!(r.status(), 303, "sign-up {i}");
    }
    let r = signup_via(&proxy, "proxied11@example.com", Some("203.0.113.7")).await;
    assert_eq!(r.status(), 429, "the 11th from 203.0.113.7");
    let r = signup_via(&proxy, "neighbour@example.com", Some("203.0.113.8")).await;
    assert_eq!(
        r.status(),
        303,
        "another client behind the same proxy still signs up"
    );
}

#[tokio::test]
async fn a_stranger_s_wrong_passwords_do_not_lock_the_owner_out_of_a_browser_they_signed_in_with_before(
) {
    let app = TestApp::spawn().await;
    let (owner, _) = app.account("owner@example.com").await;
    let r = owner.post_form("/logout", "/", &[]).await;
    assert_eq!(r.status(), 303);

    let stranger = browser_from(&app, [127, 0, 0, 5]);
    for i in 1..=10 {
        let r = stranger.login("owner@example.com", "guess").await;
        assert_eq!(r.status(), 401, "guess {i}");
    }
    let r = stranger.login("owner@example.com", "guess").await;
    assert_eq!(r.status(), 429, "the stranger must wait");
    let html = r.text().await.unwrap();
    let message = error_message(&html);
    let seconds: u64 = message
        .strip_prefix("Too many failed logins. Try again in ")
        .and_then(|m| m.strip_suffix(" seconds."))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a wait in seconds: {message}"));
    assert!(seconds <= 30, "a short delay, not a lock-out: {message}");

    let r = owner.login("owner@example.com", PASSWORD).await;
    assert_eq!(
        r.status(),
        303,
        "the owner's usual browser signs in at once"
    );
    assert_eq!(location(&r), "/");
    let device = crate::common::browser::set_cookie(&r, "hookvault-device")
        .expect("signing in renews the device cookie");
    assert!(
        device.contains("Path=/login") && device.contains("HttpOnly"),
        "sent only to the login form, never to capture URLs: {device}"
    );
    assert_eq!(owner.get("/").await.status(), 200);

    // A browser that never signed in to the account waits like the stranger, briefly.
    let fresh = app.browser();
    let r = fresh.login("owner@example.com", PASSWORD).await;
    assert_eq!(r.status(), 429);
}
