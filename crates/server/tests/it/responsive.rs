//! The dashboard at phone width (390 px, headless Chromium): no page scrolls sideways, and
//! "Log out" is on screen.

use crate::browser::{eventually, text_of, BrowserTools, ChromeDriver};
use crate::common::TestApp;
use crate::inspector::{log_in, send};
use fantoccini::{Client, Locator};

/// The page's width beyond the viewport (0 when nothing scrolls sideways), once loaded.
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
               .filter(e => e.getBoundingClientRect().right > d.clientWidth + 1) \
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

#[tokio::test]
async fn at_390_px_no_page_scrolls_sideways_and_log_out_is_on_screen() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::spawn().await;
    let (_, token) = app.account("phone@example.com").await;
    let (endpoint, url) = app
        .create_endpoint(&token, "A rather long endpoint name for a phone screen")
        .await;
    let long_path = format!("{url}/webhooks/stripe/{}", "segment".repeat(20));
    let a = send(
        &long_path,
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
    let b = send(&url, &[("Content-Type", "text/plain")], "plain").await;

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

    for path in ["/login", "/signup"] {
        c.goto(&app.at(path)).await.expect("open");
        let (extra, wide) = overflow(&c, path).await;
        assert_eq!(extra, 0, "{path} scrolls sideways by {extra} px: {wide}");
    }
    log_in(&c, &app, "phone@example.com").await;
    let pages = [
        "/".to_string(),
        format!("/endpoints/{endpoint}"),
        format!("/endpoints/{endpoint}?r={a}"),
        format!("/endpoints/{endpoint}?q=type:customer.*"),
        format!("/endpoints/{endpoint}/replays"),
        format!("/endpoints/{endpoint}/order"),
        format!("/endpoints/{endpoint}/delete"),
        format!("/requests/{a}"),
        format!("/requests/{a}/replay"),
        format!("/requests/{a}/edit"),
        format!("/requests/{a}/audit"),
        format!("/requests/{b}/diff/{a}"),
        "/settings".to_string(),
    ];
    for path in &pages {
        c.goto(&app.at(path)).await.expect("open");
        let (extra, wide) = overflow(&c, path).await;
        assert_eq!(extra, 0, "{path} scrolls sideways by {extra} px: {wide}");
    }

    // "Log out" is visible and inside the screen.
    c.goto(&app.at(&format!("/endpoints/{endpoint}")))
        .await
        .expect("open");
    let logout = c
        .find(Locator::XPath("//button[normalize-space(.)='Log out']"))
        .await
        .expect("Log out");
    assert!(logout.is_displayed().await.expect("displayed"));
    let right = c
        .execute(
            "const b = Array.from(document.querySelectorAll('header button')).find(b => b.textContent.trim() === 'Log out'); \
             return b.getBoundingClientRect().right <= document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .expect("position");
    assert_eq!(right, serde_json::json!(true), "Log out is on screen");
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
}
