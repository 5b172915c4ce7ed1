//! Accounts: sign-up, log-in, sessions and their cookies, CSRF, log-out, the login limit, and
//! API tokens.

use crate::common::browser::{location, set_cookie, PASSWORD};
use crate::common::TestApp;
use sqlx::Row;

const COOKIE: &str = "hookvault";

/// The error message a page shows (`<p class="error" …>message</p>`).
fn error_message(html: &str) -> Option<String> {
    let start = html.find("class=\"error\"")?;
    let open = html[start..].find('>')? + start + 1;
    let close = html[open..].find("</p>")? + open;
    Some(html[open..close].to_string())
}

/// The session id in a `Set-Cookie` value.
fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

fn assert_cookie_attributes(set_cookie: &str) {
    let attrs: Vec<String> = set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(
        attrs.iter().any(|a| a == "httponly"),
        "HttpOnly: {set_cookie}"
    );
    assert!(
        attrs.iter().any(|a| a == "samesite=lax"),
        "SameSite=Lax: {set_cookie}"
    );
    assert!(
        !attrs.iter().any(|a| a == "secure"),
        "no Secure flag on plain http: {set_cookie}"
    );
}

#[tokio::test]
async fn signing_up_lands_on_the_endpoint_list() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let r = b.signup("new@example.com", PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/");
    let cookie = set_cookie(&r, COOKIE).expect("sign-up sets the session cookie");
    assert_cookie_attributes(cookie);
    let home = b.get("/").await;
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(
        html.contains("new@example.com"),
        "the page shows who is signed in"
    );
    assert!(
        html.contains("action=\"/logout\""),
        "the page offers log-out"
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.account("known@example.com").await;
    let b = app.browser();
    let wrong = b.login("known@example.com", "not the password").await;
    let wrong_status = wrong.status();
    let wrong_msg = error_message(&wrong.text().await.unwrap());
    let unknown = b.login("nobody@example.com", "not the password").await;
    let unknown_status = unknown.status();
    let unknown_msg = error_message(&unknown.text().await.unwrap());
    assert!(
        wrong_status.is_client_error(),
        "a wrong password is refused: {wrong_status}"
    );
    assert_eq!(wrong_status, unknown_status, "same status");
    assert!(wrong_msg.is_some(), "the page says why");
    assert_eq!(wrong_msg, unknown_msg, "same message");
    // Neither attempt signed anybody in.
    assert_eq!(b.get("/").await.status(), 303);
}

#[tokio::test]
async fn logging_in_gives_a_new_session_id_in_an_http_only_same_site_lax_cookie() {
    let app = TestApp::spawn().await;
    app.account("rotate@example.com").await;
    let b = app.browser();
    let page = b.get("/login").await;
    let before = set_cookie(&page, COOKIE)
        .map(cookie_value)
        .expect("the login page starts a session (for its CSRF token)");
    let csrf = crate::common::extract_csrf(&page.text().await.unwrap());
    let r = b
        .post_form_with(
            "/login",
            Some(&csrf),
            &[("email", "rotate@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/");
    let cookie = set_cookie(&r, COOKIE).expect("login sets the session cookie");
    assert_cookie_attributes(cookie);
    let after = cookie_value(cookie);
    assert!(!after.is_empty());
    assert_ne!(before, after, "the session id changes at login");

    // The pre-login session id does not carry the login.
    let fixation = crate::common::browser::api_client()
        .get(app.at("/"))
        .header("cookie", format!("{COOKIE}={before}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        fixation.status(),
        303,
        "the old session id is not signed in"
    );
    assert_eq!(location(&fixation), "/login");
    assert_eq!(b.get("/").await.status(), 200, "the new one is");
}

#[tokio::test]
async fn a_form_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (b, token) = app.account("csrf@example.com").await;
    let (_, other_browser_csrf) = {
        let other = app.browser();
        (other.clone(), other.csrf("/login").await)
    };
    let attempts: [(&str, Option<&str>); 3] = [
        ("no token", None),
        ("wrong token", Some("wrong")),
        ("another session's token", Some(&other_browser_csrf)),
    ];
    for (what, csrf) in attempts {
        let r = b
            .post_form_with("/endpoints", csrf, &[("name", "sneaky")])
            .await;
        assert_eq!(r.status(), 403, "create endpoint with {what}");
        let r = b
            .post_form_with("/settings/tokens", csrf, &[("name", "sneaky")])
            .await;
        assert_eq!(r.status(), 403, "create token with {what}");
        let r = b.post_form_with("/logout", csrf, &[]).await;
        assert_eq!(r.status(), 403, "log out with {what}");
        let anon = app.browser();
        let r = anon
            .post_form_with(
                "/signup",
                csrf,
                &[("email", "csrf-new@example.com"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status(), 403, "sign up with {what}");
    }
    let endpoints = app.api_json(&token, "/api/v1/endpoints").await;
    assert_eq!(
        endpoints["endpoints"].as_array().unwrap().len(),
        0,
        "no endpoint was created"
    );
    let settings = b.get_html("/settings").await;
    assert!(!settings.contains("sneaky"), "no token was created");
    assert_eq!(b.get("/").await.status(), 200, "still signed in");
    let anon = app.browser();
    assert_eq!(
        anon.login("csrf-new@example.com", PASSWORD).await.status(),
        401,
        "no account was created"
    );
}

/// Every `POST` route of the pages, read from the web crate's routers (so a new form is covered
/// the day it is added).
fn page_post_routes() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/src");
    let mut routes = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let mut rest = text.as_str();
            while let Some(at) = rest.find(".route(") {
                rest = &rest[at + ".route(".len()..];
                // The call's text up to its matching parenthesis.
                let mut depth = 1;
                let end = rest
                    .char_indices()
                    .find(|&(_, c)| {
                        depth += match c {
                            '(' => 1,
                            ')' => -1,
                            _ => 0,
                        };
                        depth == 0
                    })
                    .map(|(i, _)| i)
                    .unwrap();
                let call = &rest[..end];
                let route = call.split('"').nth(1).unwrap_or_default().to_string();
                if call.contains("post(") && route.starts_with('/') && !route.starts_with("/api/") {
                    routes.push(route);
                }
            }
        }
    }
    routes.sort();
    routes.dedup();
    routes
}

#[tokio::test]
async fn every_form_post_of_the_pages_without_or_with_a_wrong_csrf_token_is_refused_with_403() {
    let app = TestApp::spawn().await;
    let (b, _) = app.account("every-form@example.com").await;
    let routes = page_post_routes();
    assert!(routes.len() >= 25, "the routers were read: {routes:?}");
    // Signed by its own scheme, not by a session: not a form.
    let routes: Vec<_> = routes
        .into_iter()
        .filter(|r| r != "/billing/stripe/webhook")
        .collect();
    for route in &routes {
        // Any id: the token is checked before the handler looks anything up.
        let path = route
            .split('/')
            .map(|part| {
                if part.starts_with('{') {
                    uuid::Uuid::new_v4().to_string()
                } else {
                    part.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for csrf in [None, Some("wrong")] {
            let r = b.post_form_with(&path, csrf, &[("name", "x")]).await;
            assert_eq!(r.status(), 403, "POST {route} with token {csrf:?}");
        }
    }
    assert_eq!(b.get("/").await.status(), 200, "still signed in");
}

#[tokio::test]
async fn logout_is_a_post_that_ends_the_session() {
    let app = TestApp::spawn().await;
    let (b, _) = app.account("bye@example.com").await;
    let get = b.get("/logout").await;
    assert_ne!(get.status(), 200, "GET /logout does nothing");
    assert_eq!(b.get("/").await.status(), 200, "a GET does not log out");

    let r = b.post_form("/logout", "/", &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login");
    let home = b.get("/").await;
    assert_eq!(home.status(), 303, "after log-out / redirects");
    assert_eq!(location(&home), "/login");
}

#[tokio::test]
async fn the_eleventh_failed_login_in_a_row_for_an_email_is_refused_with_429() {
    let app = TestApp::spawn().await;
    app.account("locked@example.com").await;
    let b = app.browser();
    for i in 1..=10 {
        let r = b.login("locked@example.com", "wrong password").await;
        assert_eq!(r.status(), 401, "failed login {i}");
    }
    let r = b.login("locked@example.com", "wrong password").await;
    assert_eq!(r.status(), 429, "11th failed login");
    let r = b.login("locked@example.com", PASSWORD).await;
    assert_eq!(r.status(), 429, "even the right password waits now");
    assert_eq!(b.get("/").await.status(), 303, "not signed in");
}

#[tokio::test]
async fn failed_api_logins_from_one_client_do_not_lock_other_accounts_out_elsewhere() {
    let app = TestApp::spawn().await;
    app.account("target@example.com").await;
    app.account("bystander@example.com").await;
    // The guesser connects from another loopback address than the bystander.
    let guesser = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    let basic = |client: &reqwest::Client, email: &str, password: &str| {
        client
            .post(app.at("/api/v1/tokens"))
            .basic_auth(email, Some(password))
            .json(&serde_json::json!({"name": "cli"}))
            .send()
    };
    for i in 1..=10 {
        let r = basic(&guesser, "target@example.com", "guess")
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "guess {i}");
    }
    let r = basic(&guesser, "target@example.com", "guess")
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "the 11th guess for the email is refused");
    let r = basic(
        &crate::common::browser::api_client(),
        "bystander@example.com",
        PASSWORD,
    )
    .await
    .unwrap();
    assert_eq!(
        r.status(),
        201,
        "another account from another address still gets its token"
    );
}

#[tokio::test]
async fn an_api_token_from_basic_auth_works_as_bearer_and_wrong_credentials_get_401() {
    let app = TestApp::spawn().await;
    app.account("api@example.com").await;
    let r = crate::common::browser::api_client()
        .post(app.at("/api/v1/tokens"))
        .basic_auth("api@example.com", Some(PASSWORD))
        .json(&serde_json::json!({"name": "laptop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["name"], "laptop");
    assert!(v["id"].as_str().is_some_and(|s| !s.is_empty()));
    let token = v["token"].as_str().expect("token").to_string();
    assert!(token.len() >= 22);

    let r = app.api_get(&token, "/api/v1/endpoints").await;
    assert_eq!(r.status(), 200, "the token works as Bearer");
    let r = app
        .api_get("hv_not_a_real_token", "/api/v1/endpoints")
        .await;
    assert_eq!(r.status(), 401, "a made-up token does not");
    let r = crate::common::browser::api_client()
        .get(app.at("/api/v1/endpoints"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no credentials at all");

    for (email, password) in [
        ("api@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
    ] {
        let r = crate::common::browser::api_client()
            .post(app.at("/api/v1/tokens"))
            .basic_auth(email, Some(password))
            .json(&serde_json::json!({"name": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "Basic {email}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(v["error"]["code"].is_string() && v["error"]["message"].is_string());
    }
}

/// The token shown in the settings page after creating one.
fn shown_token(html: &str) -> Option<String> {
    let start = html.find("id=\"new-token\">")? + "id=\"new-token\">".len();
    let end = html[start..].find('<')? + start;
    Some(html[start..end].trim().to_string())
}

/// Ids in the settings page's revoke forms.
fn revoke_ids(html: &str) -> Vec<String> {
    html.match_indices("/settings/tokens/")
        .filter_map(|(i, _)| {
            let rest = &html[i + "/settings/tokens/".len()..];
            let end = rest.find("/revoke")?;
            Some(rest[..end].to_string())
        })
        .collect()
}

#[tokio::test]
async fn a_token_created_in_settings_is_shown_once_and_stops_working_when_revoked() {
    let app = TestApp::spawn().await;
    let (b, _) = app.account("settings@example.com").await;
    let r = b
        .post_form("/settings/tokens", "/settings", &[("name", "page token")])
        .await;
    assert!(r.status().is_success(), "token created: {}", r.status());
    let html = r.text().await.unwrap();
    let token = shown_token(&html).expect("the new token is shown");
    assert!(token.starts_with("hv_"));
    assert_eq!(app.api_get(&token, "/api/v1/endpoints").await.status(), 200);

    let again = b.get_html("/settings").await;
    assert!(again.contains("page token"), "the token is listed by name");
    assert!(
        !again.contains(&token),
        "the token itself is not shown again"
    );

    let ids = revoke_ids(&again);
    // One token from the helper (API), one from this page; revoke the page one.
    let listed: Vec<&str> = again.matches("page token").collect();
    assert_eq!(listed.len(), 1);
    let page_token_id = {
        let at = again.find("page token").unwrap();
        ids.iter()
            .find(|id| again[at..].contains(&format!("/settings/tokens/{id}/revoke")))
            .expect("a revoke form for the page token")
            .clone()
    };
    let r = b
        .post_form(
            &format!("/settings/tokens/{page_token_id}/revoke"),
            "/settings",
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/settings");
    assert_eq!(
        app.api_get(&token, "/api/v1/endpoints").await.status(),
        401,
        "a revoked token stops working"
    );
    assert!(!b.get_html("/settings").await.contains("page token"));
}

#[tokio::test]
async fn api_tokens_are_stored_only_as_hashes() {
    let app = TestApp::spawn().await;
    let (b, api_token) = app.account("hashed@example.com").await;
    let html = b
        .post_form("/settings/tokens", "/settings", &[("name", "second")])
        .await
        .text()
        .await
        .unwrap();
    let page_token = shown_token(&html).expect("token shown");
    let rows = sqlx::query("SELECT row_to_json(t)::text AS j FROM api_tokens t")
        .fetch_all(&app.server.pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for token in [&api_token, &page_token] {
        let hex: String = token.bytes().map(|b| format!("{b:02x}")).collect();
        for row in &rows {
            let json: String = row.get("j");
            assert!(
                !json.contains(token.as_str()),
                "a column holds the token: {json}"
            );
            assert!(
                !json.contains(&hex),
                "a column holds the token's bytes: {json}"
            );
        }
        assert_eq!(app.api_get(token, "/api/v1/endpoints").await.status(), 200);
    }
}
