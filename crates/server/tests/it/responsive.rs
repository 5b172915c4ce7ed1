//! The dashboard at phone width (390 px, headless Chromium): no page scrolls sideways, and
//! "Log out" is on screen. Every GET page of the dashboard's routers is visited (the routes
//! are read from `crates/web/src`, so a new page without a phone check fails here), with data
//! in it first — long names, paths and URLs, replay history with response excerpts, saved
//! targets, a bulk replay, a connected `hookvault listen`, an audit — and the pages a form
//! answers with: a refused form, a freshly signed curl command, a notice, an error page.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::browser::{eventually, text_of, BrowserTools, ChromeDriver};
use crate::common::TestApp;
use crate::inspector::{log_in, send};
use fantoccini::{Client, Locator};

/// The page's width beyond the viewport (0 when nothing scrolls sideways) and the first
/// elements reaching past the screen's right edge, once loaded.
async fn overflow(c: &Client, path: &str) -> (i64, String) {
    eventually!(format!("{path} to load"), {
        match c
            .execute("return document.readyState === 'complete' && document.querySelector('main') !== null", vec![])
            .await
        {
            Ok(serde_json::Value::Bool(true)) => Ok(()),
            Ok(v) => Err(v.to_string()),
            Err(e) => Err(e.to_string()),
        }
    });
    let v = c
        .execute(
            "const d = document.documentElement; \
             const wide = Array.from(document.querySelectorAll('body *')) \
               .filter(e => e.getBoundingClientRect().right > d.clientWidth + 1 \
                 && !e.closest('table, pre, details:not([open])')) \
               .slice(0, 5).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className); \
             return [d.scrollWidth - d.clientWidth, wide.join(', ')];",
            vec![],
        )
        .await
        .expect("measure");
    (
        v[0].as_i64().unwrap_or(-1),
        v[1].as_str().unwrap_or_default().to_string(),
    )
}

/// Asserts that the page now shown fits the screen, and that "Log out" is on it when signed in
/// (error pages have only the site's links in their header: they are rendered without the
/// session, so without a form to log out).
async fn fits(c: &Client, what: &str, signed_in: bool) {
    let (extra, wide) = overflow(c, what).await;
    assert_eq!(extra, 0, "{what} scrolls sideways by {extra} px: {wide}");
    assert!(
        wide.is_empty(),
        "{what}: elements reach past the screen: {wide}"
    );
    if signed_in {
        let right = c
            .execute(
                "if (document.querySelector('main.error-page')) return true; \
                 const b = Array.from(document.querySelectorAll('header button')).find(b => b.textContent.trim() === 'Log out'); \
                 return b ? b.getBoundingClientRect().right <= document.documentElement.clientWidth : null;",
                vec![],
            )
            .await
            .expect("position");
        assert_eq!(right, serde_json::json!(true), "{what}: Log out on screen");
    }
}

async fn visit(c: &Client, app: &TestApp, path: &str, signed_in: bool) {
    c.goto(&app.at(path)).await.expect("open");
    fits(c, path, signed_in).await;
}

/// Runs `script` (which fills in and submits a form) and checks the page that answers, once
/// `wait_for` (CSS) is on it.
async fn submit(c: &Client, what: &str, script: &str, wait_for: &str) {
    submit_as(c, what, script, wait_for, true).await;
}

async fn submit_as(c: &Client, what: &str, script: &str, wait_for: &str, signed_in: bool) {
    c.execute(script, vec![]).await.expect("fill in and submit");
    eventually!(format!("{what}: {wait_for}"), text_of(c, wait_for).await);
    fits(c, what, signed_in).await;
}

/// The GET routes of the dashboard's routers, read from `crates/web/src`: `.route("…", get(…)…)`.
fn get_routes() -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read crates/web/src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read source");
                for (i, _) in text.match_indices(".route(") {
                    let rest = text[i + ".route(".len()..].trim_start();
                    let Some(literal) = rest.strip_prefix('"') else {
                        continue;
                    };
                    let route = &literal[..literal.find('"').expect("closing quote")];
                    let call = &literal[route.len()..];
                    let call = &call[..call.find(".route(").unwrap_or(call.len())];
                    let call = &call[..call.find(';').unwrap_or(call.len())];
                    if call.contains("get(") {
                        out.push(route.to_string());
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web/src"),
        &mut out,
    );
    out.sort();
    out.dedup();
    out
}

/// A dev server answering every request with a long unbroken body (a wide response excerpt).
async fn long_answer_target() -> String {
    let app = axum::Router::new()
        .fallback(|| async { format!("{{\"received\":\"{}\"}}", "y".repeat(600)) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    url
}

/// The first `href` in `html` starting with `prefix`.
fn href(html: &str, prefix: &str) -> String {
    let at = html
        .find(&format!("href=\"{prefix}"))
        .unwrap_or_else(|| panic!("no link to {prefix}…"))
        + "href=\"".len();
    html[at..].split('"').next().expect("href").to_string()
}

async fn wait_finished(app: &TestApp, token: &str, replay: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = app
            .api_json(token, &format!("/api/v1/replays/{replay}"))
            .await;
        if v["status"] == "succeeded" || v["status"] == "failed" {
            return;
        }
        assert!(Instant::now() < deadline, "the replay finishes: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn at_390_px_no_page_scrolls_sideways_and_log_out_is_on_screen() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::spawn().await;
    let (b, token) = app.account("phone@example.com").await;
    let name = "A rather long endpoint name for a phone screen";
    let (endpoint, url) = app.create_endpoint(&token, name).await;
    let long_path = format!("{url}/webhooks/stripe/{}", "segment".repeat(20));
    let a = send(
        &format!("{long_path}?{}", "q=1&".repeat(40)),
        &[
            ("Content-Type", "application/json"),
            ("Stripe-Signature", "t=1,v1=0000000000000000000000000000000000000000000000000000000000000000"),
            ("X-Long-Header", &"v".repeat(300)),
        ],
        &format!(
            r#"{{"id":"evt_phone","object":"event","type":"customer.subscription.updated","created":1764000000,"data":{{"object":{{"id":"sub_1","object":"subscription","note":"{}"}}}}}}"#,
            "x".repeat(400)
        ),
    )
    .await;
    let b_id = send(
        &url,
        &[("Content-Type", "text/plain")],
        &"plain".repeat(100),
    )
    .await;
    let bin = send(
        &url,
        &[("Content-Type", "application/octet-stream")],
        "\u{1}\u{2}binary\u{3}",
    )
    .await;

    // Replays to long URLs: one answered with a long body, one refused by the connection.
    let dev = long_answer_target().await;
    let long_target = format!("{dev}/webhooks/{}", "very-long-path-".repeat(12));
    let api = |m: reqwest::Method, path: &str| app.api(m, &token, path);
    let mut replays = Vec::new();
    for target in [
        long_target.clone(),
        format!("http://127.0.0.1:9/{}", "z".repeat(150)),
    ] {
        let r = api(
            reqwest::Method::POST,
            &format!("/api/v1/requests/{a}/replays"),
        )
        .json(&serde_json::json!({"target_url": target, "signing": {"scheme": "stripe", "secret": "whsec_phone"}}))
        .send()
        .await
        .expect("replay");
        assert_eq!(r.status(), 202);
        let v: serde_json::Value = r.json().await.expect("json");
        replays.push(v["id"].as_str().expect("id").to_string());
    }
    // A bulk replay and a saved target with a long URL.
    let r = api(
        reqwest::Method::POST,
        &format!("/api/v1/endpoints/{endpoint}/replays"),
    )
    .json(&serde_json::json!({"request_ids": [a, b_id], "target_url": long_target}))
    .send()
    .await
    .expect("bulk");
    assert_eq!(r.status(), 202);
    let targets_page = format!("/endpoints/{endpoint}/replays");
    let r = b
        .post_form(
            &format!("/endpoints/{endpoint}/targets"),
            &targets_page,
            &[
                ("name", "A saved target with a long name for a small screen"),
                ("target_url", &long_target),
                ("scheme", "none"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    for id in &replays {
        wait_finished(&app, &token, id).await;
    }
    // An audit of the capture's handler.
    let r = api(
        reqwest::Method::POST,
        &format!("/api/v1/requests/{a}/audits"),
    )
    .json(&serde_json::json!({"target_url": long_target, "signing": {"scheme": "stripe", "secret": "whsec_phone"}}))
    .send()
    .await
    .expect("audit");
    assert_eq!(r.status(), 202);
    let audit = r.json::<serde_json::Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    // A connected `hookvault listen` forwarding to a long local URL.
    let config = crate::common::tempdir::TempDir::new();
    let cli = crate::listen_surface::Run::listen(
        &app,
        &token,
        &config.0,
        &format!("{dev}/local/{}", "forward-".repeat(12)),
        Some(name),
        &[],
    )
    .await;

    let target_delete = href(&b.get_html(&targets_page).await, "/targets/");
    let revoke = href(&b.get_html("/settings").await, "/settings/tokens/");
    let e = format!("/endpoints/{endpoint}");

    // Every GET route: the pages it is visited at, or why it has no page of its own.
    let signed_in: BTreeMap<&str, Vec<String>> = [
        ("/", vec!["/".to_string()]),
        (
            "/endpoints/{id}",
            vec![
                e.clone(),
                format!("{e}?r={a}"),
                format!("{e}?r={bin}"),
                format!("{e}?q=type:customer.*"),
                format!("{e}?q=sig:"),
            ],
        ),
        ("/endpoints/{id}/delete", vec![format!("{e}/delete")]),
        ("/endpoints/{id}/clear", vec![format!("{e}/clear")]),
        ("/endpoints/{id}/order", vec![format!("{e}/order")]),
        ("/endpoints/{id}/replays", vec![targets_page.clone()]),
        (
            "/endpoints/{id}/bulk-replay",
            vec![
                format!("{e}/bulk-replay?request_id={a}&request_id={b_id}&request_id={bin}"),
                format!("{e}/bulk-replay?all=1&q="),
            ],
        ),
        (
            "/requests/{id}",
            vec![format!("/requests/{a}"), format!("/requests/{bin}")],
        ),
        (
            "/requests/{id}/replay",
            vec![format!("/requests/{a}/replay")],
        ),
        ("/requests/{id}/edit", vec![format!("/requests/{a}/edit")]),
        ("/requests/{id}/audit", vec![format!("/requests/{a}/audit")]),
        ("/audits/{id}", vec![format!("/audits/{audit}")]),
        // The picker redirects to the comparison; a bad id is an error page.
        (
            "/requests/{id}/diff",
            vec![format!("/requests/{a}/diff?with=not-an-id")],
        ),
        (
            "/requests/{a}/diff/{b}",
            vec![format!("/requests/{b_id}/diff/{a}")],
        ),
        ("/targets/{id}/delete", vec![target_delete]),
        ("/settings", vec!["/settings".to_string()]),
        ("/settings/billing", vec!["/settings/billing".to_string()]),
        ("/settings/delete", vec!["/settings/delete".to_string()]),
        ("/settings/tokens/{id}/revoke", vec![revoke]),
    ]
    .into_iter()
    .collect();
    let public: BTreeMap<&str, Vec<String>> = [
        ("/login", vec!["/login".to_string()]),
        ("/signup", vec!["/signup".to_string()]),
        ("/password/forgot", vec!["/password/forgot".to_string()]),
        (
            "/password/reset",
            vec!["/password/reset?token=abc".to_string()],
        ),
        ("/verify-email", vec!["/verify-email?token=abc".to_string()]),
    ]
    .into_iter()
    .collect();
    let not_pages: BTreeMap<&str, &str> = [
        ("/endpoints/{id}/live", "an event stream"),
        ("/endpoints/{id}/export.ndjson", "a download"),
        ("/settings/export.ndjson", "a download"),
        ("/requests/{id}/raw", "a download"),
        ("/requests/{id}/har", "a download"),
        ("/requests/{id}/fixture", "a download"),
        (
            "/requests/{id}/pane",
            "a fragment, measured inside /endpoints/{id}?r=",
        ),
        (
            "/requests/{id}/replays/rows",
            "a fragment, measured inside /requests/{id}/replay",
        ),
        (
            "/endpoints/{id}/replays/rows",
            "a fragment, measured inside /endpoints/{id}/replays",
        ),
        ("/static/app.css", "a stylesheet"),
        ("/static/app.js", "a script"),
        ("/healthz", "a health check"),
        ("/readyz", "a health check"),
    ]
    .into_iter()
    .collect();
    let routes = get_routes();
    let known: Vec<&str> = signed_in
        .keys()
        .chain(public.keys())
        .chain(not_pages.keys())
        .copied()
        .collect();
    for route in &routes {
        assert!(
            known.contains(&route.as_str()),
            "GET {route} is not checked at 390 px: add it to this test"
        );
    }
    for route in &known {
        assert!(
            routes.iter().any(|r| r == route),
            "{route} is no GET route of crates/web/src any more"
        );
    }

    // Each page is there (not an error page), with the data in it.
    let pane = format!("{e}?r={a}");
    for (route, paths) in &signed_in {
        for path in paths {
            let r = b.get(path).await;
            let want = if *route == "/requests/{id}/diff" {
                422
            } else {
                200
            };
            assert_eq!(r.status(), want, "GET {path}");
        }
    }
    for (page, shows) in [
        (targets_page.as_str(), "very-long-path-very-long-path"),
        (targets_page.as_str(), "y".repeat(100).as_str()),
        (targets_page.as_str(), "forward-forward-"),
        (targets_page.as_str(), "id=\"batches\""),
        (targets_page.as_str(), "A saved target with a long name"),
        (pane.as_str(), "Replay to my dev server"),
    ] {
        assert!(
            b.get_html(page).await.contains(shows),
            "{page} shows {shows}"
        );
    }

    let mut driver = ChromeDriver::start(&tools).await;
    let c = driver.connect(&tools).await;
    c.set_window_size(390, 844).await.expect("resize");
    let width = c
        .execute("return window.innerWidth", vec![])
        .await
        .expect("width");
    assert!(
        width.as_i64().unwrap_or(0) <= 400,
        "the viewport is phone-sized: {width}"
    );

    // Signed out: the public pages, a notice and an error page.
    for path in public.values().flatten() {
        visit(&c, &app, path, false).await;
    }
    c.goto(&app.at("/password/forgot")).await.expect("open");
    submit_as(
        &c,
        "the forgotten-password notice",
        "document.querySelector('input[name=email]').value = 'someone-with-a-rather-long-address@example.com'; \
         document.querySelector('main form').submit();",
        "#notice",
        false,
    )
    .await;

    log_in(&c, &app, "phone@example.com").await;
    for path in signed_in.values().flatten() {
        visit(&c, &app, path, true).await;
    }
    // Error pages: an unknown endpoint, a capture that is gone.
    for (path, h1) in [
        (
            "/endpoints/00000000-0000-7000-8000-000000000000",
            "Not Found",
        ),
        ("/requests/00000000-0000-7000-8000-000000000000", "Gone"),
    ] {
        visit(&c, &app, path, true).await;
        assert_eq!(text_of(&c, "main h1").await.unwrap_or_default(), h1);
    }

    // The answers of forms: a freshly signed curl, refusals.
    let replay_page = format!("/requests/{a}/replay");
    let fill_url = |u: &str| {
        format!(
            "document.querySelector('input[name=mode][value=url]').checked = true; \
             document.getElementById('target_url').value = '{u}'; \
             document.getElementById('scheme').value = 'stripe'; \
             document.getElementById('secret').value = 'whsec_phone';"
        )
    };
    c.goto(&app.at(&replay_page)).await.expect("open");
    submit(
        &c,
        "the signed curl command",
        &format!(
            "{} document.getElementById('signed-curl-button').click();",
            fill_url(&long_target)
        ),
        "#signed-curl-command",
    )
    .await;
    c.goto(&app.at(&replay_page)).await.expect("open");
    submit(
        &c,
        "the refused replay form",
        &format!(
            "{} document.querySelector('#replay-form button[value=replay]').click();",
            fill_url(&format!("localhost:8000/{}", "w".repeat(120)))
        ),
        "#target-url-error",
    )
    .await;
    c.goto(&app.at(&targets_page)).await.expect("open");
    submit(
        &c,
        "the refused saved-target form",
        &format!(
            "document.getElementById('t-url').value = 'ftp://{}'; \
             document.querySelector('#new-target button[type=submit]').click();",
            "u".repeat(150)
        ),
        "#t-url-error",
    )
    .await;
    c.goto(&app.at("/settings")).await.expect("open");
    submit(
        &c,
        "the refused email form",
        &format!(
            "const f = document.getElementById('email-form'); f.noValidate = true; \
             document.getElementById('new-email').value = 'not-an-address-{}'; \
             document.getElementById('email-password').value = 'wrong'; f.requestSubmit();",
            "m".repeat(100)
        ),
        "#new-email-error",
    )
    .await;
    c.goto(&app.at("/settings/delete")).await.expect("open");
    submit(
        &c,
        "the refused account deletion",
        "const f = document.getElementById('confirm-form'); \
         document.getElementById('delete-password').value = 'wrong'; f.requestSubmit();",
        "#delete-password-error",
    )
    .await;

    // "Log out" works from the phone layout.
    c.goto(&app.at(&e)).await.expect("open");
    let logout = c
        .find(Locator::XPath("//button[normalize-space(.)='Log out']"))
        .await
        .expect("Log out");
    assert!(logout.is_displayed().await.expect("displayed"));
    logout.click().await.expect("log out");
    eventually!(
        "logged out",
        text_of(&c, "main h1")
            .await
            .and_then(|t| if t == "Log in" { Ok(t) } else { Err(t) })
    );
    let shot = c.screenshot().await.expect("screenshot");
    std::fs::write(
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-390.png"),
        shot,
    )
    .expect("write screenshot");
    driver.close(c).await;
    cli.stop().await;
}
