//! Capture: what a sender posts comes back byte for byte, and bad input is refused without
//! storing anything or hurting the server.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::common::raw_http;
use crate::common::TestApp;
use base64::Engine;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// The suffix and raw query every fidelity capture is sent with.
const SUFFIX: &str = "/hooks/1/a%2Fb%20c";
const QUERY: &str = "x=1&x=2&empty=&flag";

/// Framing and hop-by-hop headers: the test sends its own `Host` and `Content-Length`.
const NOT_SENT: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",
];

// ---------------------------------------------------------------------------------------------
// Fidelity

#[tokio::test]
async fn every_fixture_payload_comes_back_with_identical_body_headers_path_and_query() {
    let cases = fixture_cases();
    println!("{} fixture captures to check", cases.len());
    assert!(
        cases.len() > 50,
        "the fixture corpus was found ({} cases)",
        cases.len()
    );
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("fidelity@example.com").await;
    let (_, url) = app.create_endpoint(&token, "fidelity").await;
    let target = format!("{}{SUFFIX}?{QUERY}", app.capture_path(&url));

    let mut failures = Vec::new();
    for case in &cases {
        if let Err(e) = check_round_trip(&app, &token, &target, case).await {
            failures.push(format!("{}: {e}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures did not round-trip:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn interleaved_repeated_headers_keep_their_case_values_and_order() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("dup@example.com").await;
    let (_, url) = app.create_endpoint(&token, "dup").await;
    let target = format!("{}{SUFFIX}?{QUERY}", app.capture_path(&url));
    let case = Case {
        name: "interleaved".into(),
        headers: vec![
            ("X-Dup".into(), "1".into()),
            ("Content-Type".into(), "text/plain; charset=utf-8".into()),
            ("x-dup".into(), "2".into()),
            ("X-DUP".into(), "three, with comma".into()),
            ("Stripe-Signature".into(), "t=1,v1=abc".into()),
        ],
        body: b"hello\r\nworld\x00\xff".to_vec(),
    };
    if let Err(e) = check_round_trip(&app, &token, &target, &case).await {
        panic!("{e}");
    }
}

/// Sends one case over raw TCP and compares what the API returns with what was sent.
async fn check_round_trip(
    app: &TestApp,
    token: &str,
    target: &str,
    case: &Case,
) -> Result<(), String> {
    let host = app.host();
    let bytes = raw_http::request_bytes("POST", target, &host, &case.headers, &case.body);
    let resp = raw_http::send(app.server.addr, &bytes)
        .await
        .map_err(|e| format!("sending: {e}"))?;
    if resp.status != 200 {
        return Err(format!(
            "capture answered {} ({})",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        ));
    }
    let id = resp
        .header("x-hookvault-request-id")
        .ok_or("no X-Hookvault-Request-Id in the capture response")?
        .to_string();

    let r = app.api_get(token, &format!("/api/v1/requests/{id}")).await;
    if r.status() != 200 {
        return Err(format!("GET request answered {}", r.status()));
    }
    let v: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;

    let mut expected: Vec<(String, String)> = vec![("Host".into(), host.clone())];
    expected.extend(case.headers.iter().cloned());
    expected.push(("Content-Length".into(), case.body.len().to_string()));
    let got: Vec<(String, String)> = v["headers"]
        .as_array()
        .ok_or("no headers array")?
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap_or("<not a string>").to_string(),
                p[1].as_str().unwrap_or("<not a string>").to_string(),
            )
        })
        .collect();
    if got != expected {
        return Err(format!(
            "headers differ:\n  sent {expected:?}\n  got  {got:?}"
        ));
    }
    if v["method"] != "POST" {
        return Err(format!("method is {}", v["method"]));
    }
    if v["path"] != SUFFIX {
        return Err(format!("path is {} instead of {SUFFIX:?}", v["path"]));
    }
    if v["query"] != QUERY {
        return Err(format!("query is {} instead of {QUERY:?}", v["query"]));
    }
    if v["body_size"] != case.body.len() {
        return Err(format!(
            "body_size is {} instead of {}",
            v["body_size"],
            case.body.len()
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD
        .decode(v["body_base64"].as_str().ok_or("no body_base64")?)
        .map_err(|e| format!("body_base64: {e}"))?;
    if b64 != case.body {
        return Err(format!(
            "body_base64 differs ({} bytes vs {} sent)",
            b64.len(),
            case.body.len()
        ));
    }

    let r = app
        .api_get(token, &format!("/api/v1/requests/{id}/body"))
        .await;
    if r.status() != 200 {
        return Err(format!("GET body answered {}", r.status()));
    }
    let sent_ct = case
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone());
    let got_ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(ct) = sent_ct {
        if got_ct.as_deref() != Some(ct.as_str()) {
            return Err(format!("body Content-Type is {got_ct:?}, sent {ct:?}"));
        }
    }
    let body = r.bytes().await.map_err(|e| e.to_string())?;
    if body.as_ref() != case.body.as_slice() {
        return Err(format!(
            "/body bytes differ ({} bytes vs {} sent)",
            body.len(),
            case.body.len()
        ));
    }
    Ok(())
}

/// One capture to send: headers in order (no Host or Content-Length) and the body.
struct Case {
    name: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Every payload of the shared corpus (when present) and of the in-repo copy, each with its
/// companion headers; header files without a payload are sent with an empty body.
fn fixture_cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = Vec::new();
    let shared = root.join("../../../shared/fixtures/webhooks");
    if shared.is_dir() {
        dirs.push(("shared", shared));
    } else {
        println!(
            "note: shared fixtures not found at {}; using the in-repo copy only",
            shared.display()
        );
    }
    let own = root.join("../../fixtures/webhooks");
    assert!(own.is_dir(), "in-repo fixtures at {}", own.display());
    dirs.push(("repo", own));

    let mut cases = Vec::new();
    for (label, dir) in dirs {
        let mut files = Vec::new();
        walk(&dir, &mut files);
        files.sort();
        let (header_files, bodies): (Vec<PathBuf>, Vec<PathBuf>) =
            files.into_iter().partition(|p| is_header_file(p));
        let mut used = BTreeSet::new();
        for body_path in bodies {
            let rel = body_path
                .strip_prefix(&dir)
                .unwrap_or(&body_path)
                .display()
                .to_string();
            let body = std::fs::read(&body_path).expect("read fixture");
            let headers = match companion(&body_path, &header_files) {
                Some(h) => {
                    used.insert(h.clone());
                    read_headers(&h)
                }
                None => default_headers(&body_path, &body),
            };
            cases.push(Case {
                name: format!("{label}:{rel}"),
                headers,
                body,
            });
        }
        for h in header_files.iter().filter(|h| !used.contains(*h)) {
            let rel = h.strip_prefix(&dir).unwrap_or(h).display().to_string();
            cases.push(Case {
                name: format!("{label}:{rel} (headers only)"),
                headers: read_headers(h),
                body: Vec::new(),
            });
        }
    }
    cases
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read fixture dir") {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "LICENSES" {
                walk(&path, out);
            }
            continue;
        }
        let is_doc = name.ends_with(".md") || name == "manifest.json";
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !is_doc && matches!(ext, "json" | "form" | "multipart" | "txt") {
            out.push(path);
        }
    }
}

fn is_header_file(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains("headers"))
}

/// `<stem>.headers.json` next to the payload, or the longest `<prefix>.headers.json` whose
/// prefix starts the payload's stem (`inbound-parse.headers.json` for
/// `inbound-parse.raw_data.multipart`).
fn companion(body: &Path, header_files: &[PathBuf]) -> Option<PathBuf> {
    let dir = body.parent()?;
    let stem = body.file_stem()?.to_str()?;
    header_files
        .iter()
        .filter(|h| h.parent() == Some(dir))
        .filter_map(|h| {
            let prefix = h.file_name()?.to_str()?.strip_suffix(".headers.json")?;
            (stem == prefix || stem.starts_with(&format!("{prefix}."))).then_some((prefix.len(), h))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, h)| h.clone())
}

/// A Content-Type from the payload's extension (multipart: the boundary from its first line).
fn default_headers(path: &Path, body: &[u8]) -> Vec<(String, String)> {
    let ct = match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "json" => "application/json".to_string(),
        "form" => "application/x-www-form-urlencoded".to_string(),
        "multipart" => {
            let text = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
            let boundary = text
                .lines()
                .map(str::trim)
                .find_map(|l| l.strip_prefix("--"))
                .unwrap_or_else(|| panic!("{}: no multipart boundary", path.display()))
                .to_string();
            format!("multipart/form-data; boundary={boundary}")
        }
        _ => "text/plain".to_string(),
    };
    vec![("Content-Type".to_string(), ct)]
}

/// Reads a header file: a JSON object (key order kept), a JSON array of `[name, value]` pairs or
/// `{"name","value"}` objects, or text lines `Name: value` (a leading `> ` as in curl -v logs is
/// dropped, as are request lines). Annotation keys (`_…`) and framing headers are left out.
fn read_headers(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).expect("read header file");
    let pairs = if path.extension().and_then(|e| e.to_str()) == Some("json") {
        serde_json::from_str::<OrderedHeaders>(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .0
    } else {
        text.lines()
            .map(|l| l.trim_start_matches('>').trim())
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| !n.is_empty() && !n.contains(' '))
            .map(|(n, v)| (n.to_string(), v.trim().to_string()))
            .collect()
    };
    let pairs: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(n, _)| !n.starts_with('_'))
        .filter(|(n, _)| !NOT_SENT.iter().any(|s| n.eq_ignore_ascii_case(s)))
        .collect();
    for (n, v) in &pairs {
        assert!(
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic() && b != b':'),
            "{}: header name {n:?} cannot be sent",
            path.display()
        );
        assert!(
            !v.contains(['\r', '\n']),
            "{}: header value of {n} cannot be sent",
            path.display()
        );
    }
    pairs
}

/// Header pairs from JSON, in document order (serde_json's map would sort the keys).
struct OrderedHeaders(Vec<(String, String)>);

impl<'de> Deserialize<'de> for OrderedHeaders {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(HeadersVisitor)
    }
}

struct HeadersVisitor;

fn value_text(v: serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

impl<'de> Visitor<'de> for HeadersVisitor {
    type Value = OrderedHeaders;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a header object or an array of header pairs")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedHeaders, A::Error> {
        let mut out = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
            out.push((k, value_text(v)));
        }
        Ok(OrderedHeaders(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OrderedHeaders, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<serde_json::Value>()? {
            let pair = match item {
                serde_json::Value::Array(mut a) if a.len() == 2 => {
                    let v = a.pop().unwrap_or_default();
                    let n = a.pop().unwrap_or_default();
                    (value_text(n), value_text(v))
                }
                serde_json::Value::Object(mut o) => (
                    value_text(o.remove("name").unwrap_or_default()),
                    value_text(o.remove("value").unwrap_or_default()),
                ),
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "unexpected header entry {other}"
                    )))
                }
            };
            out.push(pair);
        }
        Ok(OrderedHeaders(out))
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input

const ELEVEN_MIB: usize = 11 * 1024 * 1024;

#[tokio::test]
async fn an_unknown_capture_token_is_404_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("unknown@example.com").await;
    app.create_endpoint(&token, "real").await;
    for target in [
        "/in/NoSuchToken0000000000000",
        "/in/NoSuchToken0000000000000/a/b?c=d",
        "/in/",
    ] {
        let bytes = raw_http::request_bytes(
            "POST",
            target,
            &app.host(),
            &[("Content-Type".into(), "application/json".into())],
            b"{\"a\":1}",
        );
        let r = raw_http::send(app.server.addr, &bytes).await.expect("send");
        assert_eq!(r.status, 404, "POST {target}");
        assert!(r.header("x-hookvault-request-id").is_none());
        crate::common::assert_inert_raw(&r, "404 of an unknown token");
    }
    assert_eq!(app.stored_requests().await, 0, "nothing was stored");
}

#[tokio::test]
async fn an_11_mib_body_with_content_length_is_413_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("big@example.com").await;
    let (_, url) = app.create_endpoint(&token, "big").await;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {ELEVEN_MIB}\r\n\r\n",
        app.capture_path(&url),
        app.host()
    );
    let r = raw_http::send_streaming(app.server.addr, head.into_bytes(), vec![b'a'; ELEVEN_MIB])
        .await
        .expect("a response to the oversized request");
    assert_eq!(r.status, 413);
    crate::common::assert_inert_raw(&r, "413");
    assert_eq!(app.stored_requests().await, 0, "nothing was stored");
    assert_capture_works(&url).await;
}

#[tokio::test]
async fn an_11_mib_chunked_body_is_413_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("chunked@example.com").await;
    let (_, url) = app.create_endpoint(&token, "chunked").await;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
        app.capture_path(&url),
        app.host()
    );
    let chunk = vec![b'b'; 64 * 1024];
    let mut body = Vec::with_capacity(ELEVEN_MIB + 4096);
    for _ in 0..ELEVEN_MIB / chunk.len() {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let r = raw_http::send_streaming(app.server.addr, head.into_bytes(), body)
        .await
        .expect("a response to the oversized request");
    assert_eq!(r.status, 413);
    assert_eq!(app.stored_requests().await, 0, "nothing was stored");

    // The same through reqwest with a streamed body of unknown length.
    let chunks = (0..ELEVEN_MIB / (64 * 1024))
        .map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'c'; 64 * 1024])));
    let sent = reqwest::Client::new()
        .post(&url)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    // The server may answer before reading the whole body; either way nothing is stored.
    if let Ok(resp) = sent {
        assert_eq!(resp.status(), 413);
    }
    assert_eq!(app.stored_requests().await, 0, "nothing was stored");
    assert_capture_works(&url).await;
}

#[tokio::test]
async fn malformed_http_never_takes_the_server_down() {
    let app = TestApp::spawn().await;
    let token = app.signup_with_token("garbage@example.com").await;
    let (_, url) = app.create_endpoint(&token, "garbage").await;
    let path = app.capture_path(&url);
    let host = app.host();

    let mut huge_header = format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nX-Huge: ").into_bytes();
    huge_header.extend(std::iter::repeat_n(b'h', 1024 * 1024));
    huge_header.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\nhi");
    let many_headers = {
        let mut s = format!("POST {path} HTTP/1.1\r\nHost: {host}\r\n");
        for i in 0..500 {
            s.push_str(&format!("X-H{i}: {i}\r\n"));
        }
        s.push_str("Content-Length: 2\r\n\r\nhi");
        s.into_bytes()
    };
    let truncated_body = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1000\r\n\r\nonly a little"
    )
    .into_bytes();
    let truncated_chunked = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"
    )
    .into_bytes();
    let bad_chunk = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
    )
    .into_bytes();
    let conflicting_lengths = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde"
    )
    .into_bytes();
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("garbage bytes", (0..=255u8).cycle().take(4096).collect()),
        (
            "binary junk with CRLFs",
            b"\x00\x01\x02\r\n\r\n\xff\xfe\r\n\r\n".to_vec(),
        ),
        ("bad request line", b"THIS IS NOT HTTP\r\n\r\n".to_vec()),
        (
            "bad version",
            format!("POST {path} HTTP/9.9\r\nHost: {host}\r\n\r\n").into_bytes(),
        ),
        (
            "space in target",
            format!("POST /in/a b HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes(),
        ),
        (
            "header without colon",
            format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nNoColonHere\r\n\r\n").into_bytes(),
        ),
        ("huge header", huge_header),
        ("too many headers", many_headers),
        (
            "truncated head",
            format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Ty").into_bytes(),
        ),
        ("truncated body", truncated_body),
        ("truncated chunked body", truncated_chunked),
        ("bad chunk size", bad_chunk),
        ("conflicting content lengths", conflicting_lengths),
    ];
    let mut good = 0;
    for (what, bytes) in inputs {
        let answer = raw_http::send_and_close(app.server.addr, &bytes).await;
        if let Ok(answer) = &answer {
            // If the server answered at all, it refused the request.
            if let Some(status) = String::from_utf8_lossy(answer)
                .strip_prefix("HTTP/1.1 ")
                .and_then(|s| s.get(..3))
            {
                assert!(
                    status.starts_with('4') || status == "505",
                    "{what}: answered {status}"
                );
            }
        }
        let health = reqwest::Client::new()
            .get(app.at("/healthz"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("after {what}: /healthz unreachable: {e}"));
        assert_eq!(health.status(), 200, "after {what}: /healthz");
        assert_eq!(
            app.stored_requests().await,
            good,
            "after {what}: nothing (no partial request) was stored"
        );
        assert_capture_works(&url).await;
        good += 1;
    }
    assert_eq!(app.stored_requests().await, good);
}

/// A normal capture still answers 200 with a request id.
async fn assert_capture_works(url: &str) {
    let r = reqwest::Client::new()
        .post(format!("{url}/after"))
        .header("content-type", "text/plain")
        .body("still alive")
        .send()
        .await
        .expect("capture after bad input");
    assert_eq!(r.status(), 200, "a normal capture still works");
    assert!(r.headers().contains_key("x-hookvault-request-id"));
}
