//! SSRF closed by default: private and loopback replay targets only when the public URL is
//! loopback (however the process is bound), link-local, metadata and unspecified addresses
//! never, and no credentials in target URLs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::common::browser::{api_client, PASSWORD};
use crate::common::TestApp;

/// A listener on 127.0.0.1 that answers 200 and counts connections.
struct Listener {
    port: u16,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    async fn start() -> Listener {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            }
        });
        Listener {
            port,
            connections,
            task,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Signs up over plain HTTP although the public URL is https: the `Secure` session cookie is
/// carried by hand (a cookie store would rightly not send it over http). Returns an API token.
async fn signup_by_hand(app: &TestApp, email: &str) -> String {
    let client = api_client();
    let r = client.get(app.at("/signup")).send().await.unwrap();
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-hookvault="))
        .and_then(|v| v.split(';').next())
        .expect("a __Host- session cookie under an https public URL")
        .to_string();
    let csrf = crate::common::extract_csrf(&r.text().await.unwrap());
    let r = client
        .post(app.at("/signup"))
        .header("cookie", cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "sign-up");
    app.token(email, PASSWORD).await
}

/// Captures one request through `capture_url`'s path on this server; returns its id.
async fn capture_one(app: &TestApp, capture_url: &str) -> String {
    let path = &capture_url[capture_url.find("/in/").expect("a capture URL")..];
    let r = api_client()
        .post(app.at(path))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.headers()["x-hookvault-request-id"]
        .to_str()
        .unwrap()
        .to_string()
}

async fn replay_to(app: &TestApp, token: &str, request_id: &str, url: &str) -> (u16, Value) {
    let r = app
        .api(
            Method::POST,
            token,
            &format!("/api/v1/requests/{request_id}/replays"),
        )
        .json(&json!({"target_url": url}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn with_an_https_public_url_and_a_loopback_listener_replays_to_loopback_are_refused_by_default(
) {
    let mut app = TestApp::spawn_with(|c| {
        c.public_url = Some("https://hooks.example.com".into());
        c.shared_capture_origin = true;
        c.private_targets = None;
        assert!(c.listen.ip().is_loopback(), "the listener is loopback");
    })
    .await;
    app.url = format!("http://{}", app.server.addr);
    let token = signup_by_hand(&app, "hosted@example.com").await;
    let (endpoint, capture_url) = app.create_endpoint(&token, "hosted").await;
    let request_id = capture_one(&app, &capture_url).await;
    let local = Listener::start().await;

    for url in [
        format!("http://127.0.0.1:{}/hook", local.port),
        format!("http://localhost:{}/hook", local.port),
        format!("http://[::ffff:127.0.0.1]:{}/hook", local.port),
    ] {
        let (status, body) = replay_to(&app, &token, &request_id, &url).await;
        assert_eq!(status, 422, "{url}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("refused: "), "{url}: {message}");
        let r = app
            .api(
                Method::POST,
                &token,
                &format!("/api/v1/endpoints/{endpoint}/targets"),
            )
            .json(&json!({"name": "local", "url": url}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "saved target {url}");
    }
    let (status, body) = replay_to(
        &app,
        &token,
        &request_id,
        &format!("http://127.0.0.1:{}/hook", local.port),
    )
    .await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (422, Some("refused: private address 127.0.0.1"))
    );
    assert_eq!(local.connections(), 0, "the loopback listener was reached");
}

#[tokio::test]
async fn a_loopback_public_url_allows_replays_to_loopback_by_default() {
    let app = TestApp::spawn_with(|c| c.private_targets = None).await;
    let token = app.signup_with_token("local@example.com").await;
    let (_, capture_url) = app.create_endpoint(&token, "local").await;
    let request_id = capture_one(&app, &capture_url).await;
    let local = Listener::start().await;
    let (status, body) = replay_to(
        &app,
        &token,
        &request_id,
        &format!("http://127.0.0.1:{}/hook", local.port),
    )
    .await;
    assert_eq!(status, 202, "{body}");
}

#[tokio::test]
async fn metadata_link_local_and_unspecified_targets_are_refused_even_with_private_targets_allow() {
    // The harness runs with `allow` (tests replay to local servers).
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("metadata@example.com").await;
    let (endpoint, capture_url) = app.create_endpoint(&token, "metadata").await;
    let request_id = capture_one(&app, &capture_url).await;
    let local = Listener::start().await;
    for (url, reason) in [
        (
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/".to_string(),
            "refused: link-local address 169.254.169.254",
        ),
        (
            "http://[fd00:ec2::254]/latest/meta-data/".to_string(),
            "refused: cloud metadata address fd00:ec2::254",
        ),
        (
            "http://[fe80::1]/".to_string(),
            "refused: link-local address fe80::1",
        ),
        (
            // On Linux 0.0.0.0 reaches this machine's listeners.
            format!("http://0.0.0.0:{}/", local.port),
            "refused: unspecified address 0.0.0.0",
        ),
    ] {
        let (status, body) = replay_to(&app, &token, &request_id, &url).await;
        assert_eq!(
            (status, body["error"]["message"].as_str()),
            (422, Some(reason)),
            "{url}"
        );
        let r = app
            .api(
                Method::POST,
                &token,
                &format!("/api/v1/endpoints/{endpoint}/targets"),
            )
            .json(&json!({"name": "meta", "url": url}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "saved target {url}");
    }
    assert_eq!(local.connections(), 0);
    // While loopback itself is allowed under `allow`.
    let (status, _) = replay_to(
        &app,
        &token,
        &request_id,
        &format!("http://127.0.0.1:{}/", local.port),
    )
    .await;
    assert_eq!(status, 202);
}

#[tokio::test]
async fn a_target_url_with_credentials_is_refused_with_the_reason_in_the_api_and_on_the_form() {
    let app = TestApp::spawn().await;
    let (browser, token) = app.account("userinfo@example.com").await;
    let (endpoint, capture_url) = app.create_endpoint(&token, "userinfo").await;
    let request_id = capture_one(&app, &capture_url).await;
    let local = Listener::start().await;
    let url = format!("http://user:s3cret@127.0.0.1:{}/hook", local.port);

    let (status, body) = replay_to(&app, &token, &request_id, &url).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (
            422,
            Some("refused: the URL contains a user name or password")
        )
    );
    let r = app
        .api(
            Method::POST,
            &token,
            &format!("/api/v1/endpoints/{endpoint}/targets"),
        )
        .json(&json!({"name": "creds", "url": url}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "saved target");

    let page = format!("/requests/{request_id}/replay");
    let r = browser
        .post_form(
            &page,
            &page,
            &[("mode", "url"), ("target_url", &url), ("scheme", "none")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("refused: the URL contains a user name or password"),
        "the form says why: {html}"
    );
    assert_eq!(local.connections(), 0);
}
