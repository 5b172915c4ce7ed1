//! Issue 13 in real Chromium: the **Upgrade** button on `/settings/billing` takes the user to
//! (the local stand-in for) Stripe Checkout; once Stripe's signed `checkout.session.completed`
//! reaches the billing webhook, the dashboard shows the Pro plan and its limits.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::json;

use crate::browser::{
    at_path, button, eventually, input_labelled, text_of, BrowserTools, ChromeDriver,
};
use crate::common::browser::PASSWORD;
use crate::common::stripe::{assert_official, deliver, now, signed, StripeStandIn};
use crate::common::TestApp;

#[tokio::test]
async fn the_upgrade_button_leads_to_checkout_and_after_the_webhook_the_dashboard_shows_pro() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let standin = StripeStandIn::start().await;
    let billing = standin.config(Duration::from_secs(3600));
    let app = TestApp::spawn_with(|c| c.billing = Some(billing)).await;
    let email = "browser-buyer@example.com";
    let (_, token) = app.account(email).await;
    sqlx::query("UPDATE users SET email_verified_at = now() WHERE email = $1")
        .bind(email)
        .execute(&app.server.pool)
        .await
        .expect("verify the email");
    let account = app.api_json(&token, "/api/v1/account").await["id"]
        .as_str()
        .expect("id")
        .to_string();

    let mut driver = ChromeDriver::start(&tools).await;
    let c = driver.connect(&tools).await;
    c.goto(&app.at("/login")).await.expect("open /login");
    let field = eventually!("the login form", input_labelled(&c, "Email", "email").await);
    field.send_keys(email).await.expect("type email");
    input_labelled(&c, "Password", "password")
        .await
        .expect("Password field")
        .send_keys(PASSWORD)
        .await
        .expect("type password");
    button(&c, "Log in").await.click().await.expect("log in");
    eventually!("the endpoint list", at_path(&c, |p| p == "/").await);
    assert_eq!(
        eventually!("the plan", text_of(&c, "#plan-name").await),
        "free"
    );

    // Settings → Billing → Upgrade → the stand-in's Checkout page.
    c.goto(&app.at("/settings")).await.expect("open /settings");
    let link = eventually!("the billing link", {
        match c.find(Locator::Id("billing-link")).await {
            Ok(l) => Ok(l),
            Err(e) => Err(e.to_string()),
        }
    });
    link.click().await.expect("click the billing link");
    eventually!(
        "the billing page",
        at_path(&c, |p| p == "/settings/billing").await
    );
    button(&c, "Upgrade")
        .await
        .click()
        .await
        .expect("click Upgrade");
    let checkout = format!("{}/checkout/cs_test_", standin.base);
    let heading = eventually!("the Checkout page", {
        match c.current_url().await {
            Ok(url) if url.as_str().starts_with(&checkout) => {
                text_of(&c, "#standin-checkout").await
            }
            Ok(url) => Err(format!("at {url}")),
            Err(e) => Err(e.to_string()),
        }
    });
    assert!(
        heading.starts_with("Stand-in Stripe Checkout cs_test_"),
        "{heading}"
    );
    let session = standin
        .calls("POST", "/v1/checkout/sessions")
        .pop()
        .expect("a checkout session");
    assert_eq!(session.field("client_reference_id"), Some(account.as_str()));

    // Stripe tells Hookvault the checkout completed.
    let completed = signed(
        "checkout.session.completed",
        now(),
        json!({"id": "cs_test_0", "object": "checkout.session", "mode": "subscription",
               "client_reference_id": account, "customer": "cus_browser",
               "subscription": "sub_browser", "customer_email": email}),
    );
    assert_official(&[(&completed, true)]);
    assert_eq!(deliver(&app.url, &completed).await.status(), 200);

    // Back on the dashboard: the Pro plan and its limits.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        c.goto(&app.at("/")).await.expect("open /");
        let plan = eventually!("the plan", text_of(&c, "#plan-name").await);
        if plan == "pro" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard still shows {plan}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let limits = c
        .execute(
            "return Array.from(document.querySelectorAll('#usage meter')).map(m => m.dataset.limit)",
            vec![],
        )
        .await
        .expect("the meters");
    assert_eq!(limits, json!(["2000000", "200", "200000"]), "Pro's limits");
    let usage = text_of(&c, "#usage").await.expect("usage");
    assert!(usage.contains("Captures are kept 30 days"), "{usage}");
    driver.close(c).await;
}
