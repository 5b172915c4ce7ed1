//! Every dashboard form, refused: the page answers 422 (429 when throttled) with the form as
//! typed (never a password or secret) and the reason right after the field it is about
//! (`id="…-error"`), not on a page of its own. Success says so.

use crate::common::browser::{location, Browser, PASSWORD};
use crate::common::TestApp;
use crate::inspector::send;

/// Where the element with `id` starts (the `<` of its tag).
fn element_at(html: &str, id: &str) -> usize {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page:\n{html}"));
    html[..at].rfind('<').expect("tag start")
}

/// The opening tag of the element with `id`.
fn tag_of<'a>(html: &'a str, id: &str) -> &'a str {
    let start = element_at(html, id);
    let end = html[start..].find('>').expect("tag end") + start;
    &html[start..=end]
}

/// The reason shown for `field` (`#error_id`), which comes right after the field: no other
/// input, select or textarea between them.
fn error_next_to(html: &str, field: &str, error_id: &str) -> String {
    let f = element_at(html, field);
    let e = element_at(html, error_id);
    assert!(f < e, "#{error_id} comes after #{field}");
    let between = &html[f + 1..e];
    for other in ["<input", "<select", "<textarea", "<label"] {
        assert!(
            !between.contains(other),
            "nothing ({other}) between #{field} and its error #{error_id}: {between}"
        );
    }
    let start = html[e..].find('>').expect("tag end") + e + 1;
    let end = html[start..].find('<').expect("text end") + start;
    html[start..end].to_string()
}

/// Posts a form that is refused; returns the page, asserting the status and that no other
/// error is shown.
async fn refused(
    b: &Browser,
    action: &str,
    from: &str,
    fields: &[(&str, &str)],
    status: u16,
) -> String {
    let r = b.post_form(action, from, fields).await;
    assert_eq!(r.status(), status, "{action} {fields:?}");
    let html = r.text().await.expect("body");
    assert!(
        html.contains("<form"),
        "{action}: the page with its form, not a bare error page"
    );
    html
}

fn assert_value(html: &str, id: &str, typed: &str) {
    let tag = tag_of(html, id);
    assert!(
        tag.contains(&format!("value=\"{typed}\"")),
        "#{id} keeps {typed:?}: {tag}"
    );
}

fn assert_selected(html: &str, select_id: &str, value: &str) {
    let start = element_at(html, select_id);
    let end = html[start..].find("</select>").expect("select end") + start;
    assert!(
        html[start..end].contains(&format!("value=\"{value}\" selected")),
        "#{select_id} keeps {value:?} chosen"
    );
}

async fn account(app: &TestApp, email: &str) -> (Browser, String, String, String) {
    let (b, token) = app.account(email).await;
    let (endpoint, url) = app.create_endpoint(&token, "Forms").await;
    (b, token, endpoint, url)
}

#[tokio::test]
async fn the_endpoint_forms_keep_their_input_with_the_reason_next_to_the_field() {
    let app = TestApp::spawn().await;
    let (b, _, endpoint, _) = account(&app, "endpoint-forms@example.com").await;
    let page = format!("/endpoints/{endpoint}");
    let long = "n".repeat(101);

    let html = refused(&b, "/endpoints", "/", &[("name", &long)], 422).await;
    assert_value(&html, "name", &long);
    assert_eq!(
        error_next_to(&html, "name", "name-error"),
        "The name can have at most 100 characters."
    );

    let html = refused(
        &b,
        &format!("{page}/rename"),
        &page,
        &[("name", &long)],
        422,
    )
    .await;
    assert_value(&html, "rename", &long);
    assert_eq!(
        error_next_to(&html, "rename", "rename-error"),
        "The name can have at most 100 characters."
    );

    let fields = [
        ("status", "200"),
        ("content_type", "text/plain"),
        ("body", "kept body"),
        ("headers", ""),
        ("delay_ms", "soon"),
    ];
    let html = refused(&b, &format!("{page}/response"), &page, &fields, 422).await;
    assert_value(&html, "delay_ms", "soon");
    assert!(html.contains(">kept body</textarea>"), "the body is kept");
    assert_eq!(
        error_next_to(&html, "delay_ms", "delay-error"),
        "Delay must be a number of milliseconds."
    );
    let mut bad_status = fields;
    bad_status[0] = ("status", "42");
    bad_status[4] = ("delay_ms", "0");
    let html = refused(&b, &format!("{page}/response"), &page, &bad_status, 422).await;
    assert_value(&html, "status", "42");
    assert!(error_next_to(&html, "status", "status-error").contains("200"));

    let html = refused(
        &b,
        &format!("{page}/signing"),
        &page,
        &[("scheme", "stripe"), ("secret", "")],
        422,
    )
    .await;
    assert_selected(&html, "signing-scheme", "stripe");
    assert!(
        error_next_to(&html, "signing-secret", "signing-error").contains("secret"),
        "the reason is about the secret"
    );

    // Success says so, on the page the form redirects to.
    let r = b
        .post_form("/endpoints", "/", &[("name", "Second endpoint")])
        .await;
    assert_eq!(r.status(), 303);
    let created = b.get_html(&location(&r)).await;
    assert!(
        created.contains("Endpoint &quot;Second endpoint&quot; created.")
            || created.contains("Endpoint &#34;Second endpoint&#34; created."),
        "the creation notice"
    );
    let r = b
        .post_form(
            &format!("{page}/response"),
            &page,
            &[
                ("status", "201"),
                ("content_type", "text/plain"),
                ("body", "ok"),
                ("headers", ""),
                ("delay_ms", "0"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(b
        .get_html(&page)
        .await
        .contains("id=\"flash\">Response saved: new captures get it.</p>"));
    let r = b
        .post_form(
            &format!("{page}/signing"),
            &page,
            &[("scheme", "stripe"), ("secret", "whsec_abc")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(b
        .get_html(&page)
        .await
        .contains("id=\"flash\">Signature check saved: new captures are checked with it.</p>"));
}

#[tokio::test]
async fn the_saved_target_form_shows_each_refusal_next_to_its_own_field() {
    let app = TestApp::spawn().await;
    let (b, _, endpoint, _) = account(&app, "target-forms@example.com").await;
    let action = format!("/endpoints/{endpoint}/targets");
    let page = format!("/endpoints/{endpoint}/replays");
    let target = |name: &'static str,
                  url: &'static str,
                  scheme: &'static str,
                  secret: &'static str,
                  attempts: &'static str| {
        [
            ("name", name),
            ("target_url", url),
            ("scheme", scheme),
            ("secret", secret),
            ("max_attempts", attempts),
        ]
    };

    let long = "n".repeat(101);
    let mut long_name = target("", "http://127.0.0.1:9/hook", "none", "", "1");
    long_name[0] = ("name", &long);
    for (fields, field, error_id, says) in [
        (
            target("dev", "ftp://example.com/hook", "none", "", "1"),
            "t-url",
            "t-url-error",
            "http",
        ),
        (
            target("dev", "http://127.0.0.1:9/hook", "paypal", "", "1"),
            "t-scheme",
            "t-scheme-error",
            "unknown signing scheme",
        ),
        (
            target("dev", "http://127.0.0.1:9/hook", "stripe", "", "1"),
            "t-secret",
            "t-secret-error",
            "signing with Stripe needs a secret",
        ),
        (
            target("dev", "http://127.0.0.1:9/hook", "none", "", "many"),
            "t-attempts",
            "t-attempts-error",
            "Attempts must be a number from 1 to 10.",
        ),
        (
            target("dev", "http://127.0.0.1:9/hook", "none", "", "11"),
            "t-attempts",
            "t-attempts-error",
            "max_attempts must be between 1 and 10",
        ),
        (
            long_name,
            "t-name",
            "t-name-error",
            "The name can have at most 100 characters.",
        ),
    ] {
        let html = refused(&b, &action, &page, &fields, 422).await;
        let error = error_next_to(&html, field, error_id);
        assert!(error.contains(says), "{fields:?}: {error}");
        // Every other field keeps what was typed (the secret is never sent back).
        assert_value(&html, "t-name", fields[0].1);
        assert_value(&html, "t-url", fields[1].1);
        if fields[2].1 != "paypal" {
            assert_selected(&html, "t-scheme", fields[2].1);
        }
        assert_value(&html, "t-attempts", fields[4].1);
        assert!(
            tag_of(&html, "t-secret").contains("type=\"password\"")
                && !tag_of(&html, "t-secret").contains("value="),
            "the secret is not kept"
        );
    }

    let r = b
        .post_form(
            &action,
            &page,
            &target("dev", "http://127.0.0.1:9/hook", "none", "", "2"),
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(b
        .get_html(&page)
        .await
        .contains("id=\"flash\">Target saved.</p>"));
}

#[tokio::test]
async fn the_replay_form_shows_each_refusal_next_to_its_own_field_and_keeps_the_input() {
    let app = TestApp::spawn().await;
    let (b, _, _, url) = account(&app, "replay-forms@example.com").await;
    let id = send(&url, &[("Content-Type", "application/json")], "{}").await;
    let action = format!("/requests/{id}/replay");
    for (mode, target_url, scheme, secret, field, error_id, says) in [
        (
            "url",
            "localhost:8000/webhooks",
            "none",
            "",
            "target_url",
            "target-url-error",
            "",
        ),
        (
            "url",
            "http://127.0.0.1:9/hook",
            "stripe",
            "",
            "secret",
            "secret-error",
            "signing with Stripe needs a secret",
        ),
        (
            "url",
            "http://127.0.0.1:9/hook",
            "paypal",
            "x",
            "scheme",
            "scheme-error",
            "unknown signing scheme",
        ),
        (
            "url",
            "http://127.0.0.1:9/hook",
            "standard-webhooks",
            "whsec_!!!",
            "secret",
            "secret-error",
            "",
        ),
    ] {
        let fields = [
            ("mode", mode),
            ("target_url", target_url),
            ("scheme", scheme),
            ("secret", secret),
            ("action", "replay"),
        ];
        let html = refused(&b, &action, &action, &fields, 422).await;
        let error = error_next_to(&html, field, error_id);
        assert!(
            !error.is_empty() && error.contains(says),
            "{fields:?}: {error}"
        );
        assert!(
            !html.contains("id=\"replay-error\""),
            "one reason, by its field"
        );
        assert_value(&html, "target_url", target_url);
        if scheme != "paypal" {
            assert_selected(&html, "scheme", scheme);
        }
        assert!(
            !tag_of(&html, "secret").contains("value="),
            "the secret is not sent back"
        );
    }
    // Nothing was queued.
    let history = b.get_html(&action).await;
    assert!(!history.contains("127.0.0.1:9/hook</"), "no replay queued");

    // The audit form, the same way.
    let audit = format!("/requests/{id}/audit");
    for (target_url, scheme, secret, field, error_id) in [
        (
            "localhost:8000/hook",
            "stripe",
            "whsec_x",
            "target_url",
            "target-url-error",
        ),
        (
            "http://127.0.0.1:9/hook",
            "stripe",
            "",
            "secret",
            "secret-error",
        ),
        (
            "http://127.0.0.1:9/hook",
            "paypal",
            "x",
            "scheme",
            "scheme-error",
        ),
    ] {
        let fields = [
            ("target_url", target_url),
            ("scheme", scheme),
            ("secret", secret),
        ];
        let html = refused(&b, &audit, &audit, &fields, 422).await;
        assert!(
            !error_next_to(&html, field, error_id).is_empty(),
            "{fields:?}"
        );
        assert!(
            !html.contains("id=\"audit-error\""),
            "one reason, by its field"
        );
        assert_value(&html, "target_url", target_url);
        assert!(
            !tag_of(&html, "secret").contains("value="),
            "the secret is not kept"
        );
    }
}

#[tokio::test]
async fn the_account_forms_keep_the_typed_address_with_the_reason_next_to_the_field() {
    let app = TestApp::spawn().await;
    let (b, _) = app.account("account-forms@example.com").await;

    let html = refused(
        &b,
        "/settings/password",
        "/settings",
        &[
            ("current_password", "wrong password"),
            ("new_password", "a new password"),
        ],
        422,
    )
    .await;
    assert_eq!(
        error_next_to(&html, "current-password", "current-password-error"),
        "The current password is incorrect."
    );
    let html = refused(
        &b,
        "/settings/password",
        "/settings",
        &[("current_password", PASSWORD), ("new_password", "short")],
        422,
    )
    .await;
    assert!(error_next_to(&html, "new-password", "new-password-error").contains("8"));
    assert!(
        !html.contains("value=\"short\""),
        "passwords are never sent back"
    );

    let html = refused(
        &b,
        "/settings/email",
        "/settings",
        &[
            ("new_email", "not-an-address"),
            ("current_password", PASSWORD),
        ],
        422,
    )
    .await;
    assert_value(&html, "new-email", "not-an-address");
    assert_eq!(
        error_next_to(&html, "new-email", "new-email-error"),
        "Enter a valid email address."
    );
    let html = refused(
        &b,
        "/settings/email",
        "/settings",
        &[
            ("new_email", "new@example.org"),
            ("current_password", "wrong"),
        ],
        422,
    )
    .await;
    assert_value(&html, "new-email", "new@example.org");
    assert_eq!(
        error_next_to(&html, "email-password", "email-password-error"),
        "The current password is incorrect."
    );

    let long = "t".repeat(101);
    let html = refused(&b, "/settings/tokens", "/settings", &[("name", &long)], 422).await;
    assert_value(&html, "token-name", &long);
    assert_eq!(
        error_next_to(&html, "token-name", "token-error"),
        "The name can have at most 100 characters."
    );

    // Deleting the account asks first; a wrong password there is refused next to the field.
    let r = b
        .post_form(
            "/settings/delete",
            "/settings",
            &[("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/settings/delete", "sent to the confirmation");
    let html = refused(
        &b,
        "/settings/delete",
        "/settings/delete",
        &[("confirm", "yes"), ("current_password", "wrong")],
        422,
    )
    .await;
    assert_eq!(
        error_next_to(&html, "delete-password", "delete-password-error"),
        "The current password is incorrect."
    );
    assert_eq!(b.get("/settings").await.status(), 200, "still there");

    // Success says so.
    let r = b
        .post_form(
            "/settings/password",
            "/settings",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a new password"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("id=\"password-changed\""));
    let r = b
        .post_form(
            "/settings/email",
            "/settings",
            &[
                ("new_email", "moved@example.org"),
                ("current_password", "a new password"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("We sent a link to moved@example.org."));
}

#[tokio::test]
async fn the_signup_form_shows_each_refusal_next_to_its_own_field_and_keeps_the_address() {
    let app = TestApp::spawn().await;
    app.account("taken@example.com").await;
    let b = app.browser();

    let html = refused(
        &b,
        "/signup",
        "/signup",
        &[("email", "not-an-address"), ("password", PASSWORD)],
        422,
    )
    .await;
    assert_value(&html, "email", "not-an-address");
    assert_eq!(
        error_next_to(&html, "email", "email-error"),
        "Enter a valid email address."
    );
    assert!(!html.contains("id=\"password-error\""));

    let html = refused(
        &b,
        "/signup",
        "/signup",
        &[("email", "new@example.com"), ("password", "short")],
        422,
    )
    .await;
    assert_value(&html, "email", "new@example.com");
    assert!(error_next_to(&html, "password", "password-error").contains("8"));
    assert!(!html.contains("id=\"email-error\""));
    assert!(
        !html.contains("value=\"short\""),
        "passwords are never sent back"
    );

    let html = refused(
        &b,
        "/signup",
        "/signup",
        &[("email", "taken@example.com"), ("password", PASSWORD)],
        422,
    )
    .await;
    assert_value(&html, "email", "taken@example.com");
    assert_eq!(
        error_next_to(&html, "email", "email-error"),
        "An account with this email already exists. Log in instead."
    );
}
