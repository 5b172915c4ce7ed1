//! Dashboard pages show attacker-controlled captures only escaped, under a strict
//! Content-Security-Policy, and serve raw bodies as sandboxed downloads.

use crate::common::raw_http;
use crate::common::TestApp;

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";
const JSON_BODY: &str =
    r#"{"<script>alert(1)</script>":"<script>alert(1)</script>","n":[1,"\"><img src=x>"]}"#;
const FORM_BODY: &str =
    "a=%3Cscript%3Ealert(1)%3C%2Fscript%3E&%22%3E%3Cimg+src%3Dx+onerror%3Dalert(1)%3E=1";

/// What a case is called, the path suffix and query, its headers and its body.
type HostileCase = (
    &'static str,
    String,
    Vec<(&'static str, &'static str)>,
    Vec<u8>,
);

/// Captures over raw TCP (so the header value arrives exactly) and returns the request id.
async fn capture_raw(
    app: &TestApp,
    url: &str,
    target_suffix: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> String {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let target = format!("{}{target_suffix}", app.capture_path(url));
    let bytes = raw_http::request_bytes("POST", &target, &app.host(), &headers, body);
    let r = raw_http::send(app.server.addr, &bytes)
        .await
        .expect("capture");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.header("x-hookvault-request-id")
        .expect("request id")
        .to_string()
}

/// The directive `name` of a CSP, falling back to `default-src` as browsers do.
fn directive<'a>(csp: &'a str, name: &str) -> Option<&'a str> {
    let find = |n: &str| {
        csp.split(';')
            .map(str::trim)
            .find(|d| d.split_whitespace().next() == Some(n))
    };
    find(name).or_else(|| find("default-src"))
}

/// Decodes the character references askama and the body renderer produce.
fn unescape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn assert_no_raw_markup(html: &str, what: &str) {
    for bad in ["<script>alert", "<img src=x", "onerror=alert(1)>"] {
        assert!(!html.contains(bad), "{what}: raw {bad:?} in the page");
    }
}

#[tokio::test]
async fn a_hostile_capture_appears_on_the_request_page_only_escaped_under_a_strict_csp() {
    let app = TestApp::spawn().await;
    let (b, token) = app.account("xss@example.com").await;
    let (ep, url) = app.create_endpoint(&token, "xss").await;

    let cases: Vec<HostileCase> = vec![
        (
            "text body",
            "/t?q=%3Cscript%3Ealert(1)%3C/script%3E".into(),
            vec![("Content-Type", "text/html"), ("X-Evil", IMG)],
            SCRIPT.as_bytes().to_vec(),
        ),
        (
            "JSON body",
            "/j".into(),
            vec![("Content-Type", "application/json"), ("X-Evil", IMG)],
            JSON_BODY.as_bytes().to_vec(),
        ),
        (
            "form body",
            "/f".into(),
            vec![
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("X-Evil", IMG),
            ],
            FORM_BODY.as_bytes().to_vec(),
        ),
        (
            "binary body",
            "/b".into(),
            vec![
                ("Content-Type", "application/octet-stream"),
                ("X-Evil", IMG),
            ],
            [SCRIPT.as_bytes(), b"\x00\xff\xfe", IMG.as_bytes()].concat(),
        ),
    ];
    for (what, suffix, headers, body) in cases {
        let id = capture_raw(&app, &url, &suffix, &headers, &body).await;
        let r = b.get(&format!("/requests/{id}")).await;
        assert_eq!(r.status(), 200, "{what}");
        let csp = r
            .headers()
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{what}: the page has a CSP"))
            .to_str()
            .unwrap()
            .to_string();
        let script_src = directive(&csp, "script-src")
            .unwrap_or_else(|| panic!("{what}: CSP limits scripts: {csp}"));
        assert!(!script_src.contains("'unsafe-inline'"), "{what}: {csp}");
        assert!(!script_src.contains("'unsafe-eval'"), "{what}: {csp}");
        assert!(!script_src.contains('*'), "{what}: {csp}");
        let html = r.text().await.unwrap();
        assert_no_raw_markup(&html, what);
        let text = unescape_html(&html);
        assert!(
            text.contains(IMG),
            "{what}: the header value is shown (escaped)"
        );
        // Form fields are decoded before display; a binary body is shown as a hex dump.
        if what != "binary body" {
            assert!(text.contains(SCRIPT), "{what}: the body is shown (escaped)");
        }
    }

    // The list page shows the hostile path and query escaped, too.
    let r = b.get(&format!("/endpoints/{ep}")).await;
    assert!(r.headers().contains_key("content-security-policy"));
    assert_no_raw_markup(&r.text().await.unwrap(), "endpoint page");
}

#[tokio::test]
async fn the_raw_body_is_a_sandboxed_download_that_is_never_sniffed() {
    let app = TestApp::spawn().await;
    let (b, token) = app.account("raw@example.com").await;
    let (_, url) = app.create_endpoint(&token, "raw").await;
    let body = format!("<html><body>{SCRIPT}</body></html>");
    let id = capture_raw(
        &app,
        &url,
        "",
        &[("Content-Type", "text/html; charset=utf-8")],
        body.as_bytes(),
    )
    .await;
    let r = b.get(&format!("/requests/{id}/raw")).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    let disposition = h["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.split(';')
            .any(|d| d.split_whitespace().next() == Some("sandbox")),
        "CSP sandboxes the download: {csp}"
    );
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        body.as_bytes(),
        "the exact bytes"
    );

    // The API's body download is an attachment, sandboxed and unsniffed as well.
    let r = app
        .api_get(&token, &format!("/api/v1/requests/{id}/body"))
        .await;
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let disposition = r.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment"),
        "the API body is a download, never rendered: {disposition}"
    );
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("sandbox"), "{csp}");
}

#[tokio::test]
async fn every_dashboard_answer_carries_a_request_id_and_errors_are_a_page_that_says_why() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.at("/login")).send().await.unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let r = app
        .client
        .get(app.at("/api/v1/endpoints"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["x-request-id"],
        "trace-me-42",
        "a given id is kept"
    );

    app.signup("errors@example.com", "correct horse battery")
        .await;
    let r = app
        .client
        .get(app.at("/endpoints/00000000-0000-0000-0000-000000000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let html = r.text().await.unwrap();
    assert!(html.contains("<title>Not Found · Hookvault</title>") && html.contains("not found"));
}
