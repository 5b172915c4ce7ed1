//! The capture origin: `--capture-url` is the base of every capture URL shown, and on a host of
//! its own one process routes by `Host` — the capture host serves only `/in/…` and health
//! checks, the dashboard's host no `/in/…`. An https dashboard does not share its host with
//! capture unless told to.

use hookvault_server::{Role, Server};

use crate::common::raw_http::{self, RawResponse};
use crate::common::{assert_inert_raw, TestApp};

/// One raw request to the test server with this `Host`.
async fn send(app: &TestApp, method: &str, target: &str, host: &str, body: &[u8]) -> RawResponse {
    let bytes = raw_http::request_bytes(method, target, host, &[], body);
    raw_http::send(app.server.addr, &bytes)
        .await
        .expect("raw request")
}

#[tokio::test]
async fn with_a_capture_url_on_another_host_capture_urls_use_it_and_each_host_serves_only_its_part()
{
    let app = TestApp::spawn_two_origins().await;
    let port = app.server.addr.port();
    let capture_host = format!("localhost:{port}");
    let dashboard_host = format!("127.0.0.1:{port}");
    let (browser, token) = app.account("origins@example.com").await;
    let (endpoint, url) = app.create_endpoint(&token, "origins").await;
    let capture_base = format!("http://localhost:{port}/in/");
    assert!(url.starts_with(&capture_base), "API url {url}");
    let path = url
        .strip_prefix(&format!("http://localhost:{port}"))
        .unwrap();

    // The pages show the capture origin, including the curl example.
    let list = browser.get_html("/").await;
    assert!(list.contains(&url), "the endpoint list shows {url}");
    let page = browser.get_html(&format!("/endpoints/{endpoint}")).await;
    assert!(page.contains(&url), "the endpoint page shows {url}");
    assert!(
        !page.contains(&format!("http://127.0.0.1:{port}/in/")),
        "no capture URL on the dashboard's host"
    );

    // Capture on the capture host.
    let r = send(
        &app,
        "POST",
        path,
        &capture_host,
        b"{\"on\":\"capture host\"}",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_inert_raw(&r, "capture on the capture host");
    let id = r.header("x-hookvault-request-id").expect("id").to_string();
    let request_page = browser.get_html(&format!("/requests/{id}")).await;
    let curl = request_page
        .split("id=\"curl\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .expect("the curl command");
    assert!(
        curl.starts_with(&format!("curl -X POST &#x27;{url}&#x27;"))
            || curl.starts_with(&format!("curl -X POST &#39;{url}&#39;"))
            || curl.starts_with(&format!("curl -X POST {url} ")),
        "the curl command targets the capture origin: {curl}"
    );

    // The dashboard's host serves no /in/…: nothing stored.
    let r = send(
        &app,
        "POST",
        path,
        &dashboard_host,
        b"{\"on\":\"dashboard host\"}",
    )
    .await;
    assert_eq!(r.status, 404, "/in/… on the dashboard's host");
    assert_eq!(
        app.stored_requests().await,
        1,
        "only the capture-host request was stored"
    );

    // The capture host serves nothing of the dashboard, but health checks.
    for target in [
        "/",
        "/login",
        "/signup",
        "/settings",
        "/static/app.js",
        "/api/v1/endpoints",
    ] {
        let r = send(&app, "GET", target, &capture_host, b"").await;
        assert_eq!(r.status, 404, "GET {target} on the capture host");
        assert_inert_raw(&r, "404 on the capture host");
        assert!(
            r.header("set-cookie").is_none(),
            "no session on the capture host"
        );
    }
    let r = send(&app, "POST", "/login", &capture_host, b"").await;
    assert_eq!(r.status, 404, "no login form posts on the capture host");
    for host in [&capture_host, &dashboard_host] {
        assert_eq!(
            send(&app, "GET", "/healthz", host, b"").await.status,
            200,
            "{host}"
        );
        assert_eq!(
            send(&app, "GET", "/readyz", host, b"").await.status,
            200,
            "{host}"
        );
    }
    assert_eq!(
        send(&app, "GET", "/login", &dashboard_host, b"")
            .await
            .status,
        200
    );

    // Through real name resolution as well.
    let r = crate::common::browser::api_client()
        .post(&url)
        .body("via localhost")
        .send()
        .await
        .expect("POST to the capture URL");
    assert_eq!(r.status(), 200);
    assert_eq!(app.stored_requests().await, 2);
}

#[tokio::test]
async fn an_https_public_url_without_a_capture_host_of_its_own_refuses_to_start_unless_told() {
    let data = crate::common::tempdir::TempDir::new();
    let db = crate::common::fresh_database().await;
    let mut cfg = crate::common::config(db.options(), &data.0);
    cfg.public_url = Some("https://hooks.example.com".into());
    match Server::start(cfg.clone()).await {
        Ok(s) => {
            s.stop().await;
            panic!("started with capture URLs on the https dashboard's host");
        }
        Err(e) => {
            let text = format!("{e:#}");
            assert!(
                text.contains("--capture-url") && text.contains("--shared-capture-origin"),
                "the refusal says what to do: {text}"
            );
        }
    }
    let mut same_host = cfg.clone();
    same_host.capture_url = Some("https://hooks.example.com:8443".into());
    assert!(
        Server::start(same_host).await.is_err(),
        "another port on the same host is the same host"
    );

    let mut own_host = cfg.clone();
    own_host.capture_url = Some("https://hooks-capture.example.net".into());
    let server = Server::start(own_host)
        .await
        .expect("a capture host of its own");
    assert_eq!(server.capture_url, "https://hooks-capture.example.net");
    server.stop().await;

    let mut told = cfg;
    told.shared_capture_origin = true;
    let server = Server::start(told)
        .await
        .expect("sharing accepted explicitly");
    assert_eq!(server.capture_url, "https://hooks.example.com");
    server.stop().await;
}

#[tokio::test]
async fn a_web_role_process_shows_capture_urls_of_the_capture_process() {
    let db = crate::common::fresh_database().await;
    let options = db.options();
    let capture_dir = crate::common::tempdir::TempDir::new();
    let mut capture_cfg = crate::common::config(options.clone(), &capture_dir.0);
    capture_cfg.role = Role::Capture;
    let capture = TestApp::attach(Server::start(capture_cfg).await.expect("capture role"));

    let web_dir = crate::common::tempdir::TempDir::new();
    let mut web_cfg = crate::common::config(options, &web_dir.0);
    web_cfg.role = Role::Web;
    web_cfg.capture_url = Some(capture.url.clone());
    // Both processes seal with the same key.
    let key = std::fs::read_to_string(capture_dir.0.join("secret.key")).expect("key");
    web_cfg.secret_key = Some(hookvault_core::secretbox::SecretKey::parse(key.trim()).unwrap());
    let web = TestApp::attach(Server::start(web_cfg).await.expect("web role"));

    let token = web.signup_with_token("roles@example.com").await;
    let (id, url) = web.create_endpoint(&token, "split").await;
    assert!(
        url.starts_with(&format!("{}/in/", capture.url)),
        "the web process shows the capture process's URL: {url}"
    );
    let r = crate::common::browser::api_client()
        .post(&url)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the URL shown works");
    let list = web
        .api_json(&token, &format!("/api/v1/endpoints/{id}/requests"))
        .await;
    assert_eq!(list["requests"].as_array().map(Vec::len), Some(1));
    // The capture-only process answers health checks and nothing of the dashboard.
    let client = crate::common::browser::api_client();
    assert_eq!(
        client
            .get(capture.at("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(capture.at("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(capture.at("/login"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // And the web process no capture.
    let path = url.strip_prefix(&capture.url).unwrap();
    let r = client.post(web.at(path)).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 404);
}
