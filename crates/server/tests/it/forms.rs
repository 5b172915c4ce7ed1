//! Dashboard forms: a refused form comes back with its input and the reason next to the field
//! (not a bare error page), success says so, and destructive actions (delete an endpoint, clear
//! its captures, delete a saved target, revoke a token, delete the account) ask for
//! confirmation first — also without JavaScript. `form_errors.rs` refuses every form.

use std::time::{Duration, Instant};

use crate::browser::{at_path, button, eventually, text_of, BrowserTools, ChromeDriver};
use crate::common::browser::location;
use crate::common::TestApp;
use crate::inspector::{log_in, send};
use fantoccini::{Client, Locator};

async fn value_of(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
}

async fn type_into(c: &Client, id: &str, text: &str) {
    let field = c
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

#[tokio::test]
async fn a_refused_form_keeps_its_input_with_the_error_next_to_the_field_and_delete_asks_first() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::spawn().await;
    let (_, token) = app.account("forms@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "Form test").await;
    send(&url, &[], "one").await;

    let mut driver = ChromeDriver::start(&tools).await;
    let c = driver.connect(&tools).await;
    log_in(&c, &app, "forms@example.com").await;
    c.goto(&app.at(&format!("/endpoints/{endpoint}")))
        .await
        .expect("open the endpoint");
    c.find(Locator::Css("details#settings summary"))
        .await
        .expect("settings")
        .click()
        .await
        .expect("open the settings");

    // A delay that is not a number: the page comes back with everything typed.
    type_into(&c, "response-body", "keep this body").await;
    type_into(&c, "delay_ms", "soon").await;
    button(&c, "Save response")
        .await
        .click()
        .await
        .expect("save");
    let error = eventually!(
        "the error next to the delay",
        text_of(&c, "#delay-error").await
    );
    assert_eq!(error, "Delay must be a number of milliseconds.");
    assert_eq!(
        value_of(&c, "delay_ms").await,
        "soon",
        "the typed delay is kept"
    );
    assert_eq!(
        value_of(&c, "response-body").await,
        "keep this body",
        "the typed body is kept"
    );
    let title = c.title().await.expect("title");
    assert!(
        !title.contains("Unprocessable"),
        "not a bare error page: {title}"
    );

    // Success says so.
    type_into(&c, "rename", "Renamed form test").await;
    button(&c, "Rename").await.click().await.expect("rename");
    let flash = eventually!("the success notice", text_of(&c, "#flash").await);
    assert_eq!(flash, "Renamed to \"Renamed form test\".");

    // Delete asks first; Cancel keeps the endpoint.
    c.find(Locator::Css("details#settings summary"))
        .await
        .expect("settings")
        .click()
        .await
        .expect("open the settings");
    c.find(Locator::Id("delete-link"))
        .await
        .expect("Delete endpoint…")
        .click()
        .await
        .expect("click Delete endpoint…");
    let what = eventually!("the confirmation", text_of(&c, "#confirm-what").await);
    assert!(
        what.contains("Renamed form test") && what.contains("1 captured request"),
        "{what}"
    );
    assert_eq!(
        app.api_get(&token, &format!("/api/v1/endpoints/{endpoint}"))
            .await
            .status(),
        200,
        "nothing deleted before confirming"
    );
    c.find(Locator::Id("confirm-cancel"))
        .await
        .expect("Cancel")
        .click()
        .await
        .expect("cancel");
    eventually!(
        "back on the endpoint",
        at_path(&c, |p| p == format!("/endpoints/{endpoint}")).await
    );
    c.goto(&app.at(&format!("/endpoints/{endpoint}/delete")))
        .await
        .expect("the confirmation again");
    button(&c, "Delete endpoint")
        .await
        .click()
        .await
        .expect("confirm");
    eventually!("the endpoint list", at_path(&c, |p| p == "/").await);
    let flash = text_of(&c, "#flash").await.expect("the notice");
    assert_eq!(flash, "Endpoint deleted, with its captures.");
    assert_eq!(
        app.api_get(&token, &format!("/api/v1/endpoints/{endpoint}"))
            .await
            .status(),
        404
    );
    driver.close(c).await;
}

#[tokio::test]
async fn destructive_posts_without_confirmation_only_lead_to_the_confirmation_page() {
    let app = TestApp::spawn().await;
    let (b, token) = app.account("confirm@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "keep").await;
    send(&url, &[], "one").await;
    send(&url, &[], "two").await;
    let page = format!("/endpoints/{endpoint}");
    let targets = format!("/endpoints/{endpoint}/replays");
    let r = b
        .post_form(
            &format!("{page}/targets"),
            &targets,
            &[
                ("name", "dev"),
                ("target_url", "http://127.0.0.1:9/hook"),
                ("scheme", "none"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let html = b.get_html(&targets).await;
    let at = html.find("/targets/").expect("a saved target");
    let target_path = html[at..].split('"').next().expect("href").to_string();
    let settings = b.get_html("/settings").await;
    let at = settings.find("/settings/tokens/").expect("a token");
    let revoke_path = settings[at..].split('"').next().expect("href").to_string();

    for (path, back) in [
        (format!("{page}/delete"), page.clone()),
        (format!("{page}/clear"), page.clone()),
        (target_path.clone(), targets.clone()),
        (revoke_path.clone(), "/settings".to_string()),
        ("/settings/delete".to_string(), "/settings".to_string()),
    ] {
        let r = b.post_form(&path, &back, &[]).await;
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(location(&r), path, "{path} without confirm=yes asks first");
        let confirm = b.get_html(&path).await;
        assert!(
            confirm.contains("name=\"confirm\" value=\"yes\""),
            "{path} shows a confirmation form"
        );
    }
    let list = app
        .api_json(&token, &format!("/api/v1/endpoints/{endpoint}/requests"))
        .await;
    assert_eq!(list["requests"].as_array().expect("requests").len(), 2);
    assert!(b.get_html(&targets).await.contains("127.0.0.1:9/hook"));

    // Confirmed: the captures are cleared, the endpoint and its URL stay.
    let r = b
        .post_form(&format!("{page}/clear"), &page, &[("confirm", "yes")])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), page);
    let html = b.get_html(&page).await;
    assert!(html.contains("Cleared 2 captures."), "the notice");
    let list = app
        .api_json(&token, &format!("/api/v1/endpoints/{endpoint}/requests"))
        .await;
    assert_eq!(list["requests"].as_array().expect("requests").len(), 0);
    send(&url, &[], "after clearing").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = app
            .api_json(&token, &format!("/api/v1/endpoints/{endpoint}/requests"))
            .await;
        if list["requests"].as_array().map(Vec::len) == Some(1) {
            break;
        }
        assert!(Instant::now() < deadline, "the URL still captures");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Confirmed: the saved target is deleted and the token revoked, and each says so.
    let flash = |html: String| {
        let start = html.find("id=\"flash\">").expect("a notice") + "id=\"flash\">".len();
        let end = html[start..].find('<').expect("notice end") + start;
        html[start..end]
            .replace("&quot;", "\"")
            .replace("&#34;", "\"")
    };
    let r = b
        .post_form(&target_path, &targets, &[("confirm", "yes")])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), targets);
    let html = b.get_html(&targets).await;
    assert!(!html.contains("127.0.0.1:9/hook"), "the target is gone");
    assert_eq!(flash(html), "Saved target \"dev\" deleted.");
    let r = b
        .post_form(&revoke_path, "/settings", &[("confirm", "yes")])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        flash(b.get_html("/settings").await),
        "Token revoked: it no longer works."
    );
    assert_eq!(
        app.api_get(&token, "/api/v1/endpoints").await.status(),
        401,
        "the revoked token no longer works"
    );
}
